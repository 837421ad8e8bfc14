/* OM(m)'s and SM(m)'s report: per-trial records gathered on rank 0, IC1 and IC2 judged there, printed, written to /byz and /byz_oral. */
#include "consensus/byz_report.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consensus/cs_error.h"
#include "consensus/proto_sm.h"

/* A record's or the results' per-trial columns live in one block: the 8-byte columns first, then
 * the 4-byte, then the 1-byte ones, so that every column is aligned, and one free releases all. */
static void *carve(uint8_t **at, size_t bytes) {
  void *p = *at;
  *at += bytes;
  return p;
}

int byz_record_init(byz_record *rec, int64_t trials, int m) {
  memset(rec, 0, sizeof *rec);
  size_t T = (size_t)(trials > 0 ? trials : 1);
  rec->trials = trials;
  rec->oral_width = ORAL_PATH + m + 1;
  if (!(rec->block = calloc(T, 8 * sizeof(int64_t) + 1))) return CS_ENOMEM;
  uint8_t *at = rec->block;
  rec->oral_sent = carve(&at, T * sizeof(int64_t));
  rec->mpi_sent = carve(&at, T * sizeof(int64_t));
  rec->bytes_sent = carve(&at, T * sizeof(int64_t));
  rec->rejected = carve(&at, T * sizeof(int64_t));
  rec->sig_made = carve(&at, T * sizeof(int64_t));
  rec->sig_verified = carve(&at, T * sizeof(int64_t));
  rec->refused = carve(&at, T * sizeof(int64_t));
  rec->seconds = carve(&at, T * sizeof(double));
  rec->decision = carve(&at, T);
  return 0;
}

void byz_record_free(byz_record *rec) {
  free(rec->block);
  free(rec->oral_log);
  memset(rec, 0, sizeof *rec);
}

int byz_record_oral(byz_record *rec, const int64_t *fields, const int *path, int path_len) {
  int width = rec->oral_width;
  if (rec->oral_rows == rec->oral_cap) {
    int64_t cap = rec->oral_cap ? 2 * rec->oral_cap : 1024;
    int64_t *p = realloc(rec->oral_log, (size_t)(cap * width) * sizeof *p);
    if (!p) return CS_ENOMEM;
    rec->oral_log = p;
    rec->oral_cap = cap;
  }
  int64_t *row = rec->oral_log + rec->oral_rows++ * width;
  memcpy(row, fields, ORAL_PATH * sizeof *row);
  for (int t = ORAL_PATH; t < width; t++) row[t] = t - ORAL_PATH < path_len ? path[t - ORAL_PATH] : -1;
  return 0;
}

void byz_results_free(byz_results *r) {
  free(r->block);
  memset(r, 0, sizeof *r);
}

/* A general that crashes within a trial (--crash R@T, T ≤ m) is faulty, like a traitor. */
static int crashes(const cs_config *cfg, int r) {
  return cfg->faults.crash_at && cfg->faults.crash_at[r] >= 0 && cfg->faults.crash_at[r] <= cfg->m;
}

static int faulty(const cs_config *cfg, const uint8_t *traitor, int r) { return traitor[r] || crashes(cfg, r); }

/* The gather, in steps: 1. each general packs its eight numbers per trial; 2. rank 0 receives
 * every general's, and the seconds; 3. rank 0 recomputes each trial's traitors and judges
 * IC1 (every loyal lieutenant decides alike) and IC2 (they obey a loyal commander). */
enum { PACKED = 8 };

