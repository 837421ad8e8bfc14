"""byz_table.py (and spacetime.py on a byz trace) on hand-made files in the exact /byz schema
and, once `consensus byz` is built, on real runs of the binary (else a SKIP line)."""
import os

import pandas as pd

import harness
import pp_common as pp
import synth_runs


def test_synthetic_byz():
    d = harness.tmpdir()
    four, three = os.path.join(d, "byz-four.h5"), os.path.join(d, "byz-three.h5")
    synth_runs.write_byz_four(four)
    synth_runs.write_byz_three(three)
    out = os.path.join(d, "byz")
    stdout, _ = pp.script("byz_table.py", [four, three, "-o", out])
    t = pd.read_csv(os.path.join(out, "trials.csv"), keep_default_na=False)
    cols = ["run", "trial", "n", "m", "commander", "traitors", "strategy", "order", "decisions", "IC1", "IC2",
            "agree", "oral_messages", "mpi_messages"]
    assert t[cols].values.tolist() == [
        ["byz-four", 0, 4, 1, 0, "-", "-", "attack", "* A A A", True, True, True, 9, 9],
        ["byz-four", 1, 4, 1, 0, "3", "flip", "attack", "* A A R", True, True, True, 9, 9],
        ["byz-four", 2, 4, 1, 0, "0", "split", "attack", "* R R R", True, True, True, 9, 9],
        ["byz-three", 0, 3, 1, 0, "2", "flip", "attack", "* R A", True, False, False, 4, 4]]
    assert "* A A R" in stdout
    a = pd.read_csv(os.path.join(out, "agreement.csv"))
    assert a.values.tolist() == [[3, 1, 1, 0, 0.0], [4, 0, 1, 1, 1.0], [4, 1, 2, 2, 1.0]]
    pp.check_png(os.path.join(out, "agreement.png"), min_bytes=5000)
    # the space-time diagram of the message-mode trace: traitors, order and decisions drawn
    st = os.path.join(d, "byz.png")
    stdout, _ = pp.script("spacetime.py", [three, "-o", st, "--vc"])
    assert stdout.endswith("(7 events, 4 messages, 0 undelivered)\n")
    pp.check_png(st)
    svg = os.path.join(d, "byz.svg")
    pp.script("spacetime.py", [three, "-o", svg])
    with open(svg) as f:
        text = f.read()
    for label in ["P0 commander", "P2 traitor", "order: attack", "decides retreat", "decides attack",
                  "IC1=yes, IC2=NO", "wire=message"]:
        assert label in text, label
    assert "P1 traitor" not in text
    _, err = pp.script("spacetime.py", [three, "-o", st, "--trial", "4"], expect_rc=2)
    assert err.strip() == "spacetime.py: --trial 4: the run has trials 0..0"
    import consensus_h5 as ch
    r = ch.open_run(three)
    assert r.byz.strategy.tolist() == [[-1, -1, 0]] and r.byz.attrs["wire"] == "message"


def test_reader_variants():
    """The strategy is read whichever way the writer stores it; complete=0 warns but reads."""
    import subprocess
    import sys
    import consensus_h5 as ch
    d = harness.tmpdir()
    base = {"commander": [0, 1], "order": [1, 0], "traitor": [[0, 1, 1, 0], [0, 0, 0, 1]],
            "decision": [[-1, 1, 0, 1], [0, -1, 0, 0]], "ic1": [0, 1], "ic2": [0, 1]}
    cases = [("matrix", {"strategy": [[-1, 0, 3, -1], [-1, -1, -1, 4]]}, {}, ["1:flip,2:silent", "garbage"]),
             ("none", {}, {}, ["?", "?"])]
    for name, extra, attrs, want in cases:
        path = os.path.join(d, name + ".h5")
        synth_runs.write_run(path, "byz", 4, {"n_events": [0] * 4}, byz=dict(base, **extra),
                             byz_attrs=dict({"m": 1, "wire": "round", "default_value": 0}, **attrs))
        run = ch.open_run(path, need=("byz",))
        got = [run.byz.strategy_text(t) for t in range(2)]
        assert got == want, f"{name}: {got} != {want}"
        assert run.byz.trials["commander"].tolist() == [0, 1] and run.byz.attrs["m"] == 1
    out = os.path.join(d, "t")
    pp.script("byz_table.py", [os.path.join(d, "matrix.h5"), "-o", out])
    t = pd.read_csv(os.path.join(out, "trials.csv"), keep_default_na=False)
    assert t["decisions"].tolist() == ["* A R A", "R * R R"] and t["order"].tolist() == ["attack", "retreat"]
    assert t["traitors"].tolist() == ["1 2", "3"] and t["agree"].tolist() == [False, True]
    # a run that did not finish: one warning line, the table is still made
    partial = os.path.join(d, "partial.h5")
    synth_runs.write_run(partial, "byz", 4, {"n_events": [0] * 4}, byz=dict(base), complete=0,
                         byz_attrs={"m": 1, "wire": "round", "default_value": 0})
    p = subprocess.run([sys.executable, os.path.join(pp.PP, "byz_table.py"), partial, "-o", out, "--force"],
                       capture_output=True, text=True)
    assert p.returncode == 0 and p.stderr.strip().splitlines() == [
        f"warning: {partial}: complete=0 (the run was stopped or crashed); reading what it holds"]


