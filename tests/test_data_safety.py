"""Data safety (issue 12) on the real binary: no run clobbers, shares or half-writes an output.

Each test function is one item of the issue and failed before its fix; ctest runs them in groups
(tests/CMakeLists.txt), `python3 test_data_safety.py NAME...` runs the named ones. Timing is never
asserted: where two runs must overlap, the second starts only once the first holds its file.
"""
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import time

import h5py

import harness

DATA = os.path.join(harness.HERE, "data")
SCRIPT = os.path.join(DATA, "three_process.txt")


def ring_script(d, steps=200, name="ring.txt"):
    """A ring A->B->A of `steps` sends for 2 ranks: at --rates R it takes about steps/R wall seconds."""
    path = os.path.join(d, name)
    with open(path, "w") as f:
        for k in range(steps):
            f.write("AB"[k % 2] + "->" + "AB"[(k + 1) % 2] + "\n")
    return path


def start(np_, args, cwd=None, env_extra=None):
    env = harness.mpi_env()
    env.update(env_extra or {})
    cmd = [harness.MPIEXEC, harness.NP_FLAG, str(np_)] + harness.PREFLAGS + [harness.BIN] + [str(a) for a in args]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=cwd)


def finish(p, timeout=600):
    """Waits for a started run; returns (rc, stdout, its stderr lines: harness.stderr_lines)."""
    out, err = p.communicate(timeout=harness.timeout(timeout))
    return p.returncode, out, harness.stderr_lines(err)


def wait_for(path, p, what="the run never created its file"):
    """Waits until path exists (the run under way); fails if the job ends first. No wall-time
    assertion: the bound only keeps a broken build from hanging the suite."""
    for _ in range(6000):
        if os.path.exists(path) and os.path.getsize(path) > 0:
            return
        if p.poll() is not None:
            raise AssertionError(f"{what}: the job ended first\n{p.communicate()}")
        time.sleep(0.05)
    raise AssertionError(what)


def seed_of(path):
    with h5py.File(path, "r") as f:
        return int(f.attrs["seed"]), int(f.attrs["complete"])


# ---- 12.1: two runs, one output --------------------------------------------------------------------


def test_second_run_refused_at_once():
    """A second run aimed at a file that a live run is writing is refused at once with exit 2 and
    one line naming the file and the holder (pid and host), with or without --force; the first
    run finishes and its file is its own."""
    d = harness.tmpdir()
    out = os.path.join(d, "same.h5")
    ring = ring_script(d)
    first = start(2, ["replay", ring, "--rates", 40, "--seed", 11, "-o", out, "-q"])
    wait_for(out + ".partial", first)
    for force in ([], ["--force"]):
        rc, o, lines = finish(start(2, ["replay", ring, "--seed", 22, "-o", out, "-q"] + force))
        assert rc == 2, f"second run: exit {rc}\n{o}\n{lines}"
        assert len(lines) == 1, lines
        assert re.search(r"same\.h5\.partial is being written by another run \(pid \d+ on \S+, started ", lines[0]), lines
    rc, o, lines = finish(first)
    assert rc == 0 and o.strip() == f"wrote {out}", (rc, o, lines)
    assert seed_of(out) == (11, 1)
    harness.check_schema(out)
    assert sorted(os.listdir(d)) == ["ring.txt", "same.h5"]
    shutil.rmtree(d)


def test_two_runs_started_together():
    """Two runs started at the same moment with the same -o: exactly one writes the file, the
    other is refused (exit 2, one line); the file is the winner's, whole and complete. Before:
    both ran on one FILE.partial, the first said "wrote FILE" and the file held the second run's
    root attributes and garbage events."""
    for force in ([], ["--force"]):
        d = harness.tmpdir()
        out = os.path.join(d, "race.h5")
        ring = ring_script(d)
        runs = {seed: start(2, ["replay", ring, "--rates", 40, "--seed", seed, "-o", out, "-q"] + force) for seed in (1, 2)}
        results = {seed: finish(p) for seed, p in runs.items()}
        winners = [seed for seed, (rc, _, _) in results.items() if rc == 0]
        for seed, (rc, o, lines) in results.items():
            assert rc in (0, 2), f"seed {seed}: exit {rc}\n{o}\n{lines}"
            if rc == 2:
                assert len(lines) == 1 and ("race.h5.partial is being written by another run" in lines[0]
                                            or "race.h5 exists" in lines[0]), lines
        # both finish only if one started after the other had published, and then only with --force
        assert len(winners) == 1 or (force and len(winners) == 2), results
        got_seed, complete = seed_of(out)
        assert complete == 1 and got_seed in winners, (got_seed, winners)
        harness.check_schema(out)
        assert sorted(os.listdir(d)) == ["race.h5", "ring.txt"]
        shutil.rmtree(d)


