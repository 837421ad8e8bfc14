"""SM(m) runs of the real binary: IC1 and IC2 with up to n − 2 traitors, exact decisions, message counts, determinism, and OM beside it failing where the paper says."""
import os
import sys

import numpy as np
import pandas as pd

import harness
import pp_common as pp
from test_byz import byz_run  # one reader of a byz run, for OM and SM

SM_STRATEGIES = ["flip", "split", "random", "silent", "garbage", "forge"]
STRATEGY_CODE = {"flip": 0, "split": 1, "random": 2, "silent": 3, "garbage": 4, "forge": 5}
RETREAT, ATTACK = 0, 1


def sm_run(np_, args, expect_rc=0):
    return byz_run(np_, ["--algorithm", "sm"] + list(args), expect_rc)


def loyal_lieutenants(run, t, n, commander=0):
    return [r for r in range(n) if r != commander and not run["byz"]["traitor"][t, r]]


def assert_agreement(run, n, commander=0, order=ATTACK):
    """IC1 and IC2 in every trial, as recorded and as recomputed from the decisions."""
    b = run["byz"]
    for t in range(len(b["ic1"])):
        got = b["decision"][t].tolist()
        loyal = loyal_lieutenants(run, t, n, commander)
        assert len({got[r] for r in loyal}) <= 1, f"trial {t}: IC1, decisions {got}, traitors {b['traitor'][t]}"
        if not b["traitor"][t, commander]:
            assert all(got[r] == order for r in loyal), f"trial {t}: IC2, decisions {got}"
        assert b["ic1"][t] == 1 and b["ic2"][t] == 1, f"trial {t}: flags"


def test_ic_every_strategy_up_to_n_minus_2(full=False):
    """n = 3..7 (fast: 4 and 7), every SM strategy, t = 1 and t = n − 2 traitors drawn per trial
    (the commander among them in some trials): IC1 and IC2 hold in every trial."""
    sizes = range(3, 8) if full else [4, 7]
    runs = 0
    for n in sizes:
        for k, strategy in enumerate(SM_STRATEGIES):
            for t in sorted({1, n - 2}):
                run = sm_run(n, ["-t", t, "--strategy", strategy, "--trials", 6, "--seed", 10 * n + k, "-q"])
                assert_agreement(run, n)
                assert int(run["byz"]["traitor"].sum()) == 6 * t
                runs += 1
    assert runs == (sum(len({1, n - 2}) for n in sizes) * len(SM_STRATEGIES))


def test_ic_full_sweep():
    test_ic_every_strategy_up_to_n_minus_2(full=True)


def test_two_faced_commander_decides_retreat():
    """A split commander signs ATTACK for even ranks and RETREAT for odd ones: with m ≥ 1 every
    loyal lieutenant holds V = {ATTACK, RETREAT} and decides RETREAT, though the order was ATTACK;
    with m = 0 nothing is relayed and each decides what it was told (IC1 fails: m = 0 cannot
    survive a traitor)."""
    for n in range(3, 8):
        for m in sorted({1, n - 2}):
            run = sm_run(n, ["-m", m, "--traitors", 0, "--strategy", "split", "--order", "attack"])
            assert run["byz"]["decision"][0].tolist() == [-1] + [RETREAT] * (n - 1), (n, m)
            assert run["byz"]["ic1"][0] == 1
            assert run["byz"]["refused"][0] == 0
    run = sm_run(5, ["-m", 0, "--traitors", 0, "--strategy", "split"])
    assert run["byz"]["decision"][0].tolist() == [-1, RETREAT, ATTACK, RETREAT, ATTACK]
    assert run["byz"]["ic1"][0] == 0


def test_loyal_commander_with_n_minus_2_traitors():
    """All lieutenants but one are traitors, of every strategy: the loyal one decides the order,
    and every forged chain sent to it is refused, never trusted."""
    for n in [3, 4, 5, 7]:
        traitors = ",".join(str(r) for r in range(1, n - 1))
        for strategy in SM_STRATEGIES:
            for order, value in [("attack", ATTACK), ("retreat", RETREAT)]:
                run = sm_run(n, ["--traitors", traitors, "--strategy", strategy, "--order", order, "-q"])
                assert run["byz"]["decision"][0, n - 1] == value, (n, strategy, order)
                assert run["byz"]["ic1"][0] == 1 and run["byz"]["ic2"][0] == 1
                if strategy in ("forge", "flip"):
                    assert run["byz"]["refused"][0] == n - 2, (n, strategy, run["byz"]["refused"])
        if n == 4:  # the same traitors break OM(1): n < 3m + 1 with two traitors
            om = byz_run(n, ["-m", 1, "--traitors", traitors, "--strategy", "flip", "-q"])
            assert om["byz"]["ic2"][0] == 0