int byz_gather(node *nd, const cs_config *cfg, const byz_record *rec, int64_t trials, byz_results *res) {
  int64_t T = trials, n = cfg->n_ranks;
  int root = node_rank(nd) == 0, commander = cfg->commander;
  memset(res, 0, sizeof *res);
  res->T = T; /* every rank: the file's tables have T rows on all of them */
  res->n = (int)n;
  int64_t *mine = malloc((size_t)(PACKED * (T ? T : 1)) * sizeof *mine), *all = NULL; /* 1 */
  double *all_s = NULL;
  if (!mine) return CS_ENOMEM;
  for (int64_t t = 0; t < T; t++) {
    int64_t *row = mine + PACKED * t;
    row[0] = rec->decision[t];
    row[1] = rec->oral_sent[t];
    row[2] = rec->mpi_sent[t];
    row[3] = rec->bytes_sent[t];
    row[4] = rec->rejected[t];
    row[5] = rec->sig_made[t];
    row[6] = rec->sig_verified[t];
    row[7] = rec->refused[t];
  }
  if (root) {
    size_t Tn = (size_t)(T * n > 0 ? T * n : 1), T1 = (size_t)(T > 0 ? T : 1);
    all = malloc(PACKED * Tn * sizeof *all);
    all_s = malloc(Tn * sizeof *all_s);
    res->block = calloc(1, T1 * (8 * sizeof(int64_t) + sizeof(int32_t) + 3) + 3 * Tn);
    if (!all || !all_s || !res->block) cs_fatal("gathering byz results", CS_ENOMEM);
    uint8_t *at = res->block; /* the columns, as carve lays them out */
    res->oral = carve(&at, T1 * sizeof(int64_t));
    res->mpi = carve(&at, T1 * sizeof(int64_t));
    res->bytes = carve(&at, T1 * sizeof(int64_t));
    res->rejected = carve(&at, T1 * sizeof(int64_t));
    res->sig_made = carve(&at, T1 * sizeof(int64_t));
    res->sig_verified = carve(&at, T1 * sizeof(int64_t));
    res->refused = carve(&at, T1 * sizeof(int64_t));
    res->seconds = carve(&at, T1 * sizeof(double));
    res->commander = carve(&at, T1 * sizeof(int32_t));
    res->order = carve(&at, T1);
    res->ic1 = carve(&at, T1);
    res->ic2 = carve(&at, T1);
    res->decision = carve(&at, Tn);
    res->strategy = carve(&at, Tn);
    res->traitor = carve(&at, Tn);
  }
  int rc = node_gather_i64(nd, mine, (int)(PACKED * T), all); /* 2 */
  if (!rc) rc = node_gather_f64(nd, rec->seconds, (int)T, all_s);
  free(mine);
  if (rc || !root) {
    free(all);
    free(all_s);
    return rc;
  }
  uint8_t *traitor = malloc((size_t)n); /* 3 */
  if (!traitor) cs_fatal("gathering byz results", CS_ENOMEM);
  for (int64_t t = 0; t < T; t++) {
    byz_traitors_of_trial(cfg, t, traitor);
    res->commander[t] = commander;
    res->order[t] = (int8_t)cfg->order;
    int loyal_value = -1, ic1 = 1, ic2 = 1;
    for (int64_t r = 0; r < n; r++) {
      const int64_t *row = all + PACKED * (r * T + t);
      int8_t d = (int8_t)row[0];
      res->decision[t * n + r] = d;
      res->traitor[t * n + r] = traitor[r];
      res->strategy[t * n + r] = traitor[r] ? (int8_t)cfg->strategy_of[r] : -1;
      res->oral[t] += row[1];
      res->mpi[t] += row[2];
      res->bytes[t] += row[3];
      res->sig_made[t] += row[5];
      res->sig_verified[t] += row[6];
      if (!traitor[r]) res->rejected[t] += row[4];
      if (!traitor[r]) res->refused[t] += row[7];
      if (all_s[r * T + t] > res->seconds[t]) res->seconds[t] = all_s[r * T + t];
      if (r == commander || faulty(cfg, traitor, (int)r)) continue; /* judged: loyal and not crashed */
      if (loyal_value < 0) loyal_value = d;
      else if (d != loyal_value) ic1 = 0;
      if (!faulty(cfg, traitor, commander) && d != cfg->order) ic2 = 0;
    }
    res->ic1[t] = (uint8_t)ic1;
    res->ic2[t] = (uint8_t)ic2;
  }
  free(traitor);
  free(all);
  free(all_s);
  return 0;
}