def test_default_names_unique():
    """Runs started in the same second in one directory get different default names (the name
    had one-second resolution, so they shared one file); under SLURM the name carries the job."""
    d = harness.tmpdir()
    runs = [start(3, ["replay", SCRIPT, "--seed", s, "-q"], cwd=d) for s in (5, 6, 7)]
    names = []
    for p in runs:
        rc, o, lines = finish(p)
        assert rc == 0 and not lines, (rc, o, lines)
        m = re.fullmatch(r"wrote (results/replay-\d{8}T\d{6}\.\d{6}Z-[0-9a-f]{6}\.h5)\n", o)
        assert m, o
        names.append(m.group(1))
    assert len(set(names)) == 3, names
    assert sorted(seed_of(os.path.join(d, n))[0] for n in names) == [5, 6, 7]
    assert sorted(os.listdir(os.path.join(d, "results"))) == sorted(os.path.basename(n) for n in names)
    rc, o, lines = finish(start(3, ["replay", SCRIPT, "-q"], cwd=d,
                                env_extra={"SLURM_JOB_ID": "4242", "SLURM_ARRAY_JOB_ID": "4240", "SLURM_ARRAY_TASK_ID": "2"}))
    assert rc == 0 and re.fullmatch(r"wrote results/replay-\d{8}T\d{6}\.\d{6}Z-j4240_2-[0-9a-f]{6}\.h5\n", o), o
    shutil.rmtree(d)


# ---- 12.2: a partial file left by a crash ----------------------------------------------------------


def test_stale_partial():
    """FILE.partial left by a run that died is refused without --force (one line saying what it
    is and what to do), untouched; --force replaces it. It used to be overwritten silently."""
    d = harness.tmpdir()
    out = os.path.join(d, "left.h5")
    ring = ring_script(d)
    crashed = start(2, ["replay", ring, "--rates", 40, "-o", out, "-q"], env_extra={"OMPI_MCA_orte_execute_quiet": "1"})
    wait_for(out + ".partial", crashed)
    with open(f"/proc/{crashed.pid}/task/{crashed.pid}/children") as f:
        os.kill(int(f.read().split()[0]), signal.SIGKILL)  # a rank dies: its lock dies with it
    finish(crashed)
    assert not os.path.exists(out) and os.path.exists(out + ".partial")
    with open(out + ".partial", "rb") as f:
        before = f.read()
    rc, o, lines = finish(start(3, ["replay", SCRIPT, "-o", out, "-q"]))
    assert rc == 2 and len(lines) == 1, (rc, o, lines)
    assert re.search(r"left\.h5\.partial is left over from a run that did not finish \(pid \d+ on \S+, started .*\) and "
                     r"no run holds it now: inspect or remove it, or use --force to replace it", lines[0]), lines
    with open(out + ".partial", "rb") as f:
        assert f.read() == before, "the left-over file was touched"
    assert not os.path.exists(out)
    rc, o, lines = finish(start(3, ["replay", SCRIPT, "-o", out, "-q", "--force"]))
    assert rc == 0 and not lines, (rc, o, lines)
    assert not os.path.exists(out + ".partial")
    harness.check_schema(out)
    # a partial that is no run's (junk, no owner line) is refused the same way, and kept
    junk = os.path.join(d, "junk.h5")
    with open(junk + ".partial", "w") as f:
        f.write("junk")
    rc, o, lines = finish(start(3, ["replay", SCRIPT, "-o", junk, "-q"]))
    assert rc == 2 and len(lines) == 1 and "junk.h5.partial is left over from a run that did not finish and no run " \
        "holds it now" in lines[0], (rc, o, lines)
    with open(junk + ".partial") as f:
        assert f.read() == "junk"
    shutil.rmtree(d)


