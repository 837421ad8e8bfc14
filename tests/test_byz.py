"""OM(m) runs of the real binary checked against the sequential reference, in both wire modes."""
import os
import sys

import h5py
import numpy as np

import harness
import byz_reference as ref

STRATEGIES = ["flip", "split", "random", "silent", "garbage"]


def byz_run(np_, args, expect_rc=0):
    """Runs `consensus byz` (OM or SM, as args say) and reads back /byz, its attributes (text
    decoded), /byz_oral and /messages (None where absent), stdout and the file's path."""
    d = harness.tmpdir()
    path = os.path.join(d, "byz.h5")
    out, err = harness.run(np_, ["byz", "-o", path] + [str(a) for a in args], expect_rc=expect_rc)
    run = harness.check_schema(path)
    with h5py.File(path, "r") as f:
        g = f["byz"]
        run["byz"] = {k: g[k][...] for k in g}
        run["byz_attrs"] = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in g.attrs.items()}
        run["oral"] = {k: f["byz_oral"][k][...] for k in f["byz_oral"]} if "byz_oral" in f else None
        run["messages"] = {k: f["messages"][k][...] for k in f["messages"]} if "messages" in f else None
    run["stdout"] = out
    run["path"] = path
    return run


def check_against_reference(run, n, m, commander=0, order=ref.ATTACK):
    """Every trial: the reference's decision for every lieutenant, and IC1/IC2 as recorded."""
    b = run["byz"]
    T = len(b["ic1"])
    for t in range(T):
        traitors = {r: STRATEGIES[b["strategy"][t, r]] for r in range(n) if b["traitor"][t, r]}
        want = ref.decisions(n, m, commander, order, traitors)
        got = b["decision"][t].tolist()
        assert got == want, f"n={n} m={m} trial {t} traitors {traitors}: got {got}, want {want}"
        loyal = [r for r in range(n) if r != commander and r not in traitors]
        ic1 = len({got[r] for r in loyal}) <= 1
        ic2 = commander in traitors or all(got[r] == order for r in loyal)
        assert bool(b["ic1"][t]) == ic1 and bool(b["ic2"][t]) == ic2, f"trial {t}: IC flags"


def test_sweep_matches_reference():
    """n = 3..10, m = 0..3, traitors drawn per trial (the commander among them sometimes), the
    deterministic strategies, both wire modes: decisions equal the reference, trial by trial."""
    runs = 0
    for n in range(3, 11):
        for m in range(0, min(3, n - 2) + 1):
            strategy = ["flip", "split", "silent", "garbage"][(n + m) % 4]
            t = [1, m, m + 1][(n * m) % 3] or 1
            for wire in ["round", "message"]:
                run = byz_run(n, ["-m", m, "-t", t, "--strategy", strategy, "--wire", wire, "--trials", 6,
                                  "--seed", 100 * n + m, "-q"])
                check_against_reference(run, n, m)
                runs += 1
    assert runs == 58


def test_all_strategies_both_modes_same_decisions():
    for strategy in ["flip", "split", "silent", "garbage", "random"]:
        decided = {}
        for wire in ["round", "message"]:
            run = byz_run(7, ["-m", 2, "-t", 2, "--strategy", strategy, "--wire", wire, "--trials", 8, "--seed", 5, "-q"])
            if strategy != "random":
                check_against_reference(run, 7, 2)
            decided[wire] = run["byz"]["decision"].tolist()
            assert run["byz_attrs"]["wire"] in (wire, wire.encode())
        assert decided["round"] == decided["message"], strategy


def test_commander_and_order_options():
    run = byz_run(5, ["--commander", 3, "--order", "retreat", "--traitors", "1,3", "--strategy", "3:split,1:flip", "-q"])
    traitors = {1: "flip", 3: "split"}
    assert run["byz"]["decision"][0].tolist() == ref.decisions(5, 1, 3, ref.RETREAT, traitors)
    assert run["byz"]["commander"].tolist() == [3] and run["byz"]["order"].tolist() == [0]


