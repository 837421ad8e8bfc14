/* Unit tests of the command line and the replay-script parser: good input parsed, bad input named. */
#include "check.h"
#include "consensus/cli.h"
#include "consensus/cs_error.h"
#include "consensus/proto_replay.h"

/* Parses a command line given as one string (split at spaces) for a run of n ranks. */
static int parse(const char *line, int n, cs_config *cfg, char *err, size_t cap) {
  char copy[512];
  char *argv[64];
  int argc = 0;
  snprintf(copy, sizeof copy, "%s", line);
  for (char *save = NULL, *tok = strtok_r(copy, " ", &save); tok && argc < 63; tok = strtok_r(NULL, " ", &save))
    argv[argc++] = tok;
  argv[argc] = NULL;
  return cli_parse(argc, argv, n, cfg, err, cap);
}

static void expect_ok(const char *line, int n, cs_config *cfg) {
  char err[512];
  int rc = parse(line, n, cfg, err, sizeof err);
  if (rc != 0) fprintf(stderr, "'%s' (n=%d): %s\n", line, n, err);
  CHECK_INT(rc, 0);
}

static void expect_usage(const char *line, int n, const char *needle) {
  cs_config cfg;
  char err[512];
  int rc = parse(line, n, &cfg, err, sizeof err);
  if (rc != CS_EUSAGE) fprintf(stderr, "'%s' (n=%d) was accepted\n", line, n);
  CHECK_INT(rc, CS_EUSAGE);
  CHECK(strchr(err, '\n') == NULL); /* one line */
  CHECK_CONTAINS(err, needle);
  cli_free(&cfg);
}

static void test_defaults(void) {
  cs_config cfg;
  expect_ok("consensus byz", 7, &cfg);
  CHECK_INT(cfg.command, CS_CMD_BYZ);
  CHECK_INT(cfg.m, 2); /* floor((7-1)/3) */
  CHECK_INT(cfg.commander, 0);
  CHECK_INT(cfg.order, BYZ_ATTACK);
  CHECK_INT(cfg.trials, 1);
  CHECK_INT(cfg.n_traitors, 0);
  CHECK_INT(cfg.wire, BYZ_WIRE_ROUND);
  CHECK_INT(cfg.seed, 1);
  CHECK(cfg.output == NULL);
  CHECK_INT(cfg.rates_kind, CS_RATES_UNTHROTTLED);
  cli_free(&cfg);
  expect_ok("consensus clocks", 3, &cfg);
  CHECK_INT(cfg.rates_kind, CS_RATES_RANGE);
  CHECK_INT(cfg.rate_lo, 1);
  CHECK_INT(cfg.rate_hi, 6);
  CHECK(cfg.duration_s == 60.0);
  CHECK(cfg.p_internal == 0.7);
  CHECK(cfg.flush_interval_s == CLI_CLOCKS_FLUSH_S); /* clocks flushes in blocks by default */
  cli_free(&cfg);
  expect_ok("consensus clocks --flush-every 0", 3, &cfg);
  CHECK(cfg.flush_interval_s == 0.0); /* ... unless told not to */
  cli_free(&cfg);
  expect_ok("consensus replay tests/data/three_process.txt", 3, &cfg);
  CHECK(cfg.flush_interval_s == 0.0); /* replay keeps its whole trace until the end */
  cli_free(&cfg);
}