# ---- 12.3: --force and things that are not files ---------------------------------------------------


def test_force_replaces_only_regular_files():
    """--force never replaces a device node, a FIFO or a symbolic link (run as root with
    `-o /dev/null --force` it replaced the real /dev/null), nor a FILE.partial that is a link."""
    d = harness.tmpdir()
    targets = {}
    fifo = os.path.join(d, "fifo")
    os.mkfifo(fifo)
    targets[fifo] = "a FIFO"
    victim = os.path.join(d, "victim.txt")
    with open(victim, "w") as f:
        f.write("keep me")
    link = os.path.join(d, "link.h5")
    os.symlink(victim, link)
    targets[link] = "a symbolic link"
    if os.geteuid() == 0:
        dev = os.path.join(d, "null")
        os.mknod(dev, stat.S_IFCHR | 0o666, os.makedev(1, 3))  # the same device as /dev/null
        targets[dev] = "a character device"
    else:
        print("  (not root: the device-node case is skipped; FIFO and link still run)")
    for path, kind in targets.items():
        mode = os.lstat(path).st_mode
        rc, o, lines = finish(start(3, ["replay", SCRIPT, "-o", path, "--force", "-q"]))
        assert rc == 2 and len(lines) == 1, (path, rc, o, lines)
        assert f"-o {path}: is {kind}, not a regular file: consensus never replaces it (--force included)" in lines[0], lines
        assert os.lstat(path).st_mode == mode, f"{path} was replaced"
        assert not os.path.exists(path + ".partial")
    with open(victim) as f:
        assert f.read() == "keep me"
    # FILE.partial as a link to someone else's file: refused, the target untouched
    os.symlink(victim, os.path.join(d, "p.h5.partial"))
    rc, o, lines = finish(start(3, ["replay", SCRIPT, "-o", os.path.join(d, "p.h5"), "--force", "-q"]))
    assert rc == 2 and "p.h5.partial exists and is a symbolic link, not a run file" in lines[0], lines
    with open(victim) as f:
        assert f.read() == "keep me"
    # a regular file is replaced with --force, as before
    regular = os.path.join(d, "old.h5")
    with open(regular, "w") as f:
        f.write("old")
    rc, o, lines = finish(start(3, ["replay", SCRIPT, "-o", regular, "--force", "-q"]))
    assert rc == 0, (rc, o, lines)
    harness.check_schema(regular)
    shutil.rmtree(d)


def test_final_rename_never_replaces():
    """A FILE that appears while the run writes is not replaced without --force (the run stays in
    FILE.partial, exit 1, one line saying so); with --force a regular FILE is replaced, anything
    else never."""
    for force, appear, want_rc in [([], "file", 1), (["--force"], "file", 0), (["--force"], "fifo", 1)]:
        d = harness.tmpdir()
        out = os.path.join(d, "late.h5")
        p = start(2, ["replay", ring_script(d, steps=60), "--rates", 40, "-o", out, "-q"] + force)
        wait_for(out + ".partial", p)
        if appear == "file":
            with open(out, "w") as f:
                f.write("someone else's")
        else:
            os.mkfifo(out)
        rc, o, lines = finish(p)
        assert rc == want_rc, (force, appear, rc, o, lines)
        if want_rc == 0:
            harness.check_schema(out)
            assert not os.path.exists(out + ".partial")
            continue
        assert lines and "late.h5 appeared" in lines[0] and "the run stays in " + out + ".partial" in lines[0], lines
        assert len(lines) == 1, lines
        if appear == "file":
            with open(out) as f:
                assert f.read() == "someone else's"
        else:
            assert stat.S_ISFIFO(os.lstat(out).st_mode)
        harness.check_schema(out + ".partial")
        shutil.rmtree(d)