def test_papers_examples():
    # n = 3, OM(1), a traitorous lieutenant: the loyal one cannot obey (1 vs 1 → RETREAT): IC2 fails.
    run = byz_run(3, ["-m", 1, "--traitors", 2, "--strategy", "flip"])
    assert run["byz"]["decision"][0].tolist() == [-1, 0, 1]
    assert run["byz"]["ic2"][0] == 0
    assert "WARNING: n = 3 < 3m+1 = 4" in run["stdout"]
    assert "IC2 (loyal lieutenants obey a loyal commander): VIOLATED" in run["stdout"]
    # n = 3, a traitorous commander telling each lieutenant something else.
    run = byz_run(3, ["-m", 1, "--traitors", 0, "--strategy", "split"])
    assert run["byz"]["decision"][0].tolist() == ref.decisions(3, 1, 0, 1, {0: "split"})
    # n = 4, OM(1), a traitorous lieutenant: the loyal ones obey.
    run = byz_run(4, ["-m", 1, "--traitors", 3, "--strategy", "flip"])
    assert run["byz"]["decision"][0].tolist()[1:3] == [1, 1]
    assert run["byz"]["ic1"][0] == 1 and run["byz"]["ic2"][0] == 1
    # n = 4, OM(1), a traitorous commander: the loyal lieutenants agree.
    run = byz_run(4, ["-m", 1, "--traitors", 0, "--strategy", "split"])
    d = run["byz"]["decision"][0].tolist()
    assert d[1] == d[2] == d[3] and run["byz"]["ic1"][0] == 1


def test_agreement_over_many_trials():
    """IC1 and IC2 whenever n >= 3m+1 and t <= m, with random and garbage traitors."""
    for n, m, t, strategy, wire in [(7, 2, 2, "random", "round"), (7, 2, 2, "random", "message"),
                                    (10, 3, 3, "garbage", "round"), (10, 3, 3, "random", "round"),
                                    (4, 1, 1, "garbage", "message")]:
        run = byz_run(n, ["-m", m, "-t", t, "--strategy", strategy, "--wire", wire, "--trials", 40,
                          "--expect-agreement", "-q"])
        assert run["byz"]["ic1"].all() and run["byz"]["ic2"].all()
        if strategy == "garbage":  # loyal generals saw and counted the malformed messages
            assert run["byz"]["rejected"].sum() > 0
            assert run["ranks"]["rejected"].sum() > 0


def test_expect_agreement_exit_status():
    d = harness.tmpdir()
    out, err = harness.run(3, ["byz", "-m", 1, "--traitors", 2, "-o", os.path.join(d, "f.h5"), "--expect-agreement",
                               "-q"], expect_rc=3)
    assert "agreement was expected but IC1 or IC2 failed in 1 trial" in err
    harness.check_schema(os.path.join(d, "f.h5"))  # the file is still complete: the run worked


def test_message_counts_equal_closed_form():
    for n, m, extra in [(7, 2, []), (8, 3, ["-t", 2, "--strategy", "flip"]), (6, 1, ["-t", 1, "--strategy", "split"]),
                        (9, 2, ["-t", 2, "--strategy", "random"])]:
        for wire in ["round", "message"]:
            run = byz_run(n, ["-m", m, "--wire", wire, "--trials", 3, "-q"] + extra)
            assert run["byz"]["oral_messages"].tolist() == [ref.closed_form(n, m)] * 3
            assert int(run["byz_attrs"]["closed_form"]) == ref.closed_form(n, m)
            # the markers a round's last message to a peer did not carry (flip, split, random send all)
            assert run["byz"]["mpi_messages"].tolist() == [ref.mpi_closed_form(n, m, wire)] * 3, (n, m, wire)
            if wire == "message":  # one MPI data message per oral message, each a traced send
                assert len(run["messages"]["src"]) == 3 * ref.closed_form(n, m)