static const char *value_name(int v) { return v == BYZ_ATTACK ? "ATTACK" : "RETREAT"; }

void byz_print(const cs_config *cfg, const byz_results *res, double total_s) {
  int n = cfg->n_ranks, m = cfg->m, commander = cfg->commander;
  int sm = cfg->algorithm == BYZ_SM;
  int64_t T = res->T, closed = sm ? sm_closed_form(n, m) : byz_closed_form(n, m);
  printf("%s(%d) among %d generals: commander %d, order %s, %s %s, seed %" PRIu64 ", %" PRId64 " trial%s\n",
         sm ? "SM" : "OM", m, n, commander, value_name(cfg->order), sm ? "signatures" : "wire",
         sm ? "ed25519" : cli_wire_name(cfg->wire), cfg->seed, T, T == 1 ? "" : "s");
  int t_max = 0; /* the most faulty generals (traitors or crashed) of any trial */
  for (int64_t t = 0; t < T; t++) {
    int count = 0;
    for (int r = 0; r < n; r++) count += res->traitor[t * n + r] || crashes(cfg, r);
    if (count > t_max) t_max = count;
  }
  if (!sm && n < 3 * m + 1)
    printf("WARNING: n = %d < 3m+1 = %d: OM(%d) cannot guarantee agreement with %d generals; this run shows what "
           "happens.\n", n, 3 * m + 1, m, n);
  if (t_max > m)
    printf("WARNING: %d faulty generals > m = %d: %s(%d) tolerates at most %d; this run shows what happens.\n", t_max,
           m, sm ? "SM" : "OM", m, m);
  int64_t ic1 = 0, ic2 = 0, both = 0, oral = 0, mpi = 0, bytes = 0, rejected = 0, made = 0, verified = 0, refused = 0;
  for (int64_t t = 0; t < T; t++) {
    ic1 += res->ic1[t];
    ic2 += res->ic2[t];
    both += res->ic1[t] && res->ic2[t];
    oral += res->oral[t];
    mpi += res->mpi[t];
    bytes += res->bytes[t];
    rejected += res->rejected[t];
    made += res->sig_made[t];
    verified += res->sig_verified[t];
    refused += res->refused[t];
    if (T > 10 || cfg->quiet) continue;
    printf("trial %" PRId64 ": traitors:", t);
    int any = 0;
    for (int r = 0; r < n; r++)
      if (res->traitor[t * n + r]) {
        printf(" %d (%s)", r, cli_strategy_name((byz_strategy)res->strategy[t * n + r]));
        any = 1;
      }
    printf("%s\n", any ? "" : " none");
    for (int r = 0; r < n; r++) {
      int traitor = res->traitor[t * n + r];
      const char *crashed = crashes(cfg, r) ? " (crashed)" : "";
      if (r == commander)
        printf("  general %3d  commander%s  orders %s%s\n", r, traitor ? " (traitor) " : "           ",
               value_name(cfg->order), crashed);
      else
        printf("  general %3d  lieutenant%s decides %s%s\n", r, traitor ? " (traitor)" : "          ",
               value_name(res->decision[t * n + r]), crashed);
    }
    printf("  IC1 (all loyal lieutenants agree): %s\n", res->ic1[t] ? "holds" : "VIOLATED");
    if (res->traitor[t * n + commander] || crashes(cfg, commander))
      printf("  IC2 (loyal lieutenants obey a loyal commander): holds (the commander is %s)\n",
             res->traitor[t * n + commander] ? "a traitor" : "crashed");
    else
      printf("  IC2 (loyal lieutenants obey a loyal commander): %s\n", res->ic2[t] ? "holds" : "VIOLATED");
    if (sm)
      printf("  signatures made %" PRId64 ", verified %" PRId64 ", chains refused %" PRId64 " (at most %" PRId64
             " signed messages from the loyal)\n",
             res->sig_made[t], res->sig_verified[t], res->refused[t], sm_message_bound(n, m));
    printf("  %s messages %" PRId64 " (closed form %" PRId64 "), MPI messages %" PRId64 ", %" PRId64
           " bytes, rejected %" PRId64 ", %.6f s\n",
           sm ? "signed" : "oral", res->oral[t], closed, res->mpi[t], res->bytes[t], res->rejected[t], res->seconds[t]);
  }
  if (T > 1 || cfg->quiet) {
    printf("summary: IC1 held in %" PRId64 " of %" PRId64 " trials, IC2 in %" PRId64 ", both in %" PRId64 "\n", ic1, T,
           ic2, both);
    if (sm)
      printf("  signatures made %" PRId64 ", verified %" PRId64 ", chains refused %" PRId64 " (at most %" PRId64
             " signed messages per trial from the loyal)\n", made, verified, refused, sm_message_bound(n, m));
    printf("  %s messages %" PRId64 " (closed form %" PRId64 " per trial), MPI messages %" PRId64 ", %" PRId64
           " bytes, rejected %" PRId64 "\n", sm ? "signed" : "oral", oral, closed, mpi, bytes, rejected);
  }
  printf("  %.3f s in all, %.3g %s messages per second\n", total_s, total_s > 0 ? (double)oral / total_s : 0.0,
         sm ? "signed" : "oral");
}

