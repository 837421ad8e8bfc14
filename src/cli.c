/* Parses and validates the whole command line into a cs_config; the only place options are checked. */
#include "consensus/cli.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "consensus/cs_error.h"
#include "consensus/trace.h"
#include "consensus/rng.h"

#define CMD_BIT(c) (1u << (c))
#define ALL_CMDS (CMD_BIT(CS_CMD_BYZ) | CMD_BIT(CS_CMD_CLOCKS) | CMD_BIT(CS_CMD_REPLAY) | CMD_BIT(CS_CMD_BENCH))
#define RUN_CMDS (CMD_BIT(CS_CMD_BYZ) | CMD_BIT(CS_CMD_CLOCKS) | CMD_BIT(CS_CMD_REPLAY))

typedef enum opt_id {
  OPT_HELP, OPT_VERSION, OPT_OUTPUT, OPT_FORCE, OPT_SEED, OPT_NO_TRACE, OPT_QUIET, OPT_SHOW_H5,
  OPT_SPEEDUP, OPT_RATES, OPT_FLUSH, OPT_DURATION, OPT_P_INTERNAL, OPT_PRESET, OPT_M, OPT_COMMANDER,
  OPT_ORDER, OPT_TRIALS, OPT_TRAITORS, OPT_T, OPT_STRATEGY, OPT_WIRE, OPT_ALGORITHM, OPT_EXPECT, OPT_ITERATIONS,
  OPT_MAX_BYTES, OPT_OM_MAX_ORAL, OPT_HOSTILE, OPT_PROGRESS, OPT_DROP, OPT_DUPLICATE, OPT_DELAY,
  OPT_PARTITION, OPT_CRASH, OPT_COUNT
} opt_id;

typedef struct opt_spec {
  opt_id id;
  const char *long_name;  /* "--seed" */
  const char *short_name; /* "-o" or NULL */
  int takes_value;
  unsigned commands;      /* bit mask of the subcommands that accept it */
} opt_spec;

static const opt_spec OPTIONS[] = {
    {OPT_HELP, "--help", "-h", 0, ALL_CMDS | 1u},
    {OPT_VERSION, "--version", NULL, 0, ALL_CMDS | 1u},
    {OPT_OUTPUT, "--output", "-o", 1, ALL_CMDS},
    {OPT_FORCE, "--force", NULL, 0, ALL_CMDS},
    {OPT_SEED, "--seed", NULL, 1, ALL_CMDS},
    {OPT_NO_TRACE, "--no-trace", NULL, 0, RUN_CMDS},
    {OPT_QUIET, "--quiet", "-q", 0, ALL_CMDS},
    {OPT_PROGRESS, "--progress", NULL, 0, RUN_CMDS},
    {OPT_DROP, "--drop", NULL, 1, RUN_CMDS},
    {OPT_DUPLICATE, "--duplicate", NULL, 1, RUN_CMDS},
    {OPT_DELAY, "--delay", NULL, 1, RUN_CMDS},
    {OPT_PARTITION, "--partition", NULL, 1, RUN_CMDS},
    {OPT_CRASH, "--crash", NULL, 1, RUN_CMDS},
    {OPT_SHOW_H5, "--show-h5-errors", NULL, 0, ALL_CMDS},
    {OPT_SPEEDUP, "--speedup", NULL, 1, RUN_CMDS},
    {OPT_RATES, "--rates", NULL, 1, RUN_CMDS},
    {OPT_FLUSH, "--flush-every", NULL, 1, RUN_CMDS},
    {OPT_DURATION, "--duration", NULL, 1, CMD_BIT(CS_CMD_CLOCKS)},
    {OPT_P_INTERNAL, "--p-internal", NULL, 1, CMD_BIT(CS_CMD_CLOCKS)},
    {OPT_PRESET, "--preset", NULL, 1, CMD_BIT(CS_CMD_CLOCKS)},
    {OPT_M, "--max-traitors", "-m", 1, CMD_BIT(CS_CMD_BYZ)},
    {OPT_COMMANDER, "--commander", NULL, 1, CMD_BIT(CS_CMD_BYZ)},
    {OPT_ORDER, "--order", NULL, 1, CMD_BIT(CS_CMD_BYZ)},
    {OPT_TRIALS, "--trials", NULL, 1, CMD_BIT(CS_CMD_BYZ)},
    {OPT_TRAITORS, "--traitors", NULL, 1, CMD_BIT(CS_CMD_BYZ)},
    {OPT_T, "--n-traitors", "-t", 1, CMD_BIT(CS_CMD_BYZ)},
    {OPT_STRATEGY, "--strategy", NULL, 1, CMD_BIT(CS_CMD_BYZ)},
    {OPT_WIRE, "--wire", NULL, 1, CMD_BIT(CS_CMD_BYZ)},
    {OPT_ALGORITHM, "--algorithm", NULL, 1, CMD_BIT(CS_CMD_BYZ)},
    {OPT_EXPECT, "--expect-agreement", NULL, 0, CMD_BIT(CS_CMD_BYZ)},
    {OPT_HOSTILE, "--hostile", NULL, 1, CMD_BIT(CS_CMD_BYZ) | CMD_BIT(CS_CMD_CLOCKS)},
    {OPT_ITERATIONS, "--iterations", NULL, 1, CMD_BIT(CS_CMD_BENCH)},
    {OPT_MAX_BYTES, "--max-bytes", NULL, 1, CMD_BIT(CS_CMD_BENCH)},
    {OPT_OM_MAX_ORAL, "--om-max-oral", NULL, 1, CMD_BIT(CS_CMD_BENCH)},
};
#define N_OPTIONS (sizeof OPTIONS / sizeof OPTIONS[0])

static const char *const STRATEGY_NAMES[BYZ_STRATEGY_COUNT] = {"flip", "split", "random", "silent", "garbage",
                                                                      "forge"};

/* Parsing state: the config being filled, which options were given, and the error buffer. */
typedef struct parser {
  cs_config *cfg;
  int given[OPT_COUNT];
  char *err;
  size_t errcap;
  char prog[32]; /* "consensus byz" for messages */
  int *strategy_map; /* n_ranks entries: a traitor's own strategy from --strategy R:S, or -1 */
} parser;

static int fail(parser *p, const char *fmt, ...) {
  int w = snprintf(p->err, p->errcap, "%s: ", p->prog);
  if (w < 0 || (size_t)w >= p->errcap) return CS_EUSAGE;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(p->err + w, p->errcap - (size_t)w, fmt, ap);
  va_end(ap);
  return CS_EUSAGE;
}