static void test_options(void) {
  cs_config cfg;
  expect_ok("consensus byz -m 1 --traitors 2,5 --strategy 5:silent --order retreat -o x.h5 --force --seed 42", 7, &cfg);
  CHECK_INT(cfg.m, 1);
  CHECK_INT(cfg.n_traitors, 2);
  CHECK_INT(cfg.traitors[0], 2);
  CHECK_INT(cfg.traitors[1], 5);
  CHECK_INT(cfg.strategy_of[2], BYZ_FLIP);
  CHECK_INT(cfg.strategy_of[5], BYZ_SILENT);
  CHECK_INT(cfg.order, BYZ_RETREAT);
  CHECK_STR(cfg.output, "x.h5");
  CHECK_INT(cfg.force, 1);
  CHECK_INT(cfg.seed, 42);
  cli_free(&cfg);
  expect_ok("consensus byz --strategy 1:split,3:garbage -m3", 7, &cfg); /* the map names the traitors */
  CHECK_INT(cfg.n_traitors, 2);
  CHECK_INT(cfg.m, 3);
  CHECK_INT(cfg.strategy_of[1], BYZ_SPLIT);
  CHECK_INT(cfg.strategy_of[3], BYZ_GARBAGE);
  cli_free(&cfg);
  expect_ok("consensus byz -t 2 --strategy random --wire=message --trials 10", 7, &cfg);
  CHECK_INT(cfg.traitor_count, 2);
  CHECK_INT(cfg.strategy_of[4], BYZ_RANDOM);
  CHECK_INT(cfg.wire, BYZ_WIRE_MESSAGE);
  CHECK_INT(cfg.trials, 10);
  cli_free(&cfg);
  expect_ok("consensus clocks --rates 1,3,6 --p-internal 0.5 --duration 2 --speedup 10", 3, &cfg);
  CHECK_INT(cfg.rates_kind, CS_RATES_LIST);
  CHECK(cli_rate_of(&cfg, 2) == 6.0);
  CHECK(cfg.speedup == 10.0);
  cli_free(&cfg);
  expect_ok("consensus byz --hostile 2 -t 1", 7, &cfg);
  CHECK_INT(cfg.hostile, 2);
  CHECK_INT(cfg.strategy_of[2], BYZ_GARBAGE);
  cli_free(&cfg);
  /* SM(m): m defaults to n - 2; forge is its strategy only; --wire is OM's */
  expect_ok("consensus byz --algorithm sm -t 5 --strategy forge", 7, &cfg);
  CHECK_INT(cfg.algorithm, BYZ_SM);
  CHECK_INT(cfg.m, 5);
  CHECK_INT(cfg.strategy_of[3], BYZ_FORGE);
  CHECK_STR(cli_algorithm_name(cfg.algorithm), "sm");
  CHECK_STR(cli_strategy_name(BYZ_FORGE), "forge");
  cli_free(&cfg);
  expect_ok("consensus byz --algorithm om", 7, &cfg);
  CHECK_INT(cfg.algorithm, BYZ_OM);
  CHECK_INT(cfg.m, 2);
  cli_free(&cfg);
  expect_usage("consensus byz --algorithm sm -m 6", 7, "SM(m) relays along paths");
  expect_usage("consensus byz --strategy 2:forge", 7, "forge needs --algorithm sm");
  expect_usage("consensus byz --algorithm sm --wire round", 7, "--wire is for --algorithm om");
  expect_usage("consensus byz --algorithm xx", 7, "--algorithm: 'xx' is not om or sm");
  expect_ok("consensus clocks --rates 4", 5, &cfg); /* one value for every rank */
  CHECK(cli_rate_of(&cfg, 4) == 4.0);
  cli_free(&cfg);
  expect_ok("consensus clocks --preset cs262-low-variation --duration 5", 3, &cfg);
  CHECK_INT(cfg.rate_hi, 3);
  CHECK(cfg.p_internal == 0.5);
  CHECK(cfg.duration_s == 5.0); /* an option overrides the preset */
  cli_free(&cfg);
  expect_ok("consensus replay tests/data/three_process.txt", 3, &cfg);
  CHECK_STR(cfg.script_path, "tests/data/three_process.txt");
  cli_free(&cfg);
  expect_ok("consensus bench", 7, &cfg);
  CHECK_INT(cfg.bench_iterations, 1000);
  CHECK_INT(cfg.bench_max_bytes, 65536);
  CHECK_INT(cfg.bench_om_max_oral, 10000000);
  cli_free(&cfg);
  expect_ok("consensus bench --iterations 20 --max-bytes 512 --om-max-oral 0 -o b.h5", 2, &cfg);
  CHECK_INT(cfg.bench_iterations, 20);
  CHECK_INT(cfg.bench_max_bytes, 512);
  CHECK_INT(cfg.bench_om_max_oral, 0);
  cli_free(&cfg);
  CHECK_INT(parse("consensus --help", 1, &cfg, NULL, 0), CLI_HELP);
  cli_free(&cfg);
  CHECK_INT(parse("consensus byz --help", 1, &cfg, NULL, 0), CLI_HELP);
  CHECK_INT(cfg.command, CS_CMD_BYZ);
  cli_free(&cfg);
  CHECK_INT(parse("consensus --version", 1, &cfg, NULL, 0), CLI_VERSION);
  cli_free(&cfg);
}