/* ---- the file ------------------------------------------------------------------------------------ */

/* One column of a table: every table of /byz and /byz_oral is written through write_columns. */
typedef struct column {
  const char *name;
  h5out_type type;
  int64_t width; /* values per row */
  const void *data;
  const char *unit;
} column;

static int write_columns(h5out *out, const char *group, int64_t rows, const column *cols, size_t k) {
  for (size_t c = 0; c < k; c++)
    CS_TRY(h5out_table(out, group, cols[c].name, cols[c].type, rows, cols[c].width, cols[c].data, cols[c].unit));
  return 0;
}

/* "loyal=-1,flip=0,split=1,…" from the one table of strategy names (cli.c). */
static void strategy_codes(char *buf, size_t cap) {
  size_t used = (size_t)snprintf(buf, cap, "loyal=-1");
  for (int s = 0; s < BYZ_STRATEGY_COUNT && used < cap; s++)
    used += (size_t)snprintf(buf + used, cap - used, ",%s=%d", cli_strategy_name((byz_strategy)s), s);
}

int byz_write(h5out *out, const cs_config *cfg, const byz_results *res) {
  int64_t T = res->T, n = cfg->n_ranks;
  const char *g = "/byz";
  const column cols[] = {
      {"commander", H5OUT_I32, 1, res->commander, NULL}, {"order", H5OUT_I8, 1, res->order, NULL},
      {"traitor", H5OUT_U8, n, res->traitor, NULL},      {"decision", H5OUT_I8, n, res->decision, NULL},
      {"strategy", H5OUT_I8, n, res->strategy, NULL},    {"ic1", H5OUT_U8, 1, res->ic1, NULL},
      {"ic2", H5OUT_U8, 1, res->ic2, NULL},              {"oral_messages", H5OUT_I64, 1, res->oral, NULL},
      {"mpi_messages", H5OUT_I64, 1, res->mpi, NULL},    {"bytes", H5OUT_I64, 1, res->bytes, NULL},
      {"rejected", H5OUT_I64, 1, res->rejected, NULL},   {"seconds", H5OUT_F64, 1, res->seconds, "s"}};
  CS_TRY(write_columns(out, g, T, cols, sizeof cols / sizeof cols[0]));
  int sm = cfg->algorithm == BYZ_SM;
  if (sm) {
    const column sig_cols[] = {{"signatures_made", H5OUT_I64, 1, res->sig_made, NULL},
                               {"signatures_verified", H5OUT_I64, 1, res->sig_verified, NULL},
                               {"refused", H5OUT_I64, 1, res->refused, NULL}};
    CS_TRY(write_columns(out, g, T, sig_cols, sizeof sig_cols / sizeof sig_cols[0]));
  }
  CS_TRY(h5out_attr_string(out, g, "algorithm", cli_algorithm_name(cfg->algorithm)));
  CS_TRY(h5out_attr_string(out, g, "signature", sm ? "ed25519" : "none"));
  char codes[256];
  strategy_codes(codes, sizeof codes);
  CS_TRY(h5out_attr_int(out, g, "m", cfg->m));
  CS_TRY(h5out_attr_string(out, g, "wire", sm ? "message" : cli_wire_name(cfg->wire))); /* SM: one per signed message */
  CS_TRY(h5out_attr_int(out, g, "default_value", BYZ_RETREAT));
  CS_TRY(h5out_attr_int(out, g, "closed_form", sm ? sm_closed_form(cfg->n_ranks, cfg->m)
                                                   : byz_closed_form(cfg->n_ranks, cfg->m)));
  CS_TRY(h5out_attr_string(out, g, "values", "RETREAT=0,ATTACK=1"));
  CS_TRY(h5out_attr_string(out, g, "strategy_codes", codes));
  return 0;
}