const char *cli_command_name(cs_command command) {
  switch (command) {
    case CS_CMD_BYZ: return "byz";
    case CS_CMD_CLOCKS: return "clocks";
    case CS_CMD_REPLAY: return "replay";
    case CS_CMD_BENCH: return "bench";
    case CS_CMD_NONE: break;
  }
  return "consensus";
}

const char *cli_strategy_name(byz_strategy s) {
  return (unsigned)s < BYZ_STRATEGY_COUNT ? STRATEGY_NAMES[s] : "unknown";
}

const char *cli_wire_name(byz_wire w) { return w == BYZ_WIRE_MESSAGE ? "message" : "round"; }

const char *cli_algorithm_name(byz_algorithm a) { return a == BYZ_SM ? "sm" : "om"; }

static char *dup_string(const char *s) {
  size_t len = strlen(s) + 1;
  char *d = malloc(len);
  if (d) memcpy(d, s, len);
  return d;
}

/* A comma list with no empty item: not empty, no leading or trailing comma, no ",,". */
static int is_clean_list(const char *text) {
  size_t len = strlen(text);
  return len > 0 && text[0] != ',' && text[len - 1] != ',' && !strstr(text, ",,");
}

/* The one grammar of every number on the command line, integer or real:
 *   [+|-] DIGITS [. DIGITS] [(e|E) [+|-] DIGITS]   or   [+|-] . DIGITS [exponent]
 * so "1e-3", "0.001" and "1000", "1e3", "1.0e3" are all numbers wherever a number is asked for.
 * No spaces, no hexadecimal, no inf or nan (strtod alone would take all of those). Returns 1 if
 * the whole text is one number. */
static int is_number(const char *s) {
  size_t k = 0, digits = 0;
  if (s[k] == '+' || s[k] == '-') k++;
  while (s[k] >= '0' && s[k] <= '9') k++, digits++;
  if (s[k] == '.') {
    k++;
    while (s[k] >= '0' && s[k] <= '9') k++, digits++;
  }
  if (digits == 0) return 0;
  if (s[k] == 'e' || s[k] == 'E') {
    size_t exp_digits = 0;
    k++;
    if (s[k] == '+' || s[k] == '-') k++;
    while (s[k] >= '0' && s[k] <= '9') k++, exp_digits++;
    if (exp_digits == 0) return 0;
  }
  return s[k] == '\0';
}

/* The exact value of a number text (is_number) if it is a whole number: *neg and the magnitude
 * *mag. Works on the decimal digits, never through a double, so 18446744073709551615 and
 * 1.8446744073709551615e19 are exact. Returns 0, -1 if the value is not whole, -2 if its
 * magnitude is above UINT64_MAX. */
static int whole_value(const char *s, int *neg, uint64_t *mag) {
  const char *p = s;
  long nd = 0, point = 0, seen_point = 0, exp10 = 0, first = -1;
  *neg = *p == '-';
  *mag = 0;
  if (*p == '+' || *p == '-') p++;
  const char *mant = p;
  /* 1. the digits: nd of them, `point` after the decimal point, the first non-zero at index `first` */
  for (; (*p >= '0' && *p <= '9') || *p == '.'; p++) {
    if (*p == '.') {
      seen_point = 1;
      continue;
    }
    if (first < 0 && *p != '0') first = nd;
    nd++;
    point += seen_point;
  }
  /* 2. the exponent, saturated: beyond +-100000 it is out of range or a fraction either way */
  if (*p == 'e' || *p == 'E') {
    p++;
    int eneg = *p == '-';
    if (*p == '+' || *p == '-') p++;
    for (; *p >= '0' && *p <= '9'; p++)
      if (exp10 < 100000) exp10 = exp10 * 10 + (*p - '0');
    if (eneg) exp10 = -exp10;
  }
  if (first < 0) return 0; /* zero, in any spelling */
  /* 3. value = digits[first .. nd) x 10^scale; digits dropped by a negative scale must be zeros */
  long scale = exp10 - point, keep = scale < 0 ? nd + scale : nd;
  long index = 0;
  uint64_t v = 0;
  for (const char *q = mant; (*q >= '0' && *q <= '9') || *q == '.'; q++) {
    if (*q == '.') continue;
    unsigned d = (unsigned)(*q - '0');
    if (index >= keep) {
      if (d != 0) return -1; /* a non-zero digit after the units: a fraction */
    } else if (index >= first) {
      if (v > (UINT64_MAX - d) / 10) return -2;
      v = v * 10 + d;
    }
    index++;
  }
  for (long k = 0; scale > 0 && k < scale; k++) {
    if (v > UINT64_MAX / 10) return -2;
    v *= 10;
  }
  *mag = v;
  return 0;
}

/* Strict integer within [lo, hi]: any number form (is_number) whose value is whole. */
static int parse_int(parser *p, const char *opt, const char *text, int64_t lo, int64_t hi, int64_t *out) {
  int neg = 0;
  uint64_t mag = 0;
  int w = is_number(text) ? whole_value(text, &neg, &mag) : -1;
  if (w == -1) return fail(p, "%s: '%s' is not a whole number", opt, text);
  if (w == -2 || (!neg && mag > (uint64_t)INT64_MAX) || (neg && mag > (uint64_t)INT64_MAX + 1u))
    return fail(p, "%s: %s is out of range [%lld, %lld]", opt, text, (long long)lo, (long long)hi);
  int64_t v = neg ? (mag == (uint64_t)INT64_MAX + 1u ? INT64_MIN : -(int64_t)mag) : (int64_t)mag;
  if (v < lo || v > hi) return fail(p, "%s: %s is out of range [%lld, %lld]", opt, text, (long long)lo, (long long)hi);
  *out = v;
  return 0;
}

/* Strict finite real number in the one grammar (is_number); refuses values a double cannot hold
 * (1e400, and 1e-400 which would round to 0). */
static int parse_real(parser *p, const char *opt, const char *text, double *out) {
  char *end = NULL;
  if (!is_number(text)) return fail(p, "%s: '%s' is not a number", opt, text);
  errno = 0;
  double v = strtod(text, &end);
  if (errno == ERANGE) return fail(p, "%s: %s is too %s for a double", opt, text, fabs(v) < 1 ? "small" : "large");
  if (*end != '\0' || !isfinite(v)) return fail(p, "%s: '%s' is not a number", opt, text);
  *out = v;
  return 0;
}

