"""Bad command lines (issue 8.3), table-driven, on the real binary under mpirun.

Every option of every subcommand (src/cli.c) is given a missing, malformed, out-of-range or
contradictory value. Each case must give: exit status 2 from mpirun (so from every rank: Open MPI
reports the first non-zero status, and every rank exits 2), exactly one line on stderr, from
rank 0, starting with "consensus" and naming the problem, and no file left behind: the case runs
in an empty directory with -o pointing into it, and the directory must still be empty afterwards
(neither FILE nor FILE.partial nor a default results/ directory).

The file rules (unwritable -o, -o a directory, an existing file without --force) are checked
once the command line is valid, inside the collective open: for every subcommand that writes a
file.
"""
import os
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor

import harness

DATA = os.path.join(harness.HERE, "data")
SCRIPT = os.path.join(DATA, "three_process.txt")   # names 3 ranks
SCRIPT7 = None                                       # made in main(): names 7 ranks
SUBS = ["byz", "clocks", "replay", "bench"]
RUN_SUBS = ["byz", "clocks", "replay"]


def base(sub, np_):
    """The minimal valid command line of a subcommand at np_ ranks."""
    if sub == "replay":
        return ["replay", SCRIPT if np_ == 3 else SCRIPT7]
    return [sub]


def cases():
    """(np, args, needle): args exclude -o, which the runner adds unless the case is about -o."""
    c = []
    # the command itself
    c += [(3, [], "no subcommand"),
          (3, ["frobnicate"], "unknown subcommand 'frobnicate'"),
          (3, ["byz", "--bogus"], "unknown option '--bogus'"),
          (3, ["byz", "-Z"], "unknown option '-Z'"),
          (3, ["byz", "--duration", "5"], "option --duration does not apply to byz"),
          (3, ["clocks", "-m", "1"], "option --max-traitors does not apply to clocks"),
          (3, ["bench", "--rates", "1"], "option --rates does not apply to bench"),
          (3, ["bench", "--progress"], "option --progress does not apply to bench"),
          (3, ["replay", SCRIPT, "--trials", "2"], "option --trials does not apply to replay"),
          (3, ["byz", "extra"], "unexpected argument 'extra'"),
          (3, ["replay"], "a script is needed"),
          (3, ["replay", SCRIPT, SCRIPT], "one script at a time")]
    # common options: a few for every subcommand, all of them for one (the parser is shared:
    # the whole list at every subcommand would only multiply the run time)
    for sub in SUBS:
        b = base(sub, 3)
        c += [(3, b + ["-o"], "-o needs a value"),
              (3, b + ["--seed", "-1"], "--seed: '-1' is not a whole number"),
              (3, b + ["--force=yes"], "--force takes no value")]
    b = base("replay", 3)
    c += [(3, b + ["--output"], "--output needs a value"),
          (3, b + ["--output="], "the output file name is empty"),
          (3, b + ["--seed"], "--seed needs a value"),
          (3, b + ["--seed", "12x"], "--seed: '12x' is not a whole number"),
          (3, b + ["--seed", "18446744073709551616"], "is not a whole number from 0 to 2^64-1"),
          (3, b + ["--quiet=1"], "--quiet takes no value"),
          (3, b + ["--progress=1"], "--progress takes no value"),
          (3, b + ["--show-h5-errors=1"], "--show-h5-errors takes no value")]
    # runtime options: the same way
    for sub in ["byz", "clocks"]:
        b = base(sub, 3)
        c += [(3, b + ["--speedup", "0"], "the speed-up must be > 0"),
              (3, b + ["--rates"], "--rates needs a value"),
              (3, b + ["--rates", "1,2"], "the list has 2 entries but the run has 3 ranks"),
              (3, b + ["--flush-every", "-1"], "must be >= 0 seconds"),
              (3, b + ["--no-trace=1"], "--no-trace takes no value")]
    for sub in ["replay"]:
        b = base(sub, 3)
        c += [(3, b + ["--speedup"], "--speedup needs a value"),
              (3, b + ["--speedup", "fast"], "--speedup: 'fast' is not a number"),
              (3, b + ["--speedup", "inf"], "--speedup: 'inf' is not a number"),
              (3, b + ["--speedup", "nan"], "--speedup: 'nan' is not a number"),
              (3, b + ["--speedup", "0"], "the speed-up must be > 0"),
              (3, b + ["--speedup", "-2"], "the speed-up must be > 0"),
              (3, b + ["--rates"], "--rates needs a value"),
              (3, b + ["--rates", "1,,2"], "is not a rate, a list like 1,3,6 or a range"),
              (3, b + ["--rates", "0"], "rates must be > 0"),
              (3, b + ["--rates", "-1"], "rates must be > 0"),
              (3, b + ["--rates", "0-5"], "rates must be > 0"),
              (3, b + ["--rates", "6-1"], "the range is empty"),
              (3, b + ["--rates", "a-b"], "is not a range of whole numbers"),
              (3, b + ["--rates", "1,2"], "the list has 2 entries but the run has 3 ranks"),
              (3, b + ["--rates", "1,2,3,4"], "more entries than the run has ranks (3)"),
              (3, b + ["--flush-every"], "--flush-every needs a value"),
              (3, b + ["--flush-every", "often"], "--flush-every: 'often' is not a number"),
              (3, b + ["--flush-every", "-1"], "must be >= 0 seconds"),
              (3, b + ["--no-trace=1"], "--no-trace takes no value")]
    c += [(7, base("replay", 7) + ["--rates", "1,2,3"], "the list has 3 entries but the run has 7 ranks")]
    # clocks
    c += [(3, ["clocks", "--duration"], "--duration needs a value"),
          (3, ["clocks", "--duration", "long"], "--duration: 'long' is not a number"),
          (3, ["clocks", "--duration", "0"], "the duration must be > 0"),
          (3, ["clocks", "--duration", "-5"], "the duration must be > 0"),
          (3, ["clocks", "--p-internal"], "--p-internal needs a value"),
          (3, ["clocks", "--p-internal", "half"], "--p-internal: 'half' is not a number"),
          (3, ["clocks", "--p-internal", "1.5"], "is not a probability in [0, 1]"),
          (3, ["clocks", "--p-internal", "-0.1"], "is not a probability in [0, 1]"),
          (3, ["clocks", "--preset"], "--preset needs a value"),
          (3, ["clocks", "--preset", "cs999"], "unknown preset 'cs999'"),
          (4, ["clocks", "--preset", "cs262"], "run it with mpirun -np 3 (this run has 4 ranks)"),
          (1, ["clocks"], "the scale model needs at least 2 ranks")]
    # numbers past what a run can count (issue 12.5): each ran 0 ticks with complete = 1 or never ended
    c += [(3, ["clocks", "--rates", "1e300", "--duration", "1"], "a rate must lie in [1e-06, 1e+09] ticks per second"),
          (3, ["clocks", "--rates", "1e19", "--duration", "1"], "a rate must lie in [1e-06, 1e+09] ticks per second"),
          (3, ["clocks", "--duration", "1e300"], "one run counts at most 1099511627776 ticks"),
          (3, ["clocks", "--speedup", "1e-9"], "the speed-up must lie in [1e-06, 1e+09]"),
          (3, ["clocks", "--flush-every", "1e-9"], "--flush-every: 1e-9: at least 0.01 seconds"),
          (3, ["clocks", "--flush-every", "0.01", "--duration", "36000"], "trace blocks; at most 1000000"),
          (3, ["clocks", "--duration", "1e7", "--speedup", "0.5"], "wall seconds; at most 1e+07"),
          (3, ["byz", "--rates", "1", "--speedup", "1e-5"], "would tick once every 100000 wall seconds"),
          (3, ["byz", "--trials", "1e300"], "--trials: 1e300 is out of range"),
          (3, ["byz", "--seed", "1e20"], "is not a whole number from 0 to 2^64-1")]
    # byz
    c += [(3, ["byz", "-m"], "-m needs a value"),
          (3, ["byz", "--max-traitors"], "--max-traitors needs a value"),
          (3, ["byz", "-m", "x"], "-m: 'x' is not a whole number"),
          (3, ["byz", "-m", "-1"], "-m: -1 is out of range"),
          (3, ["byz", "-m", "2"], "so m <= n-2 = 1"),
          (3, ["byz", "-m3"], "so m <= n-2 = 1"),
          (7, ["byz", "-m", "6"], "so m <= n-2 = 5"),
          (3, ["byz", "-m", "99999999999"], "-m: 99999999999 is out of range"),
          (3, ["byz", "--commander"], "--commander needs a value"),
          (3, ["byz", "--commander", "3"], "--commander: rank 3 does not exist in a run of 3 ranks"),
          (7, ["byz", "--commander", "7"], "--commander: rank 7 does not exist in a run of 7 ranks"),
          (3, ["byz", "--commander", "-1"], "--commander: -1 is out of range"),
          (3, ["byz", "--commander", "one"], "--commander: 'one' is not a whole number"),
          (3, ["byz", "--order"], "--order needs a value"),
          (3, ["byz", "--order", "charge"], "--order: 'charge' is not attack or retreat"),
          (3, ["byz", "--trials"], "--trials needs a value"),
          (3, ["byz", "--trials", "0"], "--trials: 0 is out of range"),
          (3, ["byz", "--trials", "many"], "--trials: 'many' is not a whole number"),
          (3, ["byz", "--trials", "2199023255553"], "--trials: 2199023255553 is out of range"),
          (3, ["byz", "--traitors"], "--traitors needs a value"),
          (3, ["byz", "--traitors", "3"], "--traitors: rank 3 does not exist in a run of 3 ranks"),
          (7, ["byz", "--traitors", "2,7"], "--traitors: rank 7 does not exist in a run of 7 ranks"),
          (3, ["byz", "--traitors", "1,1"], "--traitors: rank 1 is named twice"),
          (3, ["byz", "--traitors", "1,,2"], "is not a list of ranks like 2,5"),
          (3, ["byz", "--traitors", "-1"], "--traitors: rank -1 does not exist"),
          (3, ["byz", "--traitors", "b"], "--traitors: 'b' is not a whole number"),
          (3, ["byz", "-t"], "-t needs a value"),
          (3, ["byz", "--n-traitors"], "--n-traitors needs a value"),
          (3, ["byz", "-t", "4"], "-t: 4 traitors cannot be placed among 3 generals"),
          (3, ["byz", "-t", "-1"], "-t: -1 is out of range"),
          (3, ["byz", "-t", "x"], "-t: 'x' is not a whole number"),
          (3, ["byz", "-t", "1", "--traitors", "1"], "-t and --traitors contradict each other"),
          (3, ["byz", "--strategy"], "--strategy needs a value"),
          (3, ["byz", "--strategy", "evil"], "unknown strategy 'evil'"),
          (3, ["byz", "--strategy", "1:evil"], "unknown strategy 'evil'"),
          (3, ["byz", "--strategy", "5:flip"], "--strategy: rank 5 does not exist in a run of 3 ranks"),
          (3, ["byz", "--strategy", "1:flip,1:silent"], "rank 1 is given two strategies"),
          (3, ["byz", "--strategy", ":flip"], "--strategy: '' is not a whole number"),
          (3, ["byz", "--strategy", "1:flip,"], "is not a strategy or a list like 2:flip,5:silent"),
          (3, ["byz", "-t", "1", "--strategy", "1:flip"], "cannot be combined with -t"),
          (3, ["byz", "--traitors", "1", "--strategy", "2:flip"], "rank 2 has a strategy but is not among --traitors"),
          (3, ["byz", "--wire"], "--wire needs a value"),
          (3, ["byz", "--wire", "tcp"], "--wire: 'tcp' is not round or message"),
          (3, ["byz", "--expect-agreement=1"], "--expect-agreement takes no value"),
          (1, ["byz"], "needs a commander and at least one lieutenant")]
    # bench
    c += [(3, ["bench", "--iterations"], "--iterations needs a value"),
          (3, ["bench", "--iterations", "0"], "--iterations: 0 is out of range"),
          (3, ["bench", "--iterations", "lots"], "--iterations: 'lots' is not a whole number"),
          (3, ["bench", "--max-bytes"], "--max-bytes needs a value"),
          (3, ["bench", "--max-bytes", "0"], "--max-bytes: 0 is out of range"),
          (3, ["bench", "--max-bytes", "67108865"], "--max-bytes: 67108865 is out of range"),
          (3, ["bench", "--max-bytes", "1k"], "--max-bytes: '1k' is not a whole number")]
    return c


