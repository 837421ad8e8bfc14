/* Replays a script of sends on the node runtime, in script order, and prints every event's vector clock. */
#include "consensus/proto_replay.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consensus/cs_error.h"
#include "consensus/node.h"
#include "consensus/run.h"

/* ---- parsing ------------------------------------------------------------------------------------ */

typedef struct cursor {
  const char *p;
  const char *end;
} cursor;

static void skip_space(cursor *c) {
  while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\r')) c->p++;
}

/* A rank name: one letter (A..Z, case-insensitive) or a decimal number. Returns -1 if none,
 * -2 for a number too large. Sets *letter when a letter was used. */
static int parse_rank(cursor *c, int *letter, int *digits) {
  skip_space(c);
  if (c->p < c->end && isalpha((unsigned char)*c->p)) {
    int r = toupper((unsigned char)*c->p) - 'A';
    c->p++;
    if (c->p < c->end && isalnum((unsigned char)*c->p)) return -1; /* "AB" or "internal" */
    *letter = 1;
    return r;
  }
  if (c->p < c->end && isdigit((unsigned char)*c->p)) {
    long v = 0;
    while (c->p < c->end && isdigit((unsigned char)*c->p)) {
      v = v * 10 + (*c->p - '0');
      if (v > 1000000) return -2;
      c->p++;
    }
    *digits = 1;
    return (int)v;
  }
  return -1;
}

static int script_error(char *err, size_t cap, int line, const char *fmt, const char *detail) {
  char msg[256];
  snprintf(msg, sizeof msg, fmt, detail);
  snprintf(err, cap, "line %d: %s", line, msg);
  return CS_ESCRIPT;
}

static int add_step(replay_script *s, const replay_step *step) {
  replay_step *a = realloc(s->steps, (size_t)(s->n_steps + 1) * sizeof *a);
  if (!a) return CS_ENOMEM;
  s->steps = a;
  s->steps[s->n_steps++] = *step;
  return 0;
}

void replay_rank_name(const replay_script *s, int rank, char *buf, size_t cap) {
  if (s->uses_letters && rank < 26) snprintf(buf, cap, "%c", 'A' + rank);
  else snprintf(buf, cap, "%d", rank);
}

/* "unknown rank X: the run has N ranks (up to Y)" for line `line`. */
static int unknown_rank(char *err, size_t cap, int line, int letters, int rank, int n_ranks) {
  replay_script style = {.uses_letters = letters};
  char name[32], last[32], detail[160];
  replay_rank_name(&style, rank, name, sizeof name);
  replay_rank_name(&style, n_ranks - 1, last, sizeof last);
  snprintf(detail, sizeof detail, "unknown rank %s: the run has %d ranks (up to %s)", name, n_ranks, last);
  return script_error(err, cap, line, "%s", detail);
}

/* One line, in steps: 1. cut the comment; 2. blank → nothing; 3. SRC; 4. ":internal" or
 * "->" DST {"," DST}; 5. nothing may follow; 6. ranks exist, no self-send, no repeats, one
 * naming style (letters or numbers). *style is 1 for letters, 2 for numbers, 0 for a blank line. */
static int parse_line(replay_script *s, int line, cursor c, int n_ranks, int *style, char *err, size_t cap) {
  const char *hash = memchr(c.p, '#', (size_t)(c.end - c.p));
  if (hash) c.end = hash;
  *style = 0;
  skip_space(&c);
  if (c.p == c.end) return 0;
  int letter = 0, digits = 0;
  replay_step step = {.line = line};
  int src = parse_rank(&c, &letter, &digits);
  if (src < 0) return script_error(err, cap, line, "expected a rank (A, B, … or 0, 1, …) at the start%s", "");
  if (src >= n_ranks) return unknown_rank(err, cap, line, letter, src, n_ranks);
  step.src = src;
  skip_space(&c);
  if (c.p < c.end && *c.p == ':') {
    c.p++;
    skip_space(&c);
    const char *word = c.p;
    while (c.p < c.end && isalpha((unsigned char)*c.p)) c.p++;
    if ((size_t)(c.p - word) != 8 || strncmp(word, "internal", 8) != 0)
      return script_error(err, cap, line, "expected 'internal' after ':'%s", "");
    step.kind = REPLAY_INTERNAL;
  } else if (c.end - c.p >= 2 && c.p[0] == '-' && c.p[1] == '>') {
    c.p += 2;
    step.kind = REPLAY_SEND;
    if (!(step.dsts = malloc((size_t)n_ranks * sizeof *step.dsts))) return CS_ENOMEM;
    for (;;) {
      int rc = 0, d = parse_rank(&c, &letter, &digits);
      replay_script named = {.uses_letters = letter};
      char name[32];
      replay_rank_name(&named, d, name, sizeof name);
      if (d < 0) rc = script_error(err, cap, line, "expected a destination rank after '->' or ','%s", "");
      else if (d >= n_ranks) rc = unknown_rank(err, cap, line, letter, d, n_ranks);
      else if (d == src) rc = script_error(err, cap, line, "%s sends to itself", name);
      for (int k = 0; !rc && k < step.n_dsts; k++)
        if (step.dsts[k] == d) rc = script_error(err, cap, line, "%s is named twice as a destination", name);
      if (rc) {
        free(step.dsts);
        return rc;
      }
      step.dsts[step.n_dsts++] = d;
      skip_space(&c);
      if (c.p < c.end && *c.p == ',') {
        c.p++;
        continue;
      }
      break;
    }
  } else {
    return script_error(err, cap, line, "expected '->' or ':internal' after the first rank%s", "");
  }
  skip_space(&c);
  int rc = 0;
  if (c.p != c.end) rc = script_error(err, cap, line, "unexpected text after the step: '%.40s'", c.p);
  else if (letter && digits) rc = script_error(err, cap, line, "mixes letters and numbers as rank names%s", "");
  if (!rc) {
    *style = letter ? 1 : 2;
    for (int k = 0; k < step.n_dsts; k++)
      if (step.dsts[k] + 1 > s->n_ranks_named) s->n_ranks_named = step.dsts[k] + 1;
    if (src + 1 > s->n_ranks_named) s->n_ranks_named = src + 1;
    rc = add_step(s, &step);
  }
  if (rc) free(step.dsts);
  return rc;
}