/* Parses "a,b,c" of rank numbers in [0, n) into a new array; rejects duplicates. */
static int parse_rank_list(parser *p, const char *opt, const char *text, int **out, int *count) {
  int n = p->cfg->n_ranks;
  int *ranks = calloc((size_t)n + 1, sizeof *ranks);
  char *copy = dup_string(text);
  int k = 0, rc = 0;
  if (!ranks || !copy) {
    rc = fail(p, "out of memory");
    goto done;
  }
  if (!is_clean_list(text)) {
    rc = fail(p, "%s: '%s' is not a list of ranks like 2,5", opt, text);
    goto done;
  }
  for (char *save = NULL, *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    int64_t r;
    if ((rc = parse_int(p, opt, tok, INT32_MIN, INT32_MAX, &r))) goto done;
    if (r < 0 || r >= n) {
      rc = fail(p, "%s: rank %lld does not exist in a run of %d ranks", opt, (long long)r, n);
      goto done;
    }
    for (int j = 0; j < k; j++)
      if (ranks[j] == r) {
        rc = fail(p, "%s: rank %lld is named twice", opt, (long long)r);
        goto done;
      }
    if (k == n) {
      rc = fail(p, "%s: more ranks than the run has", opt);
      goto done;
    }
    ranks[k++] = (int)r;
  }
  *out = ranks;
  *count = k;
  ranks = NULL;
done:
  free(ranks);
  free(copy);
  return rc;
}

static int parse_strategy_name(parser *p, const char *text, byz_strategy *out) {
  for (int s = 0; s < BYZ_STRATEGY_COUNT; s++)
    if (strcmp(text, STRATEGY_NAMES[s]) == 0) {
      *out = (byz_strategy)s;
      return 0;
    }
  return fail(p, "--strategy: unknown strategy '%s' (flip, split, random, silent, garbage or forge)", text);
}

/* --strategy S, or per traitor R:S,R:S (those ranks become the traitors unless --traitors names them). */
static int parse_strategy(parser *p, const char *text, int **map_ranks, int *map_count) {
  cs_config *cfg = p->cfg;
  if (!strchr(text, ':')) return parse_strategy_name(p, text, &cfg->strategy);
  for (int r = 0; r < cfg->n_ranks; r++) p->strategy_map[r] = -1;
  char *copy = dup_string(text);
  int *ranks = calloc((size_t)cfg->n_ranks + 1, sizeof *ranks);
  int k = 0, rc = 0;
  if (!copy || !ranks) {
    rc = fail(p, "out of memory");
    goto done;
  }
  if (!is_clean_list(text)) {
    rc = fail(p, "--strategy: '%s' is not a strategy or a list like 2:flip,5:silent", text);
    goto done;
  }
  for (char *save = NULL, *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    char *colon = strchr(tok, ':');
    if (!colon) {
      rc = fail(p, "--strategy: '%s' is not RANK:STRATEGY", tok);
      goto done;
    }
    *colon = '\0';
    int64_t r;
    byz_strategy s = BYZ_FLIP;
    if ((rc = parse_int(p, "--strategy", tok, INT32_MIN, INT32_MAX, &r))) goto done;
    if (r < 0 || r >= cfg->n_ranks) {
      rc = fail(p, "--strategy: rank %lld does not exist in a run of %d ranks", (long long)r, cfg->n_ranks);
      goto done;
    }
    for (int j = 0; j < k; j++)
      if (ranks[j] == r) {
        rc = fail(p, "--strategy: rank %lld is given two strategies", (long long)r);
        goto done;
      }
    if ((rc = parse_strategy_name(p, colon + 1, &s))) goto done;
    if (k == cfg->n_ranks) {
      rc = fail(p, "--strategy: more ranks than the run has");
      goto done;
    }
    ranks[k++] = (int)r;
    p->strategy_map[r] = (int)s;
  }
  if (k == 0) {
    rc = fail(p, "--strategy: '%s' names no traitor", text);
    goto done;
  }
  *map_ranks = ranks;
  *map_count = k;
  ranks = NULL;
done:
  free(copy);
  free(ranks);
  return rc;
}

/* --rates: "LO-HI" (seeded integer per rank), "R" (all ranks) or "R0,R1,…" (one per rank). */
static int parse_rates(parser *p, const char *text) {
  cs_config *cfg = p->cfg;
  /* a range's dash is not the first character and not an exponent's sign (the dash of "1e-3") */
  const char *dash = strchr(text, '-');
  while (dash && (dash == text || dash[-1] == 'e' || dash[-1] == 'E')) dash = strchr(dash + 1, '-');
  if (dash && !strchr(text, ',')) {
    char lo_text[64];
    size_t lo_len = (size_t)(dash - text);
    if (lo_len >= sizeof lo_text) return fail(p, "--rates: '%s' is not a range like 1-6", text);
    memcpy(lo_text, text, lo_len);
    lo_text[lo_len] = '\0';
    int64_t lo, hi;
    if (parse_int(p, "--rates", lo_text, INT64_MIN, INT64_MAX, &lo) ||
        parse_int(p, "--rates", dash + 1, INT64_MIN, INT64_MAX, &hi))
      return fail(p, "--rates: '%s' is not a range of whole numbers like 1-6", text);
    if (lo <= 0 || hi <= 0) return fail(p, "--rates: '%s': rates must be > 0 ticks per second", text);
    if (hi > CLI_MAX_RATE) return fail(p, "--rates: '%s': rates must be at most %g ticks per second", text, CLI_MAX_RATE);
    if (lo > hi) return fail(p, "--rates: '%s': the range is empty (low > high)", text);
    cfg->rates_kind = CS_RATES_RANGE;
    cfg->rate_lo = lo;
    cfg->rate_hi = hi;
    return 0;
  }
  int n = cfg->n_ranks;
  double *list = calloc((size_t)n, sizeof *list);
  char *copy = dup_string(text);
  int k = 0, rc = 0;
  if (!list || !copy) {
    rc = fail(p, "out of memory");
    goto done;
  }
  if (!is_clean_list(text)) {
    rc = fail(p, "--rates: '%s' is not a rate, a list like 1,3,6 or a range like 1-6", text);
    goto done;
  }
  for (char *save = NULL, *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    double v;
    if ((rc = parse_real(p, "--rates", tok, &v))) goto done;
    if (v <= 0) {
      rc = fail(p, "--rates: %s: rates must be > 0 ticks per second", tok);
      goto done;
    }
    if (v < CLI_MIN_RATE || v > CLI_MAX_RATE) {
      rc = fail(p, "--rates: %s: a rate must lie in [%g, %g] ticks per second", tok, CLI_MIN_RATE, CLI_MAX_RATE);
      goto done;
    }
    if (k == n) {
      rc = fail(p, "--rates: the list has more entries than the run has ranks (%d)", n);
      goto done;
    }
    list[k++] = v;
  }
  if (k == 0) {
    rc = fail(p, "--rates: '%s' is not a rate, a list like 1,3,6 or a range like 1-6", text);
    goto done;
  }
  if (k == 1)
    for (int r = 1; r < n; r++) list[r] = list[0];
  else if (k != n) {
    rc = fail(p, "--rates: the list has %d entries but the run has %d ranks", k, n);
    goto done;
  }
  free(cfg->rate_list);
  cfg->rate_list = list;
  cfg->rates_kind = CS_RATES_LIST;
  list = NULL;
done:
  free(list);
  free(copy);
  return rc;
}

