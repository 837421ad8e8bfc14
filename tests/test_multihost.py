"""Runs across "hosts" over TCP (issue 17): the real binary on 3 network namespaces made by
tests/multihost/hosts.sh, each with its own hostname, talking only through Open MPI's TCP
transport over veth pairs, writing to the one shared file system. Every result is compared with
the same run on one host (shared memory).

Run it through the script, which makes the hosts and removes them afterwards (ctest does this):
    tests/multihost/hosts.sh 3 /usr/bin/python3 tests/test_multihost.py [TEST...]
"""
import math
import os
import signal
import subprocess
import sys
import time

import h5py
import numpy as np

import clocks_check
import harness
import test_bench

HOSTS = os.environ.get("MULTIHOST_HOSTS", "").split()
HOSTFILE = os.environ.get("MULTIHOST_HOSTFILE", "")
DATA = os.path.join(harness.HERE, "data")
# the settings hosts.sh exports for the namespace hosts; a one-host run must not inherit them
MULTIHOST_MCA = ["OMPI_MCA_plm_rsh_agent", "OMPI_MCA_plm_rsh_no_tree_spawn", "OMPI_MCA_btl",
                 "OMPI_MCA_btl_tcp_if_include", "OMPI_MCA_oob_tcp_if_include", "OMPI_MCA_mpi_yield_when_idle"]


def env_one_host():
    """The environment of a one-host run: shared memory, as every other test runs."""
    env = harness.mpi_env()
    for k in MULTIHOST_MCA:
        env.pop(k, None)
    env["OMPI_MCA_btl"] = "self,vader"
    return env


def env_hosts(extra=None):
    """The environment of a run over the hosts: hosts.sh's settings (TCP only, the agent)."""
    env = harness.mpi_env()
    assert all(env.get(k) for k in MULTIHOST_MCA), "run this under tests/multihost/hosts.sh"
    env.update(extra or {})
    return env


def cmd_hosts(np_, args):
    """mpirun over the namespace hosts, one rank per host in turn (rank r on host r mod 3)."""
    return ([harness.MPIEXEC, harness.NP_FLAG, str(np_)] + harness.PREFLAGS +
            ["--hostfile", HOSTFILE, "--map-by", "node", harness.BIN] + [str(a) for a in args])


def run(np_, args, hosts, timeout=300):
    """One run on the namespace hosts (hosts=True) or on this host; exit 0; returns stdout."""
    if hosts:
        cmd, env = cmd_hosts(np_, args), env_hosts()
    else:
        cmd = [harness.MPIEXEC, harness.NP_FLAG, str(np_)] + harness.PREFLAGS + [harness.BIN] + [str(a) for a in args]
        env = env_one_host()
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=harness.timeout(timeout), env=env)
    if p.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)}\nexit {p.returncode}\n--- stdout\n{p.stdout}\n--- stderr\n{p.stderr}")
    return p.stdout


def hostnames(path):
    with h5py.File(path, "r") as f:
        return [harness.attr_str(h) for h in f["ranks"]["hostname"][...]]


def check_spread(path, np_):
    """Rank r ran on host r mod 3 (the --map-by node placement), so all 3 hosts took part."""
    names = hostnames(path)
    assert names == [HOSTS[r % len(HOSTS)] for r in range(np_)], names
    assert len(set(names)) == len(HOSTS) == 3, names


def byz_columns(path):
    with h5py.File(path, "r") as f:
        b = f["byz"]
        cols = {c: b[c][...] for c in b if c != "seconds"}
        oral = None
        if "byz_oral" in f:
            o = f["byz_oral"]
            oral = sorted(zip(o["trial"][...].tolist(), o["round"][...].tolist(), o["src"][...].tolist(),
                              o["dst"][...].tolist(), o["value"][...].tolist(), map(tuple, o["path"][...].tolist())))
    return cols, oral