int replay_parse(const char *text, int n_ranks, replay_script *out, char *err, size_t errcap) {
  memset(out, 0, sizeof *out);
  int line = 1, rc = 0, first_style = 0;
  for (const char *p = text;; line++) {
    const char *nl = strchr(p, '\n');
    cursor c = {p, nl ? nl : p + strlen(p)};
    int style = 0;
    if ((rc = parse_line(out, line, c, n_ranks, &style, err, errcap))) break;
    if (style && !first_style) first_style = style;
    if (style && style != first_style) {
      rc = script_error(err, errcap, line, "names ranks differently from the lines before (letters vs numbers)%s", "");
      break;
    }
    if (!nl) break;
    p = nl + 1;
  }
  out->uses_letters = first_style == 1;
  if (!rc && out->n_steps == 0) {
    snprintf(err, errcap, "the script has no steps (lines like C->B, A->B,C or B:internal)");
    rc = CS_ESCRIPT;
  }
  if (!rc && out->n_ranks_named != n_ranks) {
    char last[32];
    replay_rank_name(out, out->n_ranks_named - 1, last, sizeof last);
    snprintf(err, errcap, "the script names %d ranks (up to %s) but the run has %d: use mpirun -np %d",
             out->n_ranks_named, last, n_ranks, out->n_ranks_named);
    rc = CS_ESCRIPT;
  }
  if (rc) replay_free(out);
  return rc;
}

void replay_free(replay_script *s) {
  for (int k = 0; k < s->n_steps; k++) free(s->steps[k].dsts);
  free(s->steps);
  memset(s, 0, sizeof *s);
}

/* ---- the protocol --------------------------------------------------------------------------------- */

typedef struct replay_state {
  const replay_script *script;
  int rank;
  int next; /* index of the next step this rank takes part in (n_steps: done) */
} replay_state;

static int involves(const replay_step *st, int rank) {
  if (st->src == rank) return 1;
  for (int k = 0; k < st->n_dsts; k++)
    if (st->dsts[k] == rank) return 1;
  return 0;
}

/* Moves to the next step this rank takes part in. */
static void advance(replay_state *s) {
  s->next++;
  while (s->next < s->script->n_steps && !involves(&s->script->steps[s->next], s->rank)) s->next++;
}

/* Only the message of the current step, from its sender, may be taken: script order. */
static int replay_accepts(void *state, const node *nd, const node_message *msg) {
  (void)nd;
  replay_state *s = state;
  if (s->next >= s->script->n_steps) return 0;
  const replay_step *st = &s->script->steps[s->next];
  return st->kind == REPLAY_SEND && st->src != s->rank && msg->src == st->src;
}

static int replay_on_receive(void *state, node *nd, const node_message *msg) {
  (void)nd;
  (void)msg;
  advance(state);
  return 0;
}

/* Our step: send (one event, even to several) or internal. Someone else's: wait for it. */
static int replay_on_idle(void *state, node *nd) {
  replay_state *s = state;
  if (s->next >= s->script->n_steps) return 0;
  const replay_step *st = &s->script->steps[s->next];
  if (st->src != s->rank) return 0;
  int rc;
  if (st->kind == REPLAY_INTERNAL) rc = node_internal(nd);
  else rc = node_multicast(nd, st->dsts, st->n_dsts, NULL, 0);
  if (!rc) advance(s);
  return rc;
}

static int replay_is_finished(void *state, const node *nd) {
  (void)nd;
  const replay_state *s = state;
  return s->next >= s->script->n_steps;
}

/* Prints every event in script order (each rank's events are in script order, so one cursor
 * per rank finds them), then every rank's final clock. */