static const opt_spec *find_option(const char *arg, size_t name_len) {
  for (size_t k = 0; k < N_OPTIONS; k++) {
    const opt_spec *o = &OPTIONS[k];
    if ((strlen(o->long_name) == name_len && strncmp(arg, o->long_name, name_len) == 0) ||
        (o->short_name && strlen(o->short_name) == name_len && strncmp(arg, o->short_name, name_len) == 0))
      return o;
  }
  return NULL;
}

/* Applies one option's value to the config. */
static int apply_option(parser *p, const opt_spec *o, const char *v, int **strategy_ranks, int *strategy_count) {
  cs_config *cfg = p->cfg;
  const char *name = o->long_name;
  int64_t i64;
  switch (o->id) {
    case OPT_HELP: case OPT_VERSION: case OPT_COUNT: return 0;
    case OPT_OUTPUT:
      if (v[0] == '\0') return fail(p, "-o: the output file name is empty");
      free(cfg->output);
      if (!(cfg->output = dup_string(v))) return fail(p, "out of memory");
      return 0;
    case OPT_FORCE: cfg->force = 1; return 0;
    case OPT_SEED: {
      int neg = 0;
      uint64_t s = 0;
      if (!is_number(v) || whole_value(v, &neg, &s) != 0 || (neg && s != 0))
        return fail(p, "--seed: '%s' is not a whole number from 0 to 2^64-1", v);
      cfg->seed = s;
      return 0;
    }
    case OPT_NO_TRACE: cfg->trace = 0; return 0;
    case OPT_QUIET: cfg->quiet = 1; return 0;
    case OPT_PROGRESS: cfg->progress = 1; return 0;
    case OPT_DROP:
    case OPT_DUPLICATE: {
      double *prob = o->id == OPT_DROP ? &cfg->faults.drop : &cfg->faults.duplicate;
      CS_TRY(parse_real(p, name, v, prob));
      if (*prob < 0 || *prob > 1) return fail(p, "%s: %s is not a probability in [0, 1]", name, v);
      return 0;
    }
    case OPT_DELAY:
      CS_TRY(parse_real(p, name, v, &cfg->faults.delay_mean));
      if (cfg->faults.delay_mean < 0 || cfg->faults.delay_mean > CLI_MAX_WALL_S)
        return fail(p, "--delay: %s is not a mean delay in [0, 1e7] model seconds", v);
      return 0;
    case OPT_PARTITION:
    case OPT_CRASH: {
      char why[256];
      int rc = o->id == OPT_PARTITION ? fault_parse_partition(&cfg->faults, cfg->n_ranks, v, why, sizeof why)
                                      : fault_parse_crash(&cfg->faults, cfg->n_ranks, v, why, sizeof why);
      if (rc == CS_EUSAGE) return fail(p, "%s", why);
      return rc;
    }
    case OPT_SHOW_H5: cfg->show_h5_errors = 1; return 0;
    case OPT_SPEEDUP:
      CS_TRY(parse_real(p, name, v, &cfg->speedup));
      if (cfg->speedup <= 0) return fail(p, "--speedup: %s: the speed-up must be > 0", v);
      if (cfg->speedup < CLI_MIN_SPEEDUP || cfg->speedup > CLI_MAX_SPEEDUP)
        return fail(p, "--speedup: %s: the speed-up must lie in [%g, %g]", v, CLI_MIN_SPEEDUP, CLI_MAX_SPEEDUP);
      return 0;
    case OPT_RATES: return parse_rates(p, v);
    case OPT_FLUSH:
      CS_TRY(parse_real(p, name, v, &cfg->flush_interval_s));
      if (cfg->flush_interval_s < 0) return fail(p, "--flush-every: %s: must be >= 0 seconds (0: at the end)", v);
      if (cfg->flush_interval_s > 0 && cfg->flush_interval_s < TRACE_MIN_FLUSH_INTERVAL_S)
        return fail(p, "--flush-every: %s: at least %g seconds (each block is a collective write), or 0", v,
                    TRACE_MIN_FLUSH_INTERVAL_S);
      return 0;
    case OPT_DURATION:
      CS_TRY(parse_real(p, name, v, &cfg->duration_s));
      if (cfg->duration_s <= 0) return fail(p, "--duration: %s: the duration must be > 0 seconds", v);
      if (cfg->duration_s < CLI_MIN_DURATION_S)
        return fail(p, "--duration: %s: the duration must be at least %g model seconds", v, CLI_MIN_DURATION_S);
      return 0;
    case OPT_P_INTERNAL:
      CS_TRY(parse_real(p, name, v, &cfg->p_internal));
      if (cfg->p_internal < 0 || cfg->p_internal > 1) return fail(p, "--p-internal: %s is not a probability in [0, 1]", v);
      return 0;
    case OPT_PRESET:
      if (strcmp(v, "cs262") != 0 && strcmp(v, "cs262-low-variation") != 0)
        return fail(p, "--preset: unknown preset '%s' (cs262 or cs262-low-variation)", v);
      free(cfg->preset);
      if (!(cfg->preset = dup_string(v))) return fail(p, "out of memory");
      return 0;
    case OPT_M:
      CS_TRY(parse_int(p, "-m", v, 0, INT32_MAX, &i64));
      cfg->m = (int)i64;
      return 0;
    case OPT_COMMANDER:
      CS_TRY(parse_int(p, name, v, 0, INT32_MAX, &i64));
      if (i64 >= cfg->n_ranks) return fail(p, "--commander: rank %s does not exist in a run of %d ranks", v, cfg->n_ranks);
      cfg->commander = (int)i64;
      return 0;
    case OPT_ORDER:
      if (strcmp(v, "attack") == 0) cfg->order = BYZ_ATTACK;
      else if (strcmp(v, "retreat") == 0) cfg->order = BYZ_RETREAT;
      else return fail(p, "--order: '%s' is not attack or retreat", v);
      return 0;
    case OPT_TRIALS:
      CS_TRY(parse_int(p, name, v, 1, INT64_C(1) << 40, &cfg->trials));
      return 0;
    case OPT_TRAITORS:
      free(cfg->traitors);
      cfg->traitors = NULL;
      return parse_rank_list(p, name, v, &cfg->traitors, &cfg->n_traitors);
    case OPT_T:
      CS_TRY(parse_int(p, "-t", v, 0, INT32_MAX, &i64));
      if (i64 > cfg->n_ranks) return fail(p, "-t: %s traitors cannot be placed among %d generals", v, cfg->n_ranks);
      cfg->traitor_count = (int)i64;
      return 0;
    case OPT_STRATEGY:
      free(*strategy_ranks);
      *strategy_ranks = NULL;
      return parse_strategy(p, v, strategy_ranks, strategy_count);
    case OPT_WIRE:
      if (strcmp(v, "round") == 0) cfg->wire = BYZ_WIRE_ROUND;
      else if (strcmp(v, "message") == 0) cfg->wire = BYZ_WIRE_MESSAGE;
      else return fail(p, "--wire: '%s' is not round or message", v);
      return 0;
    case OPT_ALGORITHM:
      if (strcmp(v, "om") == 0) cfg->algorithm = BYZ_OM;
      else if (strcmp(v, "sm") == 0) cfg->algorithm = BYZ_SM;
      else return fail(p, "--algorithm: '%s' is not om or sm", v);
      return 0;
    case OPT_EXPECT: cfg->expect_agreement = 1; return 0;
    case OPT_HOSTILE:
      CS_TRY(parse_int(p, name, v, 0, INT32_MAX, &i64));
      if (i64 >= cfg->n_ranks) return fail(p, "--hostile: rank %s does not exist in a run of %d ranks", v, cfg->n_ranks);
      cfg->hostile = (int)i64;
      return 0;
    case OPT_ITERATIONS:
      CS_TRY(parse_int(p, name, v, 1, INT64_C(1) << 40, &cfg->bench_iterations));
      return 0;
    case OPT_MAX_BYTES:
      CS_TRY(parse_int(p, name, v, 1, (INT64_C(64) << 20), &cfg->bench_max_bytes));
      return 0;
    case OPT_OM_MAX_ORAL:
      CS_TRY(parse_int(p, name, v, 0, INT64_C(1) << 40, &cfg->bench_om_max_oral));
      return 0;
  }
  return 0;
}