/* Seeded rates are a pure function of (seed, rank), inside the range. */
static void test_seeded_rates(void) {
  cs_config a, b, c;
  expect_ok("consensus clocks --rates 1-6 --seed 7", 8, &a);
  expect_ok("consensus clocks --rates 1-6 --seed 7", 8, &b);
  expect_ok("consensus clocks --rates 1-6 --seed 8", 8, &c);
  int differ = 0;
  for (int r = 0; r < 8; r++) {
    double ra = cli_rate_of(&a, r);
    CHECK(ra == cli_rate_of(&b, r));
    CHECK(ra >= 1 && ra <= 6 && ra == (int)ra);
    differ |= ra != cli_rate_of(&c, r);
  }
  CHECK(differ);
  cli_free(&a);
  cli_free(&b);
  cli_free(&c);
}

/* Issue 12.5: every option that takes a number accepts the same forms (1e-3 and 0.001, 1000 and
 * 1e3), integers are exact (never through a double), and nothing else is a number. */
static void test_number_forms(void) {
  cs_config cfg;
  expect_ok("consensus clocks --rates 1e-3", 3, &cfg); /* was "not a range" while 0.001 passed */
  CHECK_INT(cfg.rates_kind, CS_RATES_LIST);
  CHECK(cli_rate_of(&cfg, 1) == 0.001);
  cli_free(&cfg);
  expect_ok("consensus clocks --rates 0.001,1E-3,+1e-3", 3, &cfg);
  CHECK(cli_rate_of(&cfg, 0) == 0.001 && cli_rate_of(&cfg, 2) == 0.001);
  cli_free(&cfg);
  expect_ok("consensus clocks --rates 1e0-6.0e0", 3, &cfg); /* a range of whole numbers, any spelling */
  CHECK_INT(cfg.rates_kind, CS_RATES_RANGE);
  CHECK_INT(cfg.rate_lo, 1);
  CHECK_INT(cfg.rate_hi, 6);
  cli_free(&cfg);
  expect_ok("consensus byz --trials 1e3 -m 1.0 --seed 1.8446744073709551615e19", 7, &cfg);
  CHECK_INT(cfg.trials, 1000);
  CHECK_INT(cfg.m, 1);
  CHECK(cfg.seed == UINT64_MAX);
  cli_free(&cfg);
  expect_ok("consensus byz --seed 18446744073709551615 --commander 0.06e2", 7, &cfg);
  CHECK(cfg.seed == UINT64_MAX);
  CHECK_INT(cfg.commander, 6);
  cli_free(&cfg);
  expect_ok("consensus clocks --speedup .5 --duration 5. --p-internal 5e-1", 3, &cfg);
  CHECK(cfg.speedup == 0.5 && cfg.duration_s == 5.0 && cfg.p_internal == 0.5);
  cli_free(&cfg);
  expect_usage("consensus byz --seed 18446744073709551616", 7, "from 0 to 2^64-1");
  expect_usage("consensus byz --seed 1e20", 7, "from 0 to 2^64-1");
  expect_usage("consensus byz --seed -0.5", 7, "from 0 to 2^64-1");
  expect_usage("consensus byz --trials 2.5", 7, "--trials: '2.5' is not a whole number");
  expect_usage("consensus byz --trials 25e-1", 7, "--trials: '25e-1' is not a whole number");
  expect_usage("consensus byz --trials 1e100000000000", 7, "--trials: 1e100000000000 is out of range");
  expect_usage("consensus byz -m 0x1", 7, "-m: '0x1' is not a whole number");
  expect_usage("consensus clocks --speedup 0x10", 3, "--speedup: '0x10' is not a number");
  expect_usage("consensus clocks --speedup infinity", 3, "--speedup: 'infinity' is not a number");
  expect_usage("consensus clocks --speedup 1e", 3, "--speedup: '1e' is not a number");
  expect_usage("consensus clocks --speedup .", 3, "--speedup: '.' is not a number");
  expect_usage("consensus clocks --duration 1e400", 3, "--duration: 1e400 is too large");
  expect_usage("consensus clocks --duration 1e-400", 3, "--duration: 1e-400 is too small");
  expect_usage("consensus clocks --rates 2.5-6", 3, "not a range of whole numbers");
  expect_usage("consensus clocks --rates a-b", 3, "'a-b' is not a range of whole numbers");
}