def run_case(np_, args, needle, out_rel="out.h5", prepare=None):
    """Runs one case in a fresh empty directory; returns 'ok' (a failed check raises). The directory must be
    exactly as prepared afterwards (no FILE, no FILE.partial, no results/)."""
    d = harness.tmpdir()
    try:
        if prepare:
            prepare(d)
        before = sorted(os.listdir(d))
        full = list(args)
        if args and not any(a.startswith("-o") or a.startswith("--output") for a in args):
            full[1:1] = ["-o", os.path.join(d, out_rel)]  # before the case's options: a missing value stays missing
        cmd = [harness.MPIEXEC, harness.NP_FLAG, str(np_)] + harness.PREFLAGS + [harness.BIN] + full
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=harness.timeout(120), env=harness.mpi_env(), cwd=d)
        out, err, p_rc = p.stdout, p.stderr, p.returncode
        lines = harness.stderr_lines(err)
        ctx = f"mpirun -np {np_} consensus {' '.join(full)}\nstdout: {out!r}\nstderr: {err!r}"
        assert p_rc == 2, f"exit {p_rc}, expected 2\n{ctx}"
        assert len(lines) == 1, f"expected exactly one line on stderr, got {len(lines)}\n{ctx}"
        assert lines[0].startswith("consensus"), f"the line does not say who speaks\n{ctx}"
        assert needle in lines[0], f"{needle!r} not in the line\n{ctx}"
        after = sorted(os.listdir(d))
        assert after == before, f"files left behind: {sorted(set(after) - set(before))}\n{ctx}"
        return "ok"
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_table():
    # Two cases at a time: each is mostly mpirun start-up, and every case has its own directory.
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda case: run_case(*case), cases()))
    n_ok = results.count("ok")
    print(f"  {n_ok} bad command lines rejected correctly")
    assert n_ok >= 100, f"only {n_ok} cases ran"