/* The limits of cli.h that need several options at once: how long the slowest tick waits, and
 * (clocks) how many ticks, wall seconds and trace blocks the run makes. Every message names the
 * limit and the options that break it. */
static int check_limits(parser *p) {
  const cs_config *cfg = p->cfg;
  double lo = 0, hi = 0;
  if (cfg->rates_kind == CS_RATES_UNTHROTTLED) return 0;
  if (cfg->rates_kind == CS_RATES_RANGE) {
    lo = (double)cfg->rate_lo;
    hi = (double)cfg->rate_hi;
  } else {
    lo = hi = cfg->rate_list[0];
    for (int r = 1; r < cfg->n_ranks; r++) {
      if (cfg->rate_list[r] < lo) lo = cfg->rate_list[r];
      if (cfg->rate_list[r] > hi) hi = cfg->rate_list[r];
    }
  }
  double period = 1.0 / (lo * cfg->speedup);
  if (period > CLI_MAX_TICK_PERIOD_S)
    return fail(p, "--rates/--speedup: the slowest rank (rate %g at speed-up %g) would tick once every %g wall seconds;"
                   " at most %g (one tick a day)", lo, cfg->speedup, period, CLI_MAX_TICK_PERIOD_S);
  if (cfg->command != CS_CMD_CLOCKS) return 0;
  double per_rank = cfg->duration_s * hi, total = per_rank * cfg->n_ranks;
  if (total > (double)CLI_MAX_TICKS)
    return fail(p, "--duration %g at rate %g makes %g ticks per rank, %g in all (duration x rate x ranks);"
                   " one run counts at most %lld ticks", cfg->duration_s, hi, per_rank, total, (long long)CLI_MAX_TICKS);
  double wall = cfg->duration_s / cfg->speedup;
  if (wall > CLI_MAX_WALL_S)
    return fail(p, "--duration %g at speed-up %g lasts %g wall seconds; at most %g (about 116 days)", cfg->duration_s,
                cfg->speedup, wall, CLI_MAX_WALL_S);
  if (cfg->flush_interval_s > 0 && wall / cfg->flush_interval_s > (double)CLI_MAX_BLOCKS)
    return fail(p, "--flush-every %g over %g wall seconds writes %g trace blocks; at most %lld (use --flush-every %g or more)",
                cfg->flush_interval_s, wall, ceil(wall / cfg->flush_interval_s), (long long)CLI_MAX_BLOCKS,
                wall / (double)CLI_MAX_BLOCKS);
  return 0;
}