def test_om_fails_where_sm_holds():
    """The paper's contrast, both algorithms in one test: three generals, a lying lieutenant.
    OM(1) leaves the loyal lieutenant with ATTACK against RETREAT (IC2 fails); SM(1) refuses the
    lie (its signature does not verify) and the loyal lieutenant obeys."""
    om = byz_run(3, ["-m", 1, "--traitors", 2, "--strategy", "flip"])
    assert om["byz"]["decision"][0].tolist() == [-1, RETREAT, ATTACK]  # 1 heard ATTACK and RETREAT: a tie
    assert om["byz"]["ic2"][0] == 0 and om["byz_attrs"]["algorithm"] == "om"
    sm = sm_run(3, ["-m", 1, "--traitors", 2, "--strategy", "flip"])
    assert sm["byz"]["decision"][0, 1] == ATTACK and sm["byz"]["ic2"][0] == 1
    assert sm["byz"]["refused"][0] == 1
    # and over many trials with t = n − 2 random traitors among 5: OM(1) fails in some, SM(3) in none
    om = byz_run(5, ["-m", 1, "-t", 3, "--strategy", "flip", "--trials", 20, "--seed", 3, "-q"])
    sm = sm_run(5, ["-t", 3, "--strategy", "flip", "--trials", 20, "--seed", 3, "-q"])
    assert (om["byz"]["ic1"] & om["byz"]["ic2"]).sum() < 20
    assert (sm["byz"]["ic1"] & sm["byz"]["ic2"]).sum() == 20
    assert om["byz"]["traitor"].tolist() == sm["byz"]["traitor"].tolist()  # the same placement


def test_loyal_counts_equal_closed_form():
    """Everyone loyal: (n − 1)² signed messages (n − 1 with m = 0), n signatures made (the
    commander once, each lieutenant once), each lieutenant checks 1 + 2(n − 2) signatures; every
    signed message is one MPI message and one /byz_oral row whose path is its signers."""
    for n in range(3, 8):
        for m in sorted({0, 1, n - 2}):
            run = sm_run(n, ["-m", m, "--trials", 2])
            b = run["byz"]
            msgs = (n - 1) ** 2 if m else n - 1
            assert b["oral_messages"].tolist() == [msgs, msgs], (n, m)
            assert run["byz_attrs"]["closed_form"] == msgs
            assert b["signatures_made"].tolist() == [n if m else 1] * 2
            assert b["signatures_verified"].tolist() == [(n - 1) * (1 + 2 * (n - 2) if m else 1)] * 2
            assert b["refused"].tolist() == [0, 0] and b["rejected"].tolist() == [0, 0]
            oral = run["oral"]
            assert len(oral["trial"]) == 2 * msgs
            for k in range(len(oral["trial"])):
                path = [p for p in np.atleast_1d(oral["path"][k]).tolist() if p >= 0]
                assert path[0] == 0 and path[-1] == oral["src"][k] and len(path) == oral["round"][k] + 1
            # the key exchange: n(n − 1) messages before the trials, traced like any
            assert len(run["messages"]["src"]) == n * (n - 1) + 2 * msgs


def test_attributes_and_columns():
    run = sm_run(4, ["--traitors", 2, "--strategy", "forge"])
    a = run["byz_attrs"]
    assert a["algorithm"] == "sm" and a["signature"] == "ed25519" and a["m"] == 2
    assert "forge=5" in a["strategy_codes"]
    assert run["byz"]["strategy"][0].tolist() == [-1, -1, STRATEGY_CODE["forge"], -1]
    assert "SM(2) among 4 generals" in run["stdout"] and "signatures made" in run["stdout"]
    om = byz_run(4, [])
    assert om["byz_attrs"]["algorithm"] == "om" and om["byz_attrs"]["signature"] == "none"
    assert "signatures_made" not in om["byz"]