int byz_write_oral(h5out *out, node *nd, const cs_config *cfg, const byz_record *rec) {
  int width = rec->oral_width, m = cfg->m;
  int64_t *all = NULL, total = 0, rows = 0;
  CS_TRY(node_allreduce_i64(nd, &rec->oral_rows, 1, &rows, 0));
  CS_TRY(node_gatherv_i64(nd, rec->oral_log, rec->oral_rows * width, &all, &total));
  size_t R = (size_t)(rows ? rows : 1);
  int64_t *trial = malloc(R * sizeof *trial), *seq = malloc(R * sizeof *seq);
  int32_t *round = malloc(R * sizeof *round), *src = malloc(R * sizeof *src), *dst = malloc(R * sizeof *dst);
  int32_t *path = malloc(R * (size_t)(m + 1) * sizeof *path);
  int8_t *value = malloc(R);
  if (!trial || !seq || !round || !src || !dst || !path || !value) cs_fatal("writing /byz_oral", CS_ENOMEM);
  for (int64_t k = 0; all && k < rows; k++) { /* rank 0 has every row; the others write nothing */
    const int64_t *row = all + k * width;
    trial[k] = row[ORAL_TRIAL];
    seq[k] = row[ORAL_SEND_SEQ];
    round[k] = (int32_t)row[ORAL_ROUND];
    src[k] = (int32_t)row[ORAL_SRC];
    dst[k] = (int32_t)row[ORAL_DST];
    value[k] = (int8_t)row[ORAL_VALUE];
    for (int t = 0; t <= m; t++) path[k * (m + 1) + t] = (int32_t)row[ORAL_PATH + t];
  }
  const column cols[] = {{"trial", H5OUT_I64, 1, trial, NULL}, {"send_seq", H5OUT_I64, 1, seq, NULL},
                         {"round", H5OUT_I32, 1, round, NULL}, {"src", H5OUT_I32, 1, src, NULL},
                         {"dst", H5OUT_I32, 1, dst, NULL},     {"value", H5OUT_I8, 1, value, NULL},
                         {"path", H5OUT_I32, m + 1, path, NULL}};
  int rc = write_columns(out, "/byz_oral", rows, cols, sizeof cols / sizeof cols[0]);
  free(all);
  free(trial);
  free(seq);
  free(round);
  free(src);
  free(dst);
  free(path);
  free(value);
  return rc;
}

int byz_check_common_size(const cs_config *cfg, char *err, size_t cap) {
  int n = cfg->n_ranks;
  if (n > 65535) {
    snprintf(err, cap, "consensus byz: at most 65535 generals (this run has %d)", n);
    return CS_EUSAGE;
  }
  if (cfg->trials > INT32_MAX / 8 || cfg->trials * (int64_t)n > INT64_C(200000000)) {
    snprintf(err, cap, "consensus byz: %" PRId64 " trials of %d generals is more than one run records", cfg->trials, n);
    return CS_EUSAGE;
  }
  return 0;
}