static void print_replay(const replay_script *sc, const node_gathered *g, int n, const char *path) {
  int64_t *next_of = calloc((size_t)n, sizeof *next_of), *start = calloc((size_t)n, sizeof *start);
  char name[32], vc[1024], step_text[256];
  if (!next_of || !start) {
    free(next_of);
    free(start);
    return;
  }
  for (int r = 1; r < n; r++) start[r] = start[r - 1] + g->count[r - 1];
  int sends = 0;
  for (int k = 0; k < sc->n_steps; k++) sends += sc->steps[k].kind == REPLAY_SEND;
  printf("replay %s: %d ranks, %d steps (%d sends)\n", path, n, sc->n_steps, sends);
  for (int k = 0; k < sc->n_steps; k++) {
    const replay_step *st = &sc->steps[k];
    size_t used = 0;
    replay_rank_name(sc, st->src, name, sizeof name);
    used += (size_t)snprintf(step_text + used, sizeof step_text - used, "%s%s", name,
                             st->kind == REPLAY_INTERNAL ? ":internal" : "->");
    for (int d = 0; d < st->n_dsts && used < sizeof step_text; d++) {
      replay_rank_name(sc, st->dsts[d], name, sizeof name);
      used += (size_t)snprintf(step_text + used, sizeof step_text - used, "%s%s", d ? "," : "", name);
    }
    for (int j = -1; j < st->n_dsts; j++) {
      int r = j < 0 ? st->src : st->dsts[j];
      int64_t row = start[r] + next_of[r]++;
      replay_rank_name(sc, r, name, sizeof name);
      const char *what = g->kind[row] == 0 ? "internal" : g->kind[row] == 1 ? "send" : "recv";
      vclock_format(g->vc + row * n, (size_t)n, vc, sizeof vc);
      if (j < 0) printf("line %3d  %-12s %-3s %-8s L=%-4lld %s\n", st->line, step_text, name, what,
                        (long long)g->lamport[row], vc);
      else printf("          %-12s %-3s %-8s L=%-4lld %s\n", "", name, what, (long long)g->lamport[row], vc);
    }
  }
  printf("final clocks:\n");
  for (int r = 0; r < n; r++) {
    replay_rank_name(sc, r, name, sizeof name);
    if (g->count[r] == 0) {
      printf("  %-3s L=%-4d %s\n", name, 0, "(no events)");
      continue;
    }
    int64_t last = start[r] + g->count[r] - 1;
    vclock_format(g->vc + last * n, (size_t)n, vc, sizeof vc);
    printf("  %-3s L=%-4lld %s\n", name, (long long)g->lamport[last], vc);
  }
  free(next_of);
  free(start);
}

int replay_main(MPI_Comm comm, const cs_config *cfg) {
  char err[1024] = "", line[1200];
  char *text = NULL;
  replay_script script;
  int n = cfg->n_ranks, rank = 0, rc;
  MPI_Comm_rank(comm, &rank);
  /* 1. Read and check the script before anything runs. */
  rc = node_read_shared_file(comm, cfg->script_path, REPLAY_MAX_SCRIPT_BYTES, &text, err, sizeof err);
  if (!rc) {
    rc = replay_parse(text, n, &script, err, sizeof err);
    if (rc == CS_ENOMEM) cs_fatal("parsing the script", rc);
  }
  free(text);
  if (rc) {
    snprintf(line, sizeof line, "consensus replay: %s: %s", cfg->script_path, err);
    run_usage_error(rank, line);
    return CS_EXIT_USAGE;
  }
  /* 2. Open the run and replay: every rank walks the script, taking part where it is named. */
  cs_run run;
  node_options opt = run_node_options(cfg, rank);
  if ((rc = run_begin(comm, cfg, &opt, &run))) {
    replay_free(&script);
    return rc;
  }
  replay_state st = {.script = &script, .rank = rank, .next = -1};
  advance(&st);
  node_protocol proto = {.state = &st, .accepts = replay_accepts, .on_receive = replay_on_receive,
                         .on_idle = replay_on_idle, .is_finished = replay_is_finished};
  if ((rc = node_run(run.nd, &proto))) cs_fatal("replaying the script", rc);
  /* 3. Rank 0 prints every event's clocks (when traced and not stopped), then the file is closed. */
  node_stats stats;
  node_get_stats(run.nd, &stats);
  if (cfg->trace && !stats.stopped) {
    node_gathered g;
    if ((rc = node_gather_trace(run.nd, &g))) cs_fatal("gathering the trace", rc);
    if (rank == 0 && !cfg->quiet) print_replay(&script, &g, n, cfg->script_path);
    node_gathered_free(&g);
  }
  const char *path = h5out_path(run.out);
  char saved[4200];
  snprintf(saved, sizeof saved, "%s", path);
  int status = run_end(&run, 0);
  if (rank == 0 && status == 0) printf("wrote %s\n", saved);
  replay_free(&script);
  return status;
}
