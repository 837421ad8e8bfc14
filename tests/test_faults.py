"""The fault layer (--drop, --duplicate, --delay, --partition, --crash) on real runs of every
protocol: each fault exactly where its spec and its seeded draws put it, recorded per message,
and every faulty file still valid for postprocess/check.py (vector clocks equal happens-before)."""
import os
import subprocess
import sys

import h5py
import numpy as np

import harness

sys.path.insert(0, os.path.join(harness.HERE, "fuzz"))
from make_seeds import rng_hash  # noqa: E402  (src/rng.c's hash, written once in Python)

SCRIPT = os.path.join(harness.HERE, "data", "three_process.txt")
CHECK = os.path.join(harness.SOURCE, "postprocess", "check.py")
DELIVERED, UNDELIVERED, DROPPED, PARTITION, CRASHED, DUPLICATE = range(6)


def draw(seed, purpose, src, dst, link):
    return (rng_hash(int(seed), int(purpose), int(src), int(dst), int(link)) >> 11) * 2.0 ** -53


RNG_FAULT_DROP, RNG_FAULT_DUPLICATE = 7, 8


def valid(path):
    """postprocess/check.py accepts the file: clocks equal happens-before, every message accounted for."""
    p = subprocess.run([sys.executable, CHECK, path], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr


def spacetime(path, *args):
    """postprocess/spacetime.py's report of what it drew (lost messages, partitions, crashes)."""
    out = path[:-3] + ".png"
    p = subprocess.run([sys.executable, os.path.join(harness.SOURCE, "postprocess", "spacetime.py"), path, "-o", out,
                        *args], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0 and os.path.getsize(out) > 0, p.stdout + p.stderr
    return p.stdout


def load(path):
    run = harness.check_schema(path)
    with h5py.File(path, "r") as f:
        run["faults"] = dict(f["faults"].attrs) if "faults" in f else {}
    return run


def links(run):
    """Each message's link number: its place among the data messages from src to dst, in the
    sender's order (send event seq); second copies take their first copy's number."""
    msg, ev = run["messages"], run["events"]
    seq = ev["seq"][msg["send_event"]]
    link = np.full(len(msg["src"]), -1)
    first = msg["fate"] != DUPLICATE
    for (s, d) in set(zip(msg["src"][first].tolist(), msg["dst"][first].tolist())):
        rows = np.where(first & (msg["src"] == s) & (msg["dst"] == d))[0]
        link[rows[np.argsort(seq[rows])]] = np.arange(len(rows))
    for k in np.where(~first)[0]:  # the copy of the first copy with the same send event and dst
        twin = np.where(first & (msg["send_event"] == msg["send_event"][k]) & (msg["dst"] == msg["dst"][k]))[0]
        link[k] = link[twin[0]]
    return link


def test_drop_pattern_is_the_seeded_draw():
    # replay sends the same messages in every run: each one is lost exactly when its draw says so
    d = harness.tmpdir()
    for seed in (1, 2, 3):
        path = os.path.join(d, f"drop{seed}.h5")
        out, _ = harness.run(3, ["replay", SCRIPT, "--drop", 0.5, "--seed", seed, "-q", "-o", path])
        assert "faults:" in out
        run = load(path)
        msg, link = run["messages"], links(run)
        want = [DROPPED if draw(seed, RNG_FAULT_DROP, s, t, k) < 0.5 else DELIVERED
                for s, t, k in zip(msg["src"], msg["dst"], link)]
        assert msg["fate"].tolist() == want, (seed, msg["fate"].tolist(), want)
        assert np.all((msg["recv_event"] >= 0) == (msg["fate"] == DELIVERED))
        assert float(run["faults"]["drop"]) == 0.5
        valid(path)


def test_drop_fraction_and_duplicates_in_clocks():
    d = harness.tmpdir()
    path = os.path.join(d, "clocks.h5")
    harness.run(3, ["clocks", "--rates", 400, "--duration", 2, "--speedup", 2, "--drop", 0.25, "--duplicate", 0.2,
                    "--seed", 7, "-q", "-o", path], timeout=120)
    run = load(path)
    msg = run["messages"]
    first = msg["fate"] != DUPLICATE
    n = int(first.sum())
    dropped = int((msg["fate"] == DROPPED).sum())
    assert n > 400, n
    sigma = (n * 0.25 * 0.75) ** 0.5
    assert abs(dropped - 0.25 * n) < 5 * sigma, (dropped, n)  # binomial bounds, 5 sigma
    # exactly the seeded draws, link by link
    link = links(run)
    for k in np.where(first)[0]:
        lost = draw(7, RNG_FAULT_DROP, msg["src"][k], msg["dst"][k], link[k]) < 0.25
        assert (msg["fate"][k] == DROPPED) == lost, k
    copies = {(int(msg["send_event"][k]), int(msg["dst"][k])) for k in np.where(~first)[0]}
    for k in np.where(first & (msg["fate"] != DROPPED))[0]:
        twin = draw(7, RNG_FAULT_DUPLICATE, msg["src"][k], msg["dst"][k], link[k]) < 0.2
        assert ((int(msg["send_event"][k]), int(msg["dst"][k])) in copies) == twin, k
    valid(path)


def test_duplicates_merge_idempotently():
    d = harness.tmpdir()
    path = os.path.join(d, "dup.h5")
    harness.run(3, ["replay", SCRIPT, "--duplicate", 1, "-q", "-o", path])
    run = load(path)
    msg, ev = run["messages"], run["events"]
    assert (msg["fate"] == DUPLICATE).sum() == (msg["fate"] == DELIVERED).sum() == 8
    taken = np.where((msg["fate"] == DUPLICATE) & (msg["recv_event"] >= 0))[0]
    assert len(taken) > 0  # a copy still queued when its rank's script ended stays undelivered (recv -1)
    for k in taken:
        twin = np.where((msg["fate"] == DELIVERED) & (msg["send_event"] == msg["send_event"][k]) &
                        (msg["dst"] == msg["dst"][k]))[0][0]
        r, first, again = msg["dst"][k], msg["recv_event"][twin], msg["recv_event"][k]
        assert first >= 0
        if ev["seq"][first] < ev["seq"][again]:  # merged twice: the second adds only the receive's own tick
            prev = np.where((ev["rank"] == r) & (ev["seq"] == ev["seq"][again] - 1))[0][0]
            want = ev["vc"][prev].copy()
            want[r] += 1
            assert np.array_equal(ev["vc"][again], want), (ev["vc"][again], want)
    valid(path)


def test_delay_holds_messages():
    d = harness.tmpdir()
    path = os.path.join(d, "delay.h5")
    out, _ = harness.run(3, ["clocks", "--rates", 100, "--duration", 2, "--speedup", 2, "--delay", 0.2, "-o", path])
    run = load(path)
    msg, ev = run["messages"], run["events"]
    got = msg["recv_event"] >= 0
    send_t = ev["time"][msg["send_event"]]
    # held about 0.2 model s (0.1 wall s) on average: far longer than the machine's own latency
    assert np.mean(msg["arrive_time"][got] - send_t[got]) > 0.05, np.mean(msg["arrive_time"][got] - send_t[got])
    assert "delayed" in out
    valid(path)


def test_partition_cuts_exactly_its_window():
    d = harness.tmpdir()
    path = os.path.join(d, "part.h5")
    speedup, lo, hi = 2.0, 0.5, 1.25
    harness.run(3, ["clocks", "--rates", 200, "--duration", 2, "--speedup", speedup, "--partition", f"0|1,2@{lo}-{hi}",
                    "-q", "-o", path])
    run = load(path)
    msg = run["messages"]
    across = (msg["src"] == 0) != (msg["dst"] == 0)
    t = msg["arrive_time"] * speedup
    inside = (t >= lo) & (t < hi)
    cut = msg["fate"] == PARTITION
    assert np.array_equal(cut, across & inside), "a partition lets nothing through while it lasts, all else passes"
    assert cut.sum() > 0 and (across & ~inside & (msg["recv_event"] >= 0)).sum() > 0
    with h5py.File(path, "r") as f:
        assert harness.attr_str(f["faults"].attrs["partition"]) == f"0|1,2@{lo}-{hi}"
        assert harness.attr_str(f["faults"].attrs["time_unit"]) == "model seconds"
    valid(path)
    drawn = spacetime(path)
    assert f"{int(cut.sum())} lost, 1 partitions, 0 crashes" in drawn, drawn


def test_crash_mid_run_in_clocks():
    d = harness.tmpdir()
    path = os.path.join(d, "crash.h5")
    out, _ = harness.run(3, ["clocks", "--rates", 100, "--duration", 2, "--speedup", 2, "--crash", "1@1", "-o", path])
    run = load(path)
    ev, msg = run["events"], run["messages"]
    assert run["ranks"]["crash_time"].tolist() == [-1, 1, -1]
    assert np.all(ev["time"][ev["rank"] == 1] * 2 < 1), "a crashed rank makes no event"
    assert np.sum(ev["rank"] == 1) > 0
    late = (msg["dst"] == 1) & (msg["arrive_time"] * 2 >= 1)
    assert late.sum() > 0 and np.all(msg["fate"][late] == CRASHED)
    assert "rank 1 lost" in out and "crashed" in out
    valid(path)
    drawn = spacetime(path, "--x", "time")
    assert f"{int((msg['fate'] == CRASHED).sum())} lost, 0 partitions, 1 crashes" in drawn, drawn


def assert_crash_is_silence(crashed, silent, n, rank):
    """A run where `rank` crashed before round 0 and one where it was a silent traitor: the same
    decisions for every other general, the same oral messages and IC1/IC2, crash time 0."""
    with h5py.File(crashed, "r") as a, h5py.File(silent, "r") as b:
        others = [r for r in range(n) if r != rank]
        assert np.array_equal(a["byz"]["decision"][:, others], b["byz"]["decision"][:, others])
        for c in ("oral_messages", "ic1", "ic2"):
            assert np.array_equal(a["byz"][c][...], b["byz"][c][...]), c
        assert a["ranks"]["crash_time"][rank] == 0


def test_crash_before_round_0_is_a_silent_traitor():
    d = harness.tmpdir()
    for wire in ("round", "message"):
        crashed, silent = os.path.join(d, f"crash-{wire}.h5"), os.path.join(d, f"silent-{wire}.h5")
        harness.run(7, ["byz", "-m", 2, "--wire", wire, "--trials", 2, "--crash", "3@0", "-q", "-o", crashed])
        harness.run(7, ["byz", "-m", 2, "--wire", wire, "--trials", 2, "--traitors", 3, "--strategy", "silent", "-q",
                        "-o", silent])
        assert_crash_is_silence(crashed, silent, 7, 3)
        valid(crashed)


def test_sm_crash_before_round_0_is_a_silent_traitor():
    # SM(m) takes the same fault layer; its key exchange before trial 0 is exempt
    d = harness.tmpdir()
    crashed, silent = os.path.join(d, "sm-crash.h5"), os.path.join(d, "sm-silent.h5")
    harness.run(5, ["byz", "--algorithm", "sm", "--trials", 2, "--crash", "2@0", "-q", "-o", crashed])
    harness.run(5, ["byz", "--algorithm", "sm", "--trials", 2, "--traitors", 2, "--strategy", "silent", "-q",
                    "-o", silent])
    assert_crash_is_silence(crashed, silent, 5, 2)
    valid(crashed)
    lossy = os.path.join(d, "sm-drop.h5")
    out, _ = harness.run(5, ["byz", "--algorithm", "sm", "--trials", 3, "--drop", 0.3, "--seed", 3, "-o", lossy])
    assert "faults:" in out
    valid(lossy)


def test_byz_faults_compose():
    d = harness.tmpdir()
    path = os.path.join(d, "byz.h5")
    out, _ = harness.run(7, ["byz", "-m", 2, "--trials", 3, "--drop", 0.2, "--duplicate", 0.2, "--delay", 0.001,
                             "--partition", "0,1,2|3,4,5,6@1-2", "--crash", "6@2", "-t", 1, "--strategy", "flip",
                             "-o", path])
    run = load(path)
    msg = run["messages"]
    for fate in (DROPPED, PARTITION, DUPLICATE):
        assert np.any(msg["fate"] == fate), fate
    assert "faults:" in out and "(crashed)" in out
    with h5py.File(path, "r") as f:
        assert harness.attr_str(f["faults"].attrs["time_unit"]) == "rounds of a trial"
    valid(path)


def test_bad_specs():
    harness.usage_error(3, ["clocks", "--drop", 1.5], "--drop: 1.5 is not a probability")
    harness.usage_error(3, ["clocks", "--duplicate", -0.1], "--duplicate")
    harness.usage_error(3, ["clocks", "--delay", -1], "--delay")
    harness.usage_error(3, ["clocks", "--partition", "0,1|1,2@1-2"], "rank 1 is in two groups")
    harness.usage_error(3, ["clocks", "--partition", "0|9@1-2"], "rank 9 does not exist")
    harness.usage_error(3, ["clocks", "--partition", "0|1@2-1"], "FROM must be before TO")
    harness.usage_error(3, ["clocks", "--partition", "0|1"], "expected GROUP|GROUP")
    harness.usage_error(3, ["clocks", "--duration", 5, "--crash", "1@99"], "past the end of the run")
    harness.usage_error(3, ["clocks", "--crash", "9@1"], "rank 9 does not exist")
    harness.usage_error(3, ["clocks", "--crash", "1@1,1@2"], "crashes twice")
    harness.usage_error(7, ["byz", "-m", 2, "--crash", "1@5"], "past the end of the run (round 2)")
    harness.usage_error(3, ["bench", "--drop", 0.1], "--drop")


if __name__ == "__main__":
    only = sys.argv[1:]
    tests = [test_bad_specs, test_drop_pattern_is_the_seeded_draw, test_duplicates_merge_idempotently,
             test_crash_before_round_0_is_a_silent_traitor, test_sm_crash_before_round_0_is_a_silent_traitor,
             test_byz_faults_compose, test_partition_cuts_exactly_its_window,
             test_crash_mid_run_in_clocks, test_delay_holds_messages, test_drop_fraction_and_duplicates_in_clocks]
    harness.main([t for t in tests if not only or t.__name__ in only])