def test_byz_both_wires():
    """OM(2) among 7 generals with 2 random traitors, 4 trials, in both wire modes: every /byz
    column (decisions, traitors, IC1/IC2, oral and MPI message counts, bytes) and, in message
    mode, every oral message (trial, round, src, dst, value, path) equal the one-host run."""
    d = harness.tmpdir()
    for wire in ("round", "message"):
        args = ["byz", "-m", 2, "-t", 2, "--strategy", "random", "--trials", 4, "--seed", 17, "--wire", wire, "-q"]
        one, many = os.path.join(d, f"one-{wire}.h5"), os.path.join(d, f"hosts-{wire}.h5")
        run(7, args + ["-o", one], hosts=False)
        run(7, args + ["-o", many], hosts=True)
        check_spread(many, 7)
        assert len(set(hostnames(one))) == 1
        a, oral_a = byz_columns(one)
        b, oral_b = byz_columns(many)
        assert sorted(a) == sorted(b)
        for c in a:
            assert np.array_equal(a[c], b[c]), f"{wire}: /byz/{c} differs across hosts:\n{a[c]}\n{b[c]}"
        assert int(a["oral_messages"].sum()) > 0
        if wire == "message":
            assert oral_a and oral_a == oral_b, f"/byz_oral differs ({len(oral_a)} against {len(oral_b)} rows)"
        harness.check_schema(many)


def test_clocks_collective_file():
    """clocks on 6 ranks over 3 hosts with a trace block every 0.25 s: the file, written
    collectively from all hosts in several blocks, passes every clocks check (vector clocks equal
    happens-before, Lamport rule, drift, lateness, counts), and every rank has events in it."""
    d = harness.tmpdir()
    path = os.path.join(d, "clocks.h5")
    run(6, ["clocks", "--rates", "10,20,30,40,50,60", "--duration", 3, "--speedup", 1, "--flush-every", 0.25,
            "--seed", 5, "-q", "-o", path], hosts=True)
    run_, cols, _ = clocks_check.check_run(path)
    check_spread(path, 6)
    assert all(k > 0 for k in run_["ranks"]["n_events"].tolist())
    assert int(run_["attrs"]["trace_blocks"]) >= 2, run_["attrs"]["trace_blocks"]
    # each rank's tick count is exact, whichever host it ran on
    assert cols["ticks"].tolist() == [math.ceil(3 * r) for r in (10, 20, 30, 40, 50, 60)]


def test_replay_exact():
    """replay of tests/data/three_process.txt with A, B and C on three hosts: stdout and every
    event's Lamport and vector clock equal the one-host run's (and the checked-in expectation)."""
    d = harness.tmpdir()
    script = os.path.join(DATA, "three_process.txt")
    one, many = os.path.join(d, "one.h5"), os.path.join(d, "hosts.h5")
    out_one = run(3, ["replay", script, "-o", one], hosts=False)
    out_many = run(3, ["replay", script, "-o", many], hosts=True)
    assert out_many.replace(many, one) == out_one, f"stdout differs:\n{out_many}\n--- one host\n{out_one}"
    with open(os.path.join(DATA, "three_process.expected")) as f:
        assert out_many.split("\n", 1)[1] == f.read() + f"wrote {many}\n"
    a, b = harness.check_schema(one), harness.check_schema(many)
    for c in ("rank", "seq", "kind", "lamport", "vc", "peer"):
        assert np.array_equal(a["events"][c], b["events"][c]), f"/events/{c} differs"
    for c in ("src", "dst", "send_event", "recv_event", "bytes"):
        assert np.array_equal(a["messages"][c], b["messages"][c]), f"/messages/{c} differs"
    check_spread(many, 3)


def bench_rows(path):
    """{(test, n, m, payload): (runtime, baseline, ratio)} from a bench file's /bench."""
    with h5py.File(path, "r") as f:
        b = f["bench"]
        codes = dict(kv.split("=") for kv in harness.attr_str(b.attrs["test_codes"]).split(","))
        names = {int(v): k for k, v in codes.items()}
        cols = {c: b[c][...] for c in ("test", "n", "m", "payload", "runtime", "baseline", "ratio")}
    out = {}
    for k in range(len(cols["test"])):
        key = (names[int(cols["test"][k])], int(cols["n"][k]), int(cols["m"][k]), int(cols["payload"][k]))
        out[key] = (float(cols["runtime"][k]), float(cols["baseline"][k]), float(cols["ratio"][k]))
    return out


def netem(action):
    """Adds (or removes) 1 ms of latency on every host's link (tc netem on each mh0, so a round
    trip between two hosts gains 2 ms). Returns None, or why it cannot be done here."""
    for host in HOSTS:
        cmd = ["ip", "netns", "exec", host, "tc", "qdisc", action, "dev", "mh0", "root"]
        if action == "add":
            cmd += ["netem", "delay", "1ms"]
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode != 0:
            return (p.stderr or p.stdout).strip() or f"exit {p.returncode}"
    return None