/* Issue 12.5: numbers past what a run can count are refused up front, naming the limit. Before,
 * --rates 1e300 (or 1e19) overflowed the tick count to 0 ticks and claimed complete = 1, and
 * --duration 1e300, --speedup 1e-9 and --flush-every 1e-9 ran for ever. */
static void test_limits(void) {
  cs_config cfg;
  expect_usage("consensus clocks --rates 1e300 --duration 1", 3, "a rate must lie in [1e-06, 1e+09] ticks per second");
  expect_usage("consensus clocks --rates 1e19 --duration 1", 3, "a rate must lie in [1e-06, 1e+09] ticks per second");
  expect_usage("consensus clocks --rates 1-10000000000", 3, "at most 1e+09 ticks per second");
  expect_usage("consensus clocks --rates 1e-7", 3, "must lie in [1e-06, 1e+09]");
  expect_usage("consensus clocks --duration 1e300", 3, "one run counts at most 1099511627776 ticks");
  expect_usage("consensus clocks --rates 1e9 --duration 400", 3, "one run counts at most 1099511627776 ticks");
  expect_usage("consensus clocks --speedup 1e-9", 3, "must lie in [1e-06, 1e+09]");
  expect_usage("consensus clocks --speedup 1e10", 3, "must lie in [1e-06, 1e+09]");
  expect_usage("consensus clocks --flush-every 1e-9", 3, "--flush-every: 1e-9: at least 0.01 seconds");
  expect_usage("consensus clocks --flush-every 0.01 --duration 36000", 3, "at most 1000000 (use --flush-every 0.036");
  expect_usage("consensus clocks --duration 1e7 --speedup 0.5", 3, "lasts 2e+07 wall seconds; at most 1e+07");
  expect_usage("consensus clocks --duration 1e-9", 3, "at least 1e-06 model seconds");
  expect_usage("consensus byz --rates 1 --speedup 1e-5", 7, "would tick once every 100000 wall seconds");
  expect_usage("consensus replay x.txt --rates 1e-6", 3, "would tick once every 1e+06 wall seconds");
  /* the largest runs still allowed */
  expect_ok("consensus clocks --rates 1e9 --duration 300 --flush-every 0", 3, &cfg);
  cli_free(&cfg);
  expect_ok("consensus clocks --rates 1e-3 --duration 1e6 --speedup 0.1 --flush-every 10", 3, &cfg);
  cli_free(&cfg);
  expect_ok("consensus clocks --flush-every 0.01 --duration 10000", 3, &cfg);
  cli_free(&cfg);
  expect_ok("consensus byz --rates 1e-5 --speedup 2", 7, &cfg);
  cli_free(&cfg);
}

/* Issue 12.9: the help says what the program does: --expect-agreement exits 3 (it said 1). */
static void test_help_matches(void) {
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  CHECK(f != NULL);
  cli_print_help(f, CS_CMD_BYZ);
  fclose(f);
  CHECK_CONTAINS(text, "--expect-agreement  exit 3 unless IC1 and IC2 hold");
  CHECK(strstr(text, "exit 1 unless") == NULL);
  /* and every exit status a script can see (issue 12.9: a signalled run exited 0) */
  CHECK_CONTAINS(text, "exit status: 0 finished, 1 failed");
  CHECK_CONTAINS(text, "128+N stopped by signal N");
  free(text);
}