/* Checks that need all options at once, and fills defaults that depend on n or on a preset. */
static int validate(parser *p, int **strategy_ranks_io, int strategy_count) {
  cs_config *cfg = p->cfg;
  int *strategy_ranks = *strategy_ranks_io;
  int n = cfg->n_ranks;
  if (cfg->command == CS_CMD_BENCH && n < 2)
    return fail(p, "the ping-pong needs at least 2 ranks (mpirun -np 7 consensus bench)");
  if (cfg->command == CS_CMD_REPLAY && !cfg->script_path)
    return fail(p, "a script is needed: consensus replay SCRIPT (e.g. tests/data/three_process.txt)");
  if (cfg->command == CS_CMD_CLOCKS) {
    if (cfg->preset) {
      int low = strcmp(cfg->preset, "cs262-low-variation") == 0;
      if (n != 3)
        return fail(p, "--preset %s is the 3-machine experiment: run it with mpirun -np 3 (this run has %d ranks)",
                    cfg->preset, n);
      if (!p->given[OPT_RATES]) {
        cfg->rates_kind = CS_RATES_RANGE;
        cfg->rate_lo = 1;
        cfg->rate_hi = low ? 3 : 6;
      }
      if (!p->given[OPT_P_INTERNAL]) cfg->p_internal = low ? 0.5 : 0.7;
      if (!p->given[OPT_DURATION]) cfg->duration_s = 60;
    }
    /* Long clocks runs write their trace in blocks by default, so memory stays bounded. */
    if (!p->given[OPT_FLUSH]) cfg->flush_interval_s = CLI_CLOCKS_FLUSH_S;
    if (n < 2) return fail(p, "the scale model needs at least 2 ranks (mpirun -np 3 ./consensus clocks)");
    if (cfg->rates_kind == CS_RATES_UNTHROTTLED) {
      cfg->rates_kind = CS_RATES_RANGE;
      cfg->rate_lo = 1;
      cfg->rate_hi = 6;
    }
  }
  CS_TRY(check_limits(p));
  if (cfg->command == CS_CMD_BYZ) {
    if (n < 2) return fail(p, "Byzantine agreement needs a commander and at least one lieutenant (mpirun -np 2 or more)");
    int sm = cfg->algorithm == BYZ_SM;
    if (!p->given[OPT_M]) cfg->m = sm ? n - 2 : (n - 1) / 3;
    if (cfg->m > n - 2)
      return fail(p, "-m %d: %s relays along paths of m+1 distinct generals besides the receiver, so m <= n-2 = %d", cfg->m,
                  sm ? "SM(m)" : "OM(m)", n - 2);
    if (sm && p->given[OPT_WIRE])
      return fail(p, "--wire is for --algorithm om: SM(m) sends one MPI message per signed message");
    int forge = cfg->strategy == BYZ_FORGE;
    for (int r = 0; r < n; r++) forge |= p->strategy_map[r] == BYZ_FORGE;
    if (!sm && forge)
      return fail(p, "--strategy forge needs --algorithm sm: oral messages carry no signature to forge");
    if (p->given[OPT_T] && p->given[OPT_TRAITORS])
      return fail(p, "-t and --traitors contradict each other: give the number or the ranks, not both");
    if (strategy_count > 0) {
      if (p->given[OPT_T]) return fail(p, "--strategy RANK:S names traitors, so it cannot be combined with -t");
      if (!p->given[OPT_TRAITORS]) {
        cfg->traitors = strategy_ranks; /* the per-traitor map defines the traitors */
        cfg->n_traitors = strategy_count;
        *strategy_ranks_io = NULL;
        return 0;
      }
      for (int k = 0; k < strategy_count; k++) {
        int found = 0;
        for (int j = 0; j < cfg->n_traitors; j++) found |= cfg->traitors[j] == strategy_ranks[k];
        if (!found) {
          return fail(p, "--strategy: rank %d has a strategy but is not among --traitors", strategy_ranks[k]);
        }
      }
    }
    if (p->given[OPT_T]) cfg->n_traitors = 0;
  }
  return 0;
}

static char *join_argv(int argc, char **argv) {
  size_t len = 1;
  for (int k = 0; k < argc; k++) len += strlen(argv[k]) + 1;
  char *s = malloc(len);
  if (!s) return NULL;
  s[0] = '\0';
  for (int k = 0; k < argc; k++) {
    if (k) strcat(s, " ");
    strcat(s, argv[k]);
  }
  return s;
}

/* Fault times against the run's end: a clocks run ends at --duration model seconds, a byz trial
 * at round m (fault times in byz are rounds); replay has no end. */
static int check_faults(parser *p) {
  cs_config *cfg = p->cfg;
  fault_plan *f = &cfg->faults;
  f->n = cfg->n_ranks;
  f->seed = cfg->seed;
  double end = cfg->command == CS_CMD_CLOCKS ? cfg->duration_s : cfg->command == CS_CMD_BYZ ? cfg->m : INFINITY;
  const char *unit = cfg->command == CS_CMD_BYZ ? "round" : "model second";
  for (int k = 0; k < f->n_partitions; k++)
    if (f->partitions[k].from > end)
      return fail(p, "--partition: it begins at %s %g, past the end of the run (%s %g)", unit, f->partitions[k].from,
                  unit, end);
  for (int r = 0; f->crash_at && r < cfg->n_ranks; r++)
    if (f->crash_at[r] > end)
      return fail(p, "--crash: rank %d crashes at %s %g, past the end of the run (%s %g)", r, unit, f->crash_at[r], unit,
                  end);
  return 0;
}