def test_bench_tcp_beside_shared_memory():
    """bench on 3 ranks, one per host (TCP between every pair), and the same on one host (shared
    memory): both tables complete (tests/test_bench.py's rules), every ratio finite and positive;
    the rows are printed side by side. With tc netem available, a third run with 1 ms of latency
    per link. Times are printed, never asserted."""
    d = harness.tmpdir()
    args = ["bench", "--iterations", 200, "--max-bytes", 4096, "--om-max-oral", 2000, "-q"]
    paths = {"shm": os.path.join(d, "shm.h5"), "tcp": os.path.join(d, "tcp.h5")}
    run(3, args + ["-o", paths["shm"]], hosts=False)
    run(3, args + ["-o", paths["tcp"]], hosts=True)
    why = netem("add")
    if why is None:
        try:
            paths["tcp+1ms"] = os.path.join(d, "netem.h5")
            run(3, args + ["-o", paths["tcp+1ms"]], hosts=True, timeout=900)
        finally:
            assert netem("del") is None, "could not remove the netem qdisc"
    check_spread(paths["tcp"], 3)
    rows = {k: bench_rows(p) for k, p in paths.items()}
    want = test_bench.expected_rows(3, 4096, 2000)
    for k, r in rows.items():
        assert list(r) == want, f"{k}: rows {list(r)} != {want}"
        for key, (runtime, baseline, ratio) in r.items():
            assert all(math.isfinite(x) and x > 0 for x in (runtime, baseline, ratio)), (k, key)
    print(f"{'test':<15} {'n':>2} {'m':>2} {'payload':>7}  " + "  ".join(f"{k + ' runtime':>17} {k + ' raw':>14}" for k in rows))
    for key in want:
        if key[0] in ("pingpong_node", "pingpong_codec", "rate_untraced", "rate_traced", "h5_write", "om_round",
                      "om_message") and (key[0] != "pingpong_codec" or key[1] == 3):
            unit = 1e6 if key[0].startswith("pingpong") else 1
            cells = "  ".join(f"{rows[k][key][0] * unit:17.4g} {rows[k][key][1] * unit:14.4g}" for k in rows)
            m, payload = ("-" if v < 0 else v for v in key[2:])
            print(f"{key[0]:<15} {key[1]:>2} {m:>2} {payload:>7}  {cells}")
    print("(ping-pong: one-way µs; rates: messages, events or oral messages per second)")
    if why is not None:
        print(f"no netem case: tc netem is not available here ({why})")


def namespace_pids(host):
    p = subprocess.run(["ip", "netns", "pids", host], capture_output=True, text=True, check=True)
    return [int(x) for x in p.stdout.split()]


