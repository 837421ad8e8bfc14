"""Replay runs of the real binary: exact vector clocks, the HDF5 file, and bad scripts."""
import os

import numpy as np

import harness

DATA = os.path.join(harness.HERE, "data")


def expected(name):
    with open(os.path.join(DATA, name)) as f:
        return f.read()


def test_three_process_exact_clocks():
    d = harness.tmpdir()
    out_path = os.path.join(d, "replay.h5")
    out, err = harness.run(3, ["replay", os.path.join(DATA, "three_process.txt"), "-o", out_path])
    body = out.split("\n", 1)[1]  # the first line names the script path
    want = expected("three_process.expected")
    assert body == want + f"wrote {out_path}\n", f"stdout differs:\n{body}\n--- expected\n{want}"
    run = harness.check_schema(out_path)
    ev = run["events"]
    # the hand-computed clocks, per rank in local order (A, B, C)
    hand = {
        0: [[1, 2, 1], [2, 2, 1], [3, 2, 1], [4, 2, 4], [5, 2, 4]],
        1: [[0, 1, 1], [0, 2, 1], [0, 3, 1], [3, 4, 1], [3, 5, 1], [5, 6, 4]],
        2: [[0, 0, 1], [2, 2, 2], [3, 2, 3], [3, 2, 4], [3, 5, 5]],
    }
    for r, rows in hand.items():
        assert ev["vc"][ev["rank"] == r].tolist() == rows, f"rank {r}"
    assert ev["lamport"].tolist() == [4, 5, 6, 9, 10, 2, 3, 4, 7, 8, 11, 1, 6, 7, 8, 9]
    # 7 send events, 8 messages (one multicast to two), all delivered
    assert int(np.sum(ev["kind"] == 1)) == 7
    assert len(run["messages"]["src"]) == 8
    assert np.all(run["messages"]["recv_event"] >= 0)
    assert run["ranks"]["n_events"].tolist() == [5, 6, 5]
    assert harness.attr_str(run["attrs"]["subcommand"]) == "replay"
    assert not os.path.exists(out_path + ".partial")


def test_four_ranks_numbers():
    d = harness.tmpdir()
    out_path = os.path.join(d, "r4.h5")
    out, _ = harness.run(4, ["replay", os.path.join(DATA, "four_process_numbers.txt"), "-o", out_path, "-q"])
    assert out == f"wrote {out_path}\n"
    run = harness.check_schema(out_path)
    ev = run["events"]
    last = {r: ev["vc"][ev["rank"] == r][-1].tolist() for r in range(4)}
    assert last == {0: [2, 0, 0, 0], 1: [2, 3, 0, 0], 2: [2, 3, 3, 0], 3: [2, 3, 3, 2]}


def test_bad_scripts():
    d = harness.tmpdir()
    bad = os.path.join(d, "bad.txt")
    with open(bad, "w") as f:
        f.write("A->B\nB->Q\n")
    harness.usage_error(3, ["replay", bad, "-o", os.path.join(d, "x.h5")], "line 2: unknown rank Q")
    with open(bad, "w") as f:
        f.write("A->B\nC->C\n")
    harness.usage_error(3, ["replay", bad, "-o", os.path.join(d, "x.h5")], "line 2: C sends to itself")
    harness.usage_error(2, ["replay", os.path.join(DATA, "three_process.txt")], "line 4: unknown rank C: the run has 2 ranks (up to B)")
    harness.usage_error(4, ["replay", os.path.join(DATA, "three_process.txt")], "names 3 ranks (up to C) but the run has 4")
    harness.usage_error(3, ["replay", os.path.join(d, "missing.txt")], "cannot read")
    assert not os.path.exists(os.path.join(d, "x.h5")) and not os.path.exists(os.path.join(d, "x.h5.partial"))


def test_output_file_rules():
    d = harness.tmpdir()
    out_path = os.path.join(d, "once.h5")
    script = os.path.join(DATA, "three_process.txt")
    harness.run(3, ["replay", script, "-o", out_path, "-q"])
    before = os.path.getmtime(out_path)
    harness.usage_error(3, ["replay", script, "-o", out_path], "exists (use --force")
    assert os.path.getmtime(out_path) == before
    harness.run(3, ["replay", script, "-o", out_path, "-q", "--force"])
    harness.usage_error(3, ["replay", script, "-o", os.path.join(d, "no", "such", "dir.h5")], "cannot write")
    harness.usage_error(3, ["replay", script, "-o", d], "is a directory")
    # the default name goes under results/ in the working directory
    out, _ = harness.run(3, ["replay", script, "-q"], cwd=d)
    written = out.split()[-1]
    assert written.startswith("results/replay-") and written.endswith(".h5")
    harness.check_schema(os.path.join(d, written))


def test_untraced_run_keeps_schema():
    d = harness.tmpdir()
    out_path = os.path.join(d, "quiet.h5")
    harness.run(3, ["replay", os.path.join(DATA, "three_process.txt"), "-o", out_path, "--no-trace", "-q"])
    run = harness.check_schema(out_path)
    assert len(run["events"]["rank"]) == 0 and len(run["messages"]["src"]) == 0
    assert run["ranks"]["n_events"].tolist() == [5, 6, 5]


if __name__ == "__main__":
    harness.main([test_three_process_exact_clocks, test_four_ranks_numbers, test_bad_scripts,
                  test_output_file_rules, test_untraced_run_keeps_schema])