# ---- 12.4: a replay script is text ------------------------------------------------------------------


def test_script_nul_byte():
    """A NUL byte ended the script silently where it stood: "A->B<NUL>junk<LF>B->C" ran one step and
    said complete = 1. Now the script is refused with its line (exit 2, one line, no file); so is
    text that is not UTF-8."""
    d = harness.tmpdir()
    for name, data, needle in [("nul.txt", b"A->B\0junk\nB->C\n", "nul.txt: line 1: a NUL byte (at byte 5)"),
                               ("late.txt", b"A->B\nB->C\n# end\0", "late.txt: line 3: a NUL byte (at byte 16)"),
                               ("latin1.txt", b"A->B\n# caf\xe9\nB->C\n", "latin1.txt: line 2: byte 11 (0xE9) is not "
                                                                             "valid UTF-8 text")]:
        script = os.path.join(d, name)
        with open(script, "wb") as f:
            f.write(data)
        out = os.path.join(d, "out.h5")
        line = harness.usage_error(3, ["replay", script, "-o", out], needle)
        assert line.startswith("consensus replay: "), line
        assert not os.path.exists(out) and not os.path.exists(out + ".partial")
    shutil.rmtree(d)


# ---- 12.6: a full file system ----------------------------------------------------------------------

SKIP = 77  # ctest's SKIP_RETURN_CODE for this file's full-disk test


def small_filesystem(size):
    """Mounts a tmpfs of `size` on a fresh directory and returns it; exits SKIP with the reason
    when that is not possible (not root, or no right to mount here)."""
    if os.geteuid() != 0:
        print(f"SKIP: a full file system needs a small tmpfs, and mounting one needs root (uid {os.geteuid()})")
        sys.exit(SKIP)
    d = harness.tmpdir()
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", d], capture_output=True, text=True)
    if p.returncode != 0:
        os.rmdir(d)
        print(f"SKIP: cannot mount a tmpfs here: {p.stderr.strip()}")
        sys.exit(SKIP)
    return d


def test_full_filesystem():
    """A run whose file system fills up: before, 62 identical MPI-IO lines and every rank spinning in
    H5Dset_extent for 100+ s (byz), or 14 lines and "HDF5 call failed" (clocks). Now every rank
    stops, the user sees ONE line naming the file and "No space left on device", the exit status
    is 1, and the file is published with what was written before and complete = 0. Both MPI-IO
    implementations of Open MPI (OMPIO, the default here, and ROMIO)."""
    d = small_filesystem("256k")
    try:
        runs = [(3, ["byz", "--trials", 3000]),                                        # fails at the end
                (3, ["clocks", "--rates", 50, "--duration", 60, "--speedup", 10]),       # at a trace block
                (2, ["clocks", "--rates", 200, "--duration", 30, "--speedup", 10, "--flush-every", 0])]  # at the end
        for io in ("", "^ompio"):
            for np_, args in runs:
                out = os.path.join(d, "full.h5")
                env = {"OMPI_MCA_io": io} if io else {}
                rc, o, lines = finish(start(np_, args + ["-o", out, "-q"], env_extra=env))
                ctx = f"{io or 'default io'} {args}: exit {rc}\n{o}\n{lines}"
                assert rc == 1, ctx
                assert len(lines) == 1, ctx
                assert lines[0].startswith(f"consensus: cannot write {out}: No space left on device (rank "), ctx
                assert not os.path.exists(out + ".partial"), ctx
                with h5py.File(out, "r") as f:  # what was written before is readable
                    assert int(f.attrs["complete"]) == 0, ctx
                    assert harness.attr_str(f.attrs["subcommand"]) == args[0]
                os.unlink(out)
    finally:
        subprocess.run(["umount", d])
        os.rmdir(d)


# ---- 12.8: one time base ---------------------------------------------------------------------------