def comm(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except FileNotFoundError:
        return ""


def read_partial(path):
    """Every /events and /messages column of a run file being written, or None if it cannot be
    read yet (no trace datasets, or caught between writes)."""
    try:
        with h5py.File(path, "r") as f:
            if "events" not in f or "messages" not in f:
                return None
            ev = {c: f["events"][c][...] for c in harness.EVENT_COLUMNS}
            msg = {c: f["messages"][c][...] for c in harness.MESSAGE_COLUMNS}
            complete = int(f.attrs["complete"])
            n = int(f.attrs["n_ranks"])
    except (OSError, KeyError):
        return None
    return {"events": ev, "messages": msg, "complete": complete, "n": n}


def blocks_in(ev):
    """Trace blocks in the file: rows are grouped by rank within a block, so a block starts
    wherever the rank column goes down."""
    r = ev["rank"]
    return 0 if len(r) == 0 else 1 + int(np.sum(np.diff(r) < 0))


def test_host_lost():
    """A host lost mid-run: clocks on 6 ranks (2 per host) with a trace block every 0.25 s. Once
    the file holds 2 blocks, host 3 freezes (SIGSTOP to every process in its namespace, so the
    file stops changing and can be read), the file is read, then everything in that namespace is
    killed (SIGKILL: its daemon and both ranks). mpirun must end the job (bounded wait, non-zero
    status, a message naming the loss), no process may be left in any host, no file may claim
    completeness (no FILE, FILE.partial has complete = 0), and FILE.partial must hold every block
    read before the loss, unchanged, with clocks equal to happens-before."""
    d = harness.tmpdir()
    out = os.path.join(d, "lost.h5")
    partial = out + ".partial"
    cmd = cmd_hosts(6, ["clocks", "--rates", 40, "--duration", 3600, "--speedup", 1, "--flush-every", 0.25,
                        "-q", "-o", out])
    # mpirun's own report is the clear message: keep it (the harness silences mpirun otherwise)
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env=env_hosts({"OMPI_MCA_orte_execute_quiet": "0"}))
    victim = HOSTS[2]
    try:
        before = None
        for _ in range(int(harness.timeout(120) / 0.1)):
            assert p.poll() is None, f"the run ended early: {p.communicate()}"
            snap = read_partial(partial) if os.path.exists(partial) else None
            if snap and blocks_in(snap["events"]) >= 2:
                break
            time.sleep(0.1)
        else:
            raise AssertionError("the run never wrote 2 trace blocks")
        pids = namespace_pids(victim)
        assert sorted(comm(x) for x in pids).count("consensus") == 2, [comm(x) for x in pids]
        for x in pids:
            os.kill(x, signal.SIGSTOP)
        # the others now wait for the frozen ranks at the next block; settle until the file is still
        last, still = None, 0
        for _ in range(int(harness.timeout(60) / 0.2)):
            st = os.stat(partial)
            now = (st.st_size, st.st_mtime_ns)
            still = still + 1 if now == last else 0
            last = now
            if still >= 5:
                break
            time.sleep(0.2)
        before = read_partial(partial)
        assert before is not None, "FILE.partial could not be read while the host was frozen"
        assert blocks_in(before["events"]) >= 2
        for x in namespace_pids(victim):
            os.kill(x, signal.SIGKILL)
        try:
            _, err = p.communicate(timeout=harness.timeout(60))
        except subprocess.TimeoutExpired:
            raise AssertionError("mpirun did not end the job after the host was lost")
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode != 0, f"mpirun exit {p.returncode} after a host was lost"
    assert "lost communication with a remote daemon" in err and f"on node {victim}" in err, err
    # no rank hangs: every host is empty once mpirun is gone (its daemons take their ranks down)
    for _ in range(int(harness.timeout(30) / 0.2)):
        left = {h: [comm(x) for x in namespace_pids(h)] for h in HOSTS}
        if not any(left.values()):
            break
        time.sleep(0.2)
    assert not any(left.values()), f"processes left on the hosts: {left}"
    # no file claims completeness, and the partial holds every block written before the loss
    assert not os.path.exists(out), "a file claims to be finished"
    after = read_partial(partial)
    assert after is not None, "FILE.partial is not readable after the loss"
    assert after["complete"] == 0
    E, M = len(before["events"]["rank"]), len(before["messages"]["src"])
    assert E > 0 and M > 0
    assert len(after["events"]["rank"]) >= E and len(after["messages"]["src"]) >= M
    for c in harness.EVENT_COLUMNS:
        assert np.array_equal(after["events"][c][:E], before["events"][c]), f"/events/{c} changed"
    for c in harness.MESSAGE_COLUMNS:
        assert np.array_equal(after["messages"][c][:M], before["messages"][c]), f"/messages/{c} changed"
    ev, msg, n = after["events"], after["messages"], after["n"]
    rows = clocks_check.per_rank(ev, n)
    for r in range(n):
        assert np.array_equal(ev["seq"][rows[r]], np.arange(len(rows[r]))), f"rank {r}: seq has a gap"
        assert len(rows[r]) > 0, f"rank {r} has no events"
    assert np.all(msg["recv_event"] >= 0) and np.all(msg["send_event"] < len(ev["rank"]))
    clocks_check.check_happens_before(ev, msg, n, rows)
    print(f"host {victim} lost after {blocks_in(before['events'])} blocks ({E} events); "
          f"FILE.partial holds {blocks_in(ev)} blocks ({len(ev['rank'])} events)")


def main():
    if len(HOSTS) != 3 or not HOSTFILE:
        print("test_multihost.py: run it through tests/multihost/hosts.sh 3 (it makes the hosts)", file=sys.stderr)
        sys.exit(2)
    tests = [test_byz_both_wires, test_clocks_collective_file, test_replay_exact, test_bench_tcp_beside_shared_memory,
             test_host_lost]
    names = sys.argv[1:]
    harness.main([t for t in tests if not names or t.__name__ in names])


if __name__ == "__main__":
    main()