int cli_parse(int argc, char **argv, int n_ranks, cs_config *cfg, char *err, size_t errcap) {
  memset(cfg, 0, sizeof *cfg);
  cfg->n_ranks = n_ranks;
  cfg->seed = 1;
  cfg->trace = 1;
  cfg->speedup = 1.0;
  cfg->duration_s = 60.0;
  cfg->p_internal = 0.7;
  cfg->order = BYZ_ATTACK;
  cfg->trials = 1;
  cfg->traitor_count = -1;
  cfg->strategy = BYZ_FLIP;
  cfg->wire = BYZ_WIRE_ROUND;
  cfg->bench_iterations = 1000;
  cfg->bench_max_bytes = 65536;
  cfg->bench_om_max_oral = 10000000;
  cfg->hostile = -1;
  parser p = {.cfg = cfg, .err = err, .errcap = errcap, .prog = "consensus"};
  if (errcap) err[0] = '\0';
  if (n_ranks < 1) return fail(&p, "the run has no ranks");
  if (!(cfg->command_line = join_argv(argc, argv))) return fail(&p, "out of memory");
  if (!(cfg->strategy_of = calloc((size_t)n_ranks, sizeof *cfg->strategy_of))) return fail(&p, "out of memory");
  if (!(p.strategy_map = malloc((size_t)n_ranks * sizeof(int)))) return fail(&p, "out of memory");
  for (int r = 0; r < n_ranks; r++) p.strategy_map[r] = -1;

  /* 1. The subcommand (or a bare --help / --version). */
  int *strategy_ranks = NULL, strategy_count = 0;
  int rc = 0;
  const char *sub = argc >= 2 ? argv[1] : "";
  if (argc < 2) {
    rc = fail(&p, "no subcommand: use byz, clocks, replay or bench (consensus --help)");
    goto done;
  }
  if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0 || strcmp(sub, "--version") == 0) {
    rc = strcmp(sub, "--version") == 0 ? CLI_VERSION : CLI_HELP;
    goto done;
  }
  for (cs_command c = CS_CMD_BYZ; c <= CS_CMD_BENCH; c++)
    if (strcmp(sub, cli_command_name(c)) == 0) cfg->command = c;
  if (cfg->command == CS_CMD_NONE) {
    rc = fail(&p, "unknown subcommand '%s' (byz, clocks, replay or bench)", sub);
    goto done;
  }
  snprintf(p.prog, sizeof p.prog, "consensus %s", sub);

  /* 2. Options and the one positional argument (the replay script). */
  for (int k = 2; k < argc; k++) {
    const char *arg = argv[k];
    if (arg[0] != '-' || arg[1] == '\0') {
      if (cfg->command != CS_CMD_REPLAY) {
        rc = fail(&p, "unexpected argument '%s'", arg);
        goto done;
      }
      if (cfg->script_path) {
        rc = fail(&p, "one script at a time: '%s' and '%s'", cfg->script_path, arg);
        goto done;
      }
      if (!(cfg->script_path = dup_string(arg))) {
        rc = fail(&p, "out of memory");
        goto done;
      }
      continue;
    }
    const char *eq = arg[1] == '-' ? strchr(arg, '=') : NULL;
    size_t name_len = eq ? (size_t)(eq - arg) : strlen(arg);
    const opt_spec *o = find_option(arg, name_len);
    const char *value = eq ? eq + 1 : NULL;
    if (!o && arg[1] != '-' && strlen(arg) > 2) { /* -m3 */
      o = find_option(arg, 2);
      if (o && o->takes_value) value = arg + 2;
      else o = NULL;
    }
    if (!o) {
      rc = fail(&p, "unknown option '%.*s' (see %s --help)", (int)name_len, arg, p.prog);
      goto done;
    }
    if (!(o->commands & CMD_BIT(cfg->command))) {
      rc = fail(&p, "option %s does not apply to %s (see %s --help)", o->long_name, sub, p.prog);
      goto done;
    }
    if (o->id == OPT_HELP) {
      rc = CLI_HELP;
      goto done;
    }
    if (o->id == OPT_VERSION) {
      rc = CLI_VERSION;
      goto done;
    }
    if (o->takes_value && !value) {
      if (k + 1 >= argc) {
        rc = fail(&p, "%s needs a value", o->short_name && arg[1] != '-' ? o->short_name : o->long_name);
        goto done;
      }
      value = argv[++k];
    } else if (!o->takes_value && value) {
      rc = fail(&p, "%s takes no value", o->long_name);
      goto done;
    }
    p.given[o->id] = 1;
    if ((rc = apply_option(&p, o, value, &strategy_ranks, &strategy_count))) goto done;
  }
  /* 3. Cross-option checks and defaults. */
  rc = validate(&p, &strategy_ranks, strategy_count);
  if (!rc) rc = check_faults(&p);
  for (int r = 0; r < n_ranks; r++)
    cfg->strategy_of[r] = p.strategy_map[r] >= 0 ? (byz_strategy)p.strategy_map[r] : cfg->strategy;
  /* byz --hostile R: R is a garbage traitor in every trial, besides any others */
  if (!rc && cfg->command == CS_CMD_BYZ && cfg->hostile >= 0) {
    if (p.strategy_map[cfg->hostile] >= 0 && p.strategy_map[cfg->hostile] != BYZ_GARBAGE)
      rc = fail(&p, "--hostile %d contradicts --strategy %d:%s (a hostile rank sends garbage)", cfg->hostile,
                cfg->hostile, cli_strategy_name(cfg->strategy_of[cfg->hostile]));
    cfg->strategy_of[cfg->hostile] = BYZ_GARBAGE;
  }
done:
  free(strategy_ranks);
  free(p.strategy_map);
  return rc;
}

void cli_free(cs_config *cfg) {
  if (!cfg) return;
  fault_plan_free(&cfg->faults);
  free(cfg->output);
  free(cfg->rate_list);
  free(cfg->script_path);
  free(cfg->preset);
  free(cfg->traitors);
  free(cfg->strategy_of);
  free(cfg->command_line);
  memset(cfg, 0, sizeof *cfg);
}

double cli_rate_of(const cs_config *cfg, int rank) {
  switch (cfg->rates_kind) {
    case CS_RATES_UNTHROTTLED: return 0.0;
    case CS_RATES_LIST: return cfg->rate_list[rank];
    case CS_RATES_RANGE: {
      rng_stream r;
      rng_seed(&r, cfg->seed, RNG_RATES, (uint64_t)rank);
      return (double)rng_range(&r, cfg->rate_lo, cfg->rate_hi);
    }
  }
  return 0.0;
}

static const char HELP_OVERVIEW[] =
    "usage: mpirun -np N consensus SUBCOMMAND [options]\n"
    "\n"
    "A laboratory for classic distributed algorithms: every MPI rank is one machine or general\n"
    "with its own tick rate, arrival queue, Lamport clock and vector clock.\n"
    "\n"
    "subcommands:\n"
    "  byz      Lamport-Shostak-Pease OM(m) Byzantine agreement across the ranks\n"
    "  clocks   the scale-model logical-clock experiment (tick rates, random sends, queues, drift)\n"
    "  replay   replay a scripted list of sends (C->B, A->B,C, B:internal) to teach vector clocks\n"
    "  bench    micro-benchmarks of the runtime against raw MPI\n"
    "\n"
    "Every run writes one HDF5 file (-o FILE, default results/<subcommand>-<UTC time>-<tag>.h5).\n"
    "consensus SUBCOMMAND --help shows the options of one subcommand; consensus --version the version.\n";