def test_hostile_rank():
    """--hostile 2: rank 2 sends malformed messages of every kind in every trial; the loyal refuse
    them all (counted) and agree on the order."""
    run = sm_run(5, ["--hostile", 2, "--trials", 4, "-q"])
    assert_agreement(run, 5)
    assert run["byz"]["traitor"][:, 2].tolist() == [1] * 4
    assert run["byz"]["decision"][:, [1, 3, 4]].tolist() == [[ATTACK] * 3] * 4
    assert (run["byz"]["rejected"] > 0).all()


def test_same_seed_same_run():
    """The same seed: the same keys, signatures, messages and decisions (the random strategy
    included); another seed: other traitors."""
    args = ["-t", 3, "--strategy", "random", "--trials", 8, "-q"]
    a = sm_run(6, args + ["--seed", 21])
    b = sm_run(6, args + ["--seed", 21])
    c = sm_run(6, args + ["--seed", 22])
    for k in ["decision", "traitor", "oral_messages", "signatures_made", "signatures_verified", "refused", "bytes"]:
        assert a["byz"][k].tolist() == b["byz"][k].tolist(), k
    for k in ["trial", "round", "src", "dst", "value", "path"]:
        assert a["oral"][k].tolist() == b["oral"][k].tolist(), k
    assert a["byz"]["traitor"].tolist() != c["byz"]["traitor"].tolist()


def test_expect_agreement_and_bad_input():
    sm_run(5, ["-t", 3, "--strategy", "split", "--trials", 4, "--expect-agreement", "-q"])
    sm_run(5, ["-m", 0, "--traitors", 0, "--strategy", "split", "--expect-agreement", "-q"], expect_rc=3)
    d = harness.tmpdir()
    harness.usage_error(4, ["byz", "--algorithm", "sm", "-m", 3, "-o", os.path.join(d, "x.h5")], "m <= n-2 = 2")
    harness.usage_error(4, ["byz", "--algorithm", "pbft"], "is not om or sm")
    harness.usage_error(4, ["byz", "--algorithm", "sm", "--wire", "message"], "--wire is for --algorithm om")
    harness.usage_error(4, ["byz", "--strategy", "forge"], "forge needs --algorithm sm")
    assert not os.listdir(d)


def test_byz_table_contrast():
    """byz_table.py on OM and SM runs of the same placement: the algorithm in every table, and
    the contrast figure (OM fails, SM holds at n = 4 with two flipping traitors)."""
    d = harness.tmpdir()
    for alg in ("om", "sm"):
        harness.run(4, ["byz", "--algorithm", alg, "--traitors", "1,2", "--trials", 2, "--no-trace", "-q", "-o",
                        os.path.join(d, f"{alg}.h5")])
    out = os.path.join(d, "table")
    stdout, _ = pp.script("byz_table.py", [os.path.join(d, "om.h5"), os.path.join(d, "sm.h5"), "-o", out])
    t = pd.read_csv(os.path.join(out, "trials.csv"), keep_default_na=False)
    assert t["algorithm"].tolist() == ["om", "om", "sm", "sm"]
    a = pd.read_csv(os.path.join(out, "agreement.csv"))
    assert a.values.tolist() == [["om", 4, 2, 2, 0, 0.0], ["sm", 4, 2, 2, 2, 1.0]]
    pp.check_png(os.path.join(out, "contrast.png"), min_bytes=5000)
    pp.check_png(os.path.join(out, "agreement.png"), min_bytes=5000)
    assert "wrote " + os.path.join(out, "contrast.png") in stdout
    # the space-time diagram of a traced SM run names the algorithm
    traced = os.path.join(d, "traced.h5")
    harness.run(3, ["byz", "--algorithm", "sm", "-m", 1, "--traitors", 2, "-o", traced])
    svg = os.path.join(d, "sm.svg")
    pp.script("spacetime.py", [traced, "-o", svg])
    with open(svg) as f:
        text = f.read()
    for label in ["SM(1), trial 0 of 1", "signed (ed25519)", "IC1=yes, IC2=yes", "decides attack"]:
        assert label in text, label


if __name__ == "__main__":
    only = sys.argv[1:]
    tests = [test_ic_every_strategy_up_to_n_minus_2, test_two_faced_commander_decides_retreat,
             test_loyal_commander_with_n_minus_2_traitors, test_om_fails_where_sm_holds,
             test_loyal_counts_equal_closed_form, test_attributes_and_columns, test_hostile_rank, test_same_seed_same_run,
             test_expect_agreement_and_bad_input, test_byz_table_contrast, test_ic_full_sweep]
    harness.main([t for t in tests if not only or t.__name__ in only])