int byz_report_run(cs_run *run, const byz_record *rec, int64_t finished, int traitor_ever, double total_s,
                   int with_oral) {
  const cs_config *cfg = run_config(run);
  node *nd = run_node(run);
  int rank = run_rank(run), rc;
  int64_t minus_finished = -finished, minus_fewest = 0; /* 1: min = −max(−x) */
  if ((rc = node_allreduce_i64(nd, &minus_finished, 1, &minus_fewest, 1))) cs_fatal("agreeing on trials", rc);
  byz_results res; /* 2 */
  if ((rc = byz_gather(nd, cfg, rec, -minus_fewest, &res))) cs_fatal("gathering results", rc);
  if (rank == 0) {
    byz_print(cfg, &res, total_s);
    fflush(stdout);
  }
  run_checked_write(byz_write(run_out(run), cfg, &res), "writing /byz");
  if (with_oral) run_checked_write(byz_write_oral(run_out(run), nd, cfg, rec), "writing /byz_oral");
  int64_t violated = 0, violated_all = 0; /* 3 */
  for (int64_t t = 0; rank == 0 && t < res.T; t++) violated += !(res.ic1[t] && res.ic2[t]);
  byz_results_free(&res);
  if ((rc = node_allreduce_i64(nd, &violated, 1, &violated_all, 1))) cs_fatal("sharing the verdict", rc);
  run_set_traitor(run, traitor_ever);
  if (cfg->expect_agreement && violated_all > 0 && rank == 0)
    fprintf(stderr, "consensus byz: agreement was expected but IC1 or IC2 failed in %" PRId64 " trial%s\n",
            violated_all, violated_all == 1 ? "" : "s");
  return cfg->expect_agreement && violated_all > 0 ? CS_EXIT_DISAGREED : CS_EXIT_OK;
}

/* The median of v[0..k) (k >= 1), sorting v in place (a handful of trials: insertion sort). */
static double median_in_place(double *v, int64_t k) {
  for (int64_t i = 1; i < k; i++)
    for (int64_t j = i; j > 0 && v[j - 1] > v[j]; j--) {
      double tmp = v[j];
      v[j] = v[j - 1];
      v[j - 1] = tmp;
    }
  return k % 2 ? v[k / 2] : 0.5 * (v[k / 2 - 1] + v[k / 2]);
}

int byz_report_summary(node *nd, const cs_config *cfg, const byz_record *rec, int64_t trials, int rc, double my_s,
                       byz_summary *out) {
  byz_results res;
  memset(&res, 0, sizeof res);
  if (node_agree_status(nd, rc) == 0) rc = byz_gather(nd, cfg, rec, trials, &res); /* 1, 2 */
  int64_t mine = (int64_t)(my_s * 1e9), slowest = 0;
  if (!rc) rc = node_allreduce_i64(nd, &mine, 1, &slowest, 1);
  if (!rc && node_rank(nd) == 0) { /* 3 */
    out->agreed = 1;
    for (int64_t t = 0; t < res.T; t++) {
      out->oral_messages += res.oral[t];
      out->mpi_messages += res.mpi[t];
      out->bytes += res.bytes[t];
      out->signatures_made += res.sig_made[t];
      out->signatures_verified += res.sig_verified[t];
      out->agreed &= res.ic1[t] && res.ic2[t];
    }
    out->seconds = (double)slowest * 1e-9;
    out->first_seconds = out->warm_seconds = res.T > 0 ? res.seconds[0] : 0;
    if (res.T > 1) out->warm_seconds = median_in_place(res.seconds + 1, res.T - 1); /* trials 1..T−1 */
  }
  byz_results_free(&res);
  return rc;
}