def test_output_files():
    """-o unwritable, -o a directory, an existing file without --force: for every file-writing
    subcommand with an otherwise valid command line."""
    n_ok = 0
    for sub in RUN_SUBS:
        b = base(sub, 3)
        r = [run_case(3, b + ["-o", "/proc/consensus-test.h5"], "cannot write /proc/consensus-test.h5.partial"),
             run_case(3, b + ["-o", "no/such/dir/x.h5"], "cannot write no/such/dir/x.h5.partial"),
             run_case(3, b, "is a directory", out_rel="adir", prepare=lambda d: os.mkdir(os.path.join(d, "adir"))),
             run_case(3, b, "exists (use --force to overwrite it)",
                      prepare=lambda d: open(os.path.join(d, "out.h5"), "w").write("keep me"))]
        n_ok += r.count("ok")
    assert n_ok == 4 * len(RUN_SUBS), f"{n_ok} of {4 * len(RUN_SUBS)} output-file rules held"
    # the existing file is untouched
    d = harness.tmpdir()
    path = os.path.join(d, "out.h5")
    with open(path, "w") as f:
        f.write("keep me")
    harness.run(3, base("replay", 3) + ["-o", path], expect_rc=2)
    with open(path) as f:
        assert f.read() == "keep me"
    assert sorted(os.listdir(d)) == ["out.h5"]
    shutil.rmtree(d)


def main():
    global SCRIPT7
    d = harness.tmpdir()
    SCRIPT7 = os.path.join(d, "seven.txt")
    with open(SCRIPT7, "w") as f:
        f.write("A->B\nC->D\nE->F\nG->A\n")
    try:
        harness.main([test_table, test_output_files])
    finally:
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