def test_arrive_after_send():
    """Every message's arrive_time is at or after its send event's time: the ranks share one time
    base (node_create: rank 0's clock, exactly, for the ranks of its host). Each rank used to
    start its clock when it left the start-up barrier, and 1-18 messages per rank of every clocks
    run arrived before they were sent (by up to 168 us). Recomputed from /events and /messages."""
    d = harness.tmpdir()
    runs = [(3, ["clocks", "--preset", "cs262", "--speedup", 30]),
            (5, ["clocks", "--rates", "20-60", "--duration", 10, "--speedup", 5, "--p-internal", 0.3]),
            (4, ["byz", "-m", 1, "--wire", "message", "--trials", 20]),
            (3, ["replay", SCRIPT])]
    for np_, args in runs:
        out = os.path.join(d, "t.h5")
        harness.run(np_, args + ["-o", out, "-q", "--force"])
        run = harness.check_schema(out)
        ev, msg = run["events"], run["messages"]
        sent = ev["time"][msg["send_event"]]
        early = msg["arrive_time"] < sent
        assert not early.any(), (f"{args}: {int(early.sum())} of {len(early)} messages arrived before they were "
                                 f"sent, by up to {float((sent - msg['arrive_time']).max()) * 1e6:.1f} us")
        recv = msg["recv_event"] >= 0
        assert (ev["time"][msg["recv_event"][recv]] >= msg["arrive_time"][recv]).all(), f"{args}: taken before arrival"
        assert (ev["time"] >= 0).all(), f"{args}: an event before the common start"
    shutil.rmtree(d)


# ---- 12.7: honest statistics ---------------------------------------------------------------------


def test_lateness_exact_after_stall():
    """A rank stalled for a second (SIGSTOP, then SIGCONT) runs its overdue ticks late by up to a
    second. Its p99 tick lateness used to be reported as 0.100 s: the histogram's overflow edge
    passed off as a value (the true p99 was 4.1-4.8 s after a 5 s stall). Now it is exact and
    equal to the p99 recomputed from /events (clocks_check: deadline k/(rate*speedup), the
    event's time), and so are the maximum and the drift."""
    import clocks_check
    d = harness.tmpdir()
    out = os.path.join(d, "stall.h5")
    p = start(3, ["clocks", "--rates", 50, "--duration", 30, "--speedup", 5, "-o", out, "-q"])
    wait_for(out + ".partial", p)
    # the .partial appears before the ranks agree on their common start: a stall before it would
    # only delay the start (no tick late), so the ranks are left a second to start ticking
    time.sleep(1.0)
    with open(f"/proc/{p.pid}/task/{p.pid}/children") as f:
        kids = [int(k) for k in f.read().split()]
    ranks = {}
    for pid in kids:
        with open(f"/proc/{pid}/environ", "rb") as f:
            env = dict(kv.split(b"=", 1) for kv in f.read().split(b"\0") if b"=" in kv)
        ranks[int(env[b"OMPI_COMM_WORLD_RANK"])] = pid
    os.kill(ranks[1], signal.SIGSTOP)
    time.sleep(1.0)  # the stall itself: its length only decides how late the overdue ticks are
    os.kill(ranks[1], signal.SIGCONT)
    rc, o, lines = finish(p)
    assert rc == 0 and not lines, (rc, o, lines)
    run, cols, _ = clocks_check.check_run(out)  # exact p99, max and drift against /events
    rows = clocks_check.per_rank(run["events"], 3)[1]
    late = clocks_check.lateness_of(run["events"]["time"][rows], float(cols["tick_rate"][1]), 5.0)
    want = clocks_check.p99_nearest_rank(late)
    assert want > 0.1, f"the stall made no tick 100 ms late ({want})"  # a second's stall: ~200 ticks are
    assert int(cols["p99_lateness_bound"][1]) == 0 and float(cols["p99_lateness"][1]) == want, cols
    shutil.rmtree(d)


TESTS = [test_second_run_refused_at_once, test_two_runs_started_together, test_default_names_unique,
         test_stale_partial, test_force_replaces_only_regular_files, test_final_rename_never_replaces,
         test_script_nul_byte, test_full_filesystem, test_arrive_after_send, test_lateness_exact_after_stall]

if __name__ == "__main__":
    wanted = sys.argv[1:]
    harness.main([t for t in TESTS if not wanted or t.__name__ in wanted])