static void test_usage_errors(void) {
  expect_usage("consensus", 3, "no subcommand");
  expect_usage("consensus fly", 3, "unknown subcommand 'fly'");
  expect_usage("consensus byz --bogus", 3, "unknown option '--bogus'");
  expect_usage("consensus bench", 1, "at least 2 ranks");
  expect_usage("consensus bench --om-max-oral -1", 3, "--om-max-oral");
  expect_usage("consensus bench --max-bytes 0", 3, "--max-bytes");
  expect_usage("consensus byz --om-max-oral 5", 3, "does not apply to byz");
  expect_usage("consensus byz --duration 5", 3, "does not apply to byz");
  expect_usage("consensus byz -o", 3, "-o needs a value");
  expect_usage("consensus byz --force=1", 3, "takes no value");
  expect_usage("consensus byz --seed -1", 3, "--seed");
  expect_usage("consensus byz --seed 12x", 3, "not a whole number");
  expect_usage("consensus byz -m 6", 7, "m <= n-2 = 5");
  expect_usage("consensus byz -m x", 7, "not a whole number");
  expect_usage("consensus byz --traitors 7", 7, "rank 7 does not exist");
  expect_usage("consensus byz --traitors 2,2", 7, "named twice");
  expect_usage("consensus byz --traitors 2,,3", 7, "not a list of ranks");
  expect_usage("consensus byz --traitors 1 -t 1", 7, "contradict");
  expect_usage("consensus byz -t 8", 7, "cannot be placed");
  expect_usage("consensus byz --strategy sneaky", 7, "unknown strategy 'sneaky'");
  expect_usage("consensus byz --strategy 9:flip", 7, "rank 9 does not exist");
  expect_usage("consensus byz --traitors 1 --strategy 2:flip", 7, "not among --traitors");
  expect_usage("consensus byz --order charge", 7, "not attack or retreat");
  expect_usage("consensus byz --wire pigeon", 7, "not round or message");
  expect_usage("consensus byz --commander 7", 7, "rank 7 does not exist");
  expect_usage("consensus byz --trials 0", 7, "out of range");
  expect_usage("consensus byz", 1, "at least one lieutenant");
  expect_usage("consensus clocks --rates 0-6", 3, "must be > 0");
  expect_usage("consensus clocks --rates 6-1", 3, "empty");
  expect_usage("consensus clocks --rates 1,2", 3, "2 entries but the run has 3 ranks");
  expect_usage("consensus clocks --rates 1,-2,3", 3, "must be > 0");
  expect_usage("consensus clocks --rates fast", 3, "not a number");
  expect_usage("consensus clocks --p-internal 1.5", 3, "not a probability");
  expect_usage("consensus clocks --p-internal -0.1", 3, "not a probability");
  expect_usage("consensus clocks --rates 1,0,3", 3, "must be > 0");
  expect_usage("consensus clocks --rates 1,2,3,4", 3, "more entries than the run has ranks");
  expect_usage("consensus clocks --duration -5", 3, "must be > 0");
  expect_usage("consensus clocks --speedup 0", 3, "must be > 0");
  expect_usage("consensus clocks", 1, "at least 2 ranks");
  expect_usage("consensus clocks --duration 0", 3, "must be > 0");
  expect_usage("consensus clocks --speedup -2", 3, "must be > 0");
  expect_usage("consensus clocks --speedup nan", 3, "not a number");
  expect_usage("consensus clocks --preset cs999", 3, "unknown preset");
  expect_usage("consensus clocks --preset cs262", 4, "mpirun -np 3");
  expect_usage("consensus replay", 3, "a script is needed");
  expect_usage("consensus replay a.txt b.txt", 3, "one script at a time");
  expect_usage("consensus byz extra", 3, "unexpected argument 'extra'");
  expect_usage("consensus byz --output=", 3, "the output file name is empty");
}

/* Parses `len` bytes of text (which may hold NUL bytes) for n ranks; NULL needle: must parse. */
static void expect_script_bytes(const char *text, size_t len, int n, const char *needle) {
  replay_script s;
  char err[256];
  int rc = replay_parse(text, len, n, &s, err, sizeof err);
  if (!needle) {
    if (rc) fprintf(stderr, "script rejected: %s\n", err);
    CHECK_INT(rc, 0);
    replay_free(&s);
    return;
  }
  if (rc == 0) fprintf(stderr, "script accepted: %s\n", text);
  CHECK_INT(rc, CS_ESCRIPT);
  CHECK_CONTAINS(err, needle);
  CHECK(strchr(err, '\n') == NULL); /* one line */
}