static const char HELP_COMMON[] =
    "common options:\n"
    "  -o, --output FILE   HDF5 output file (default results/<subcommand>-<UTC time>-<tag>.h5,\n"
    "                      unique per run); refused while another run writes FILE\n"
    "      --force         overwrite FILE if it exists and is a regular file, or a FILE.partial\n"
    "                      that a run left behind\n"
    "      --seed N        seed of every random draw (default 1): same seed, same run\n"
    "  -q, --quiet         print the summary only\n"
    "      --show-h5-errors  let HDF5 print its own error stacks\n"
    "  -h, --help          this help\n"
    "      --version       the program version\n"
    "\n"
    "exit status: 0 finished, 1 failed (a write, the file could not be published), 2 bad input\n"
    "(nothing ran), 3 byz --expect-agreement and IC1 or IC2 failed, 128+N stopped by signal N\n"
    "(143 SIGTERM, 130 SIGINT; the file is still written, with complete = 0).\n";

static const char HELP_RUNTIME[] =
    "runtime options:\n"
    "      --rates SPEC    tick rates in ticks per model second: LO-HI (seeded integer per rank),\n"
    "                      R (every rank) or R0,R1,... (one per rank); each in [1e-6, 1e9]\n"
    "      --speedup S     model seconds per wall second (default 1), in [1e-6, 1e9]; the slowest\n"
    "                      rank must tick at least once a day (1/(rate*S) <= 86400 s)\n"
    "      --no-trace      record no events or messages (the summary and /ranks are still written)\n"
    "      --drop P        each data message is lost with probability P (seeded, per link)\n"
    "      --duplicate P   each data message is delivered a second time with probability P\n"
    "      --delay MEAN    each data message is held an exponential delay of mean MEAN model s\n"
    "      --partition G|G[|G...]@FROM-TO  ranks of different groups (G: ranks, comma-separated;\n"
    "                      unlisted ranks: one more group) cannot reach each other in [FROM, TO);\n"
    "                      may be given again\n"
    "      --crash R@T[,R@T...]  rank R crash-stops at T: no events, no sends, what reaches it is lost\n"
    "                      (byz: FROM, TO and T are rounds of every trial, round 0 the order)\n"
    "      --progress      rank 0's progress line on stderr even when it is not a terminal (a line\n"
    "                      every 10 s); on a terminal it is shown anyway, unless -q\n"
    "      --flush-every SEC  write the trace to the file every SEC wall seconds (default: at the end;\n"
    "                      clocks: 1), 0 or >= 0.001; bounds memory and what a crash can lose\n"
    "Numbers may be written 0.001, 1e-3, 1000 or 1e3 wherever a number is asked for.\n";

void cli_print_help(FILE *out, cs_command command) {
  switch (command) {
    case CS_CMD_NONE: fputs(HELP_OVERVIEW, out); return;
    case CS_CMD_BYZ:
      fputs("usage: mpirun -np N consensus byz [options]\n\n"
            "Runs OM(m), or SM(m) with --algorithm sm (Lamport, Shostak, Pease 1982), with rank 0\n"
            "(or --commander) as the commander.\n\n"
            "byz options:\n"
            "  -m M                depth (default om: floor((n-1)/3), sm: n-2); 0 <= m <= n-2\n"
            "      --commander R   the commanding general's rank (default 0)\n"
            "      --order O       attack or retreat: the commander's order (default attack)\n"
            "      --trials K      K agreements in one run, each with its own traitor draw (default 1)\n"
            "      --traitors LIST traitor ranks, e.g. 2,5 (the commander may be one)\n"
            "  -t K                K traitors placed at random per trial (seeded)\n"
            "      --algorithm A   om (oral messages, default) or sm (signed messages, Ed25519)\n"
            "      --strategy S    flip|split|random|silent|garbage|forge (sm only) for every traitor\n"
            "                      (default flip),\n"
            "                      or per traitor: 2:flip,5:silent (these ranks are then the traitors)\n"
            "      --wire W        round (one MPI message per peer per round, default) or message\n"
            "                      (one MPI message per oral message, every relay traced)\n"
            "      --expect-agreement  exit 3 unless IC1 and IC2 hold in every trial\n",
            out);
      break;
    case CS_CMD_CLOCKS:
      fputs("usage: mpirun -np N consensus clocks [options]\n\n"
            "The scale model: each rank ticks at its own rate; on a tick it takes one queued message,\n"
            "or draws k in 1..10: 1 sends to (i+1) mod n, 2 to (i+2) mod n, 3 to all others, else internal.\n\n"
            "clocks options:\n"
            "      --duration SEC  model seconds to run (default 60), at least 1e-6; a run makes at most\n"
            "                      2^40 ticks in all (duration x rate x ranks), lasts at most 1e7 wall\n"
            "                      seconds (duration / speedup) and writes at most 1e6 trace blocks\n"
            "      --p-internal P  probability of an internal event on an idle tick (default 0.7)\n"
            "      --preset NAME   cs262 (3 ranks, rates 1-6, 60 s) or cs262-low-variation\n"
            "                      (rates 1-3, p-internal 0.5); options given override the preset\n"
            "                      (default rates: 1-6)\n",
            out);
      break;
    case CS_CMD_REPLAY:
      fputs("usage: mpirun -np N consensus replay SCRIPT [options]\n\n"
            "Replays a script of sends, one per line, in order: 'C->B' (C sends to B), 'A->B,C' (one\n"
            "multicast send event), 'B:internal'. Ranks are named A, B, C, ... or 0, 1, 2, ...; '#'\n"
            "starts a comment. The run needs exactly as many ranks as the script names. Rank 0 prints\n"
            "every event with its vector clock, then every rank's final clock.\n",
            out);
      break;
    case CS_CMD_BENCH:
      fputs("usage: mpirun -np N consensus bench [options]\n\n"
            "Micro-benchmarks of the runtime, each beside raw MPI measured in the same run: ping-pong\n"
            "latency of ranks 0 and 1 with the clock piggyback, all-to-all message rate, tracing cost,\n"
            "HDF5 write rate and OM(m) scaling. Medians of 5 interleaved repetitions; at least 2 ranks.\n\n"
            "bench options:\n"
            "      --iterations N  round trips per ping-pong, messages per peer in the rate tests\n"
            "                      (default 1000)\n"
            "      --max-bytes B   largest ping-pong payload (default 65536)\n"
            "      --om-max-oral K OM(m) scaling: skip (n, m) with more than K oral messages in round\n"
            "                      mode, K/100 in message mode (default 10000000; 0: no OM(m) table)\n",
            out);
      fputs("\n", out);
      fputs(HELP_COMMON, out);
      return;
  }
  fputs("\n", out);
  fputs(HELP_RUNTIME, out);
  fputs("\n", out);
  fputs(HELP_COMMON, out);
}