def test_real_byz_runs():
    d = harness.tmpdir()
    runs = {}
    for name, np_, args in [("n4-loyal", 4, []), ("n4-t3-flip", 4, ["--traitors", "3", "--strategy", "flip"]),
                            ("n3-m1-t2-flip", 3, ["-m", "1", "--traitors", "2", "--strategy", "flip"])]:
        path = os.path.join(d, name + ".h5")
        if not pp.real_or_skip(np_, ["byz", "--order", "attack", "--wire", "message"] + args + ["-o", path, "-q"],
                               "real byz runs"):
            return
        runs[name] = path
    out = os.path.join(d, "byz")
    pp.script("byz_table.py", list(runs.values()) + ["-o", out])
    t = pd.read_csv(os.path.join(out, "trials.csv"), keep_default_na=False).set_index("run")
    # n=4, m=1: the loyal lieutenants obey the loyal commander, with or without traitor 3
    assert t.loc["n4-loyal", "decisions"] == "* A A A" and t.loc["n4-loyal", "traitors"] == "-"
    assert t.loc["n4-t3-flip", "decisions"].split()[:3] == ["*", "A", "A"]
    assert t.loc["n4-t3-flip", "traitors"] == "3" and t.loc["n4-t3-flip", "strategy"] in ("flip", "?")
    assert bool(t.loc["n4-t3-flip", "IC1"]) and bool(t.loc["n4-t3-flip", "IC2"])
    # n=3, m=1, traitor 2 flips: lieutenant 1 hears A and R, no strict majority -> RETREAT; IC2 fails
    assert t.loc["n3-m1-t2-flip", "decisions"].split()[:2] == ["*", "R"]
    assert not bool(t.loc["n3-m1-t2-flip", "IC2"]) and not bool(t.loc["n3-m1-t2-flip", "agree"])
    assert (t["n"].tolist(), t["m"].tolist()) == ([4, 4, 3], [1, 1, 1])
    assert (t["oral_messages"] > 0).all()
    a = pd.read_csv(os.path.join(out, "agreement.csv"))
    assert a.values.tolist() == [[3, 1, 1, 0, 0.0], [4, 0, 1, 1, 1.0], [4, 1, 1, 1, 1.0]]
    pp.check_png(os.path.join(out, "agreement.png"), min_bytes=5000)
    # the message-mode trace draws, and its HB graph and ShiViz log are produced
    st = os.path.join(d, "st.png")
    pp.script("spacetime.py", [runs["n4-t3-flip"], "-o", st])
    pp.check_png(st)
    svg = os.path.join(d, "st.svg")
    pp.script("spacetime.py", [runs["n4-t3-flip"], "-o", svg])
    with open(svg) as f:
        text = f.read()
    assert "P3 traitor" in text and "P0 commander" in text and "order: attack" in text
    assert text.count("decides attack") >= 2  # lieutenants 1 and 2
    pp.script("hbgraph.py", [runs["n4-t3-flip"], "-o", os.path.join(d, "hb.dot")])
    pp.script("shiviz.py", [runs["n4-t3-flip"], "-o", os.path.join(d, "hb.log")])


if __name__ == "__main__":
    harness.main([test_synthetic_byz, test_reader_variants, test_real_byz_runs])