def test_message_mode_clocks_are_consistent():
    # harness.check_schema checks send < receive (Lamport and vector clock) for every message
    run = byz_run(6, ["-m", 2, "--wire", "message", "-t", 1, "--strategy", "flip", "--trials", 2])
    ev, msg = run["events"], run["messages"]
    assert np.all(msg["recv_event"] >= 0)
    assert int(np.sum(ev["kind"] == 1)) == len(msg["src"])  # one send event per oral message
    # /byz_oral: each oral message with its path, pointing at its send event by (src, send_seq)
    with h5py.File(run["path"], "r") as f:
        oral = {k: f["byz_oral"][k][...] for k in f["byz_oral"]}
    assert len(oral["src"]) == 2 * ref.closed_form(6, 2)
    row_of = {(int(r), int(q)): k for k, (r, q) in enumerate(zip(ev["rank"], ev["seq"]))}
    for k in range(len(oral["src"])):
        row = row_of[(int(oral["src"][k]), int(oral["send_seq"][k]))]
        assert ev["kind"][row] == 1 and ev["peer"][row] == oral["dst"][k]
        path = [p for p in oral["path"][k].tolist() if p >= 0]
        assert len(path) == oral["round"][k] + 1 and path[0] == 0 and path[-1] == oral["src"][k]
        assert oral["dst"][k] not in path
    # round mode: one batch per peer per round, traced too
    run = byz_run(6, ["-m", 2, "--wire", "round"])
    assert len(run["messages"]["src"]) == 5 + 5 * 4 + 5 * 4  # round 0, then each lieutenant to 4 others, twice


def test_rates_only_delay():
    args = ["-m", 1, "-t", 1, "--strategy", "split", "--trials", 3, "--seed", 9, "-q"]
    fast = byz_run(4, args)
    slow = byz_run(4, args + ["--rates", "400,40,1000,200"])
    assert fast["byz"]["decision"].tolist() == slow["byz"]["decision"].tolist()
    assert slow["ranks"]["tick_rate"].tolist() == [400, 40, 1000, 200]


def test_same_seed_same_run():
    a = byz_run(7, ["-t", 2, "--strategy", "random", "--trials", 10, "--seed", 77, "-q"])
    b = byz_run(7, ["-t", 2, "--strategy", "random", "--trials", 10, "--seed", 77, "-q"])
    c = byz_run(7, ["-t", 2, "--strategy", "random", "--trials", 10, "--seed", 78, "-q"])
    assert a["byz"]["traitor"].tolist() == b["byz"]["traitor"].tolist()
    assert a["byz"]["decision"].tolist() == b["byz"]["decision"].tolist()
    assert a["byz"]["traitor"].tolist() != c["byz"]["traitor"].tolist()


def test_bad_input():
    d = harness.tmpdir()
    harness.usage_error(4, ["byz", "-m", 3, "-o", os.path.join(d, "x.h5")], "m <= n-2 = 2")
    harness.usage_error(4, ["byz", "--traitors", "4", "-o", os.path.join(d, "x.h5")], "rank 4 does not exist")
    harness.usage_error(7, ["byz", "--strategy", "sneaky"], "unknown strategy")
    # 13 ranks, the fewest that exceed the message-mode limit: 20 ASan ranks at exit crashed
    # LeakSanitizer's tracer on a loaded 2-core machine
    harness.usage_error(13, ["byz", "-m", 11, "--wire", "message"], "too many for --wire message")
    # OM(13) among 15: a tree of 1.7e10 values per general, refused before anything is allocated
    harness.usage_error(15, ["byz", "-m", 13], "GiB per general")
    assert not os.listdir(d)


if __name__ == "__main__":
    only = sys.argv[1:]
    tests = [test_papers_examples, test_commander_and_order_options, test_expect_agreement_exit_status,
             test_message_counts_equal_closed_form, test_message_mode_clocks_are_consistent, test_rates_only_delay,
             test_same_seed_same_run, test_bad_input, test_all_strategies_both_modes_same_decisions,
             test_agreement_over_many_trials, test_sweep_matches_reference]
    harness.main([t for t in tests if not only or t.__name__ in only])