static void expect_script(const char *text, int n, const char *needle) {
  expect_script_bytes(text, strlen(text), n, needle);
}

static void test_replay_parser(void) {
  replay_script s;
  char err[256];
  const char *good = "# comment\n\nC->B\n  A -> B , C # multicast\nB:internal\nb: internal\n";
  CHECK_INT(replay_parse(good, strlen(good), 3, &s, err, sizeof err), 0);
  CHECK_INT(s.n_steps, 4);
  CHECK_INT(s.steps[0].line, 3);
  CHECK_INT(s.steps[0].src, 2);
  CHECK_INT(s.steps[0].dsts[0], 1);
  CHECK_INT(s.steps[1].n_dsts, 2);
  CHECK_INT(s.steps[2].kind, REPLAY_INTERNAL);
  CHECK_INT(s.uses_letters, 1);
  replay_free(&s);
  expect_script("0->1\n1->2\n2:internal\n", 3, NULL);
  expect_script("A->B\nA->D\n", 3, "line 2: unknown rank D: the run has 3 ranks (up to C)");
  expect_script("A->B\nB->B\n", 3, "line 2: B sends to itself");
  expect_script("A->B,C,B\n", 3, "line 1: B is named twice");
  expect_script("A->\n", 3, "line 1: expected a destination");
  expect_script("A=>B\n", 3, "line 1: expected '->' or ':internal'");
  expect_script("A:sleep\n", 3, "line 1: expected 'internal'");
  expect_script("A->B C\n", 3, "line 1: unexpected text");
  expect_script("AB->C\n", 3, "line 1: expected a rank");
  expect_script("A->1\n", 3, "mixes letters and numbers");
  expect_script("A->B\n0->2\n", 3, "line 2: names ranks differently");
  expect_script("# nothing\n\n", 3, "no steps");
  expect_script("A->B\n", 3, "names 2 ranks (up to B) but the run has 3");
  expect_script("99999999->1\n", 3, "line 1: expected a rank");
  /* found by fuzz_replay: the quote of trailing text ran into the next lines (a multi-line
   * message) and showed control bytes; it now stops at the end of the line */
  expect_script("C->B\vB->A\nA->C\nB:internal\n", 3, "line 1: unexpected text after the step: '?B->A'");
  /* issue 12.4: a NUL byte ended the script where it stood ("A->B\0junk\nB->C" ran one step and
   * said complete = 1); the whole script must now be text, refused with its line number */
  static const char nul[] = "A->B\0junk\nB->C\n";
  expect_script_bytes(nul, sizeof nul - 1, 3, "line 1: a NUL byte (at byte 5): a replay script must be text");
  static const char nul_late[] = "A->B\nB->C\n# done\0";
  expect_script_bytes(nul_late, sizeof nul_late - 1, 3, "line 3: a NUL byte (at byte 17)");
  expect_script("A->B\nB->C \xff\n", 3, "line 2: byte 11 (0xFF) is not valid UTF-8 text");
  expect_script("A->B\n# caf\xc3\n", 3, "line 2: byte 11 (0xC3) is not valid UTF-8 text"); /* cut short */
  expect_script("A->B\n# \xc0\xaf\n", 3, "line 2: byte 8 (0xC0) is not valid UTF-8"); /* overlong '/' */
  expect_script("A->B\n# \xed\xa0\x80\n", 3, "line 2: byte 8 (0xED) is not valid UTF-8"); /* a surrogate */
  expect_script("# caf\xc3\xa9, \xe2\x86\x92 \xf0\x9f\x93\xa8\nA->B\nB->C\n", 3, NULL); /* UTF-8 comments are fine */
  /* the length bounds the parse: a script need not end in NUL or newline */
  expect_script_bytes("A->B\nB->CXYZ", 9, 3, NULL);
}

int main(void) {
  test_defaults();
  test_options();
  test_seeded_rates();
  test_usage_errors();
  test_number_forms();
  test_limits();
  test_help_matches();
  test_replay_parser();
  printf("test_cli: all checks passed\n");
  return 0;
}
