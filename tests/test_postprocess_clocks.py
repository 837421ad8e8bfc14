"""clocks_plot.py on hand-made files in the exact schema (every value known) and, once
`consensus clocks` is built, on real runs of the binary (else a SKIP line)."""
import os

import h5py
import numpy as np
import pandas as pd

import harness
import pp_common as pp
import synth_runs


def test_synthetic_clocks():
    d = harness.tmpdir()
    run = os.path.join(d, "clocks-a.h5")
    synth_runs.write_clocks(run)
    quiet = os.path.join(d, "clocks-notrace.h5")
    synth_runs.write_clocks(quiet, traced=False)
    out = os.path.join(d, "fig")
    stdout, _ = pp.script("clocks_plot.py", [run, quiet, "-o", out])
    t = pd.read_csv(os.path.join(out, "clocks-a.csv"))
    assert t.columns.tolist() == ["rank", "tick_rate", "events", "final_lamport", "max_jump", "jumps", "drift",
                                  "pushed", "lag", "max_queue"]
    assert t.values.tolist() == [[0, 1.0, 4, 6, 3, 1, 2, 2, 0, 3], [1, 2.0, 4, 4, 1, 0, 2, 0, 2, 1]]
    pp.check_png(os.path.join(out, "clocks-a.png"))
    # the curves are labelled with the tick rates (SVG keeps the text)
    svgdir = os.path.join(d, "svg")
    pp.script("clocks_plot.py", [run, "-o", svgdir, "--format", "svg"])
    with open(os.path.join(svgdir, "clocks-a.svg")) as f:
        text = f.read()
    assert text.count("P0 (1 ticks/s)") == 2 and text.count("P1 (2 ticks/s)") == 2  # one legend per panel
    assert "Lamport clock" in text and "queue length (messages)" in text
    # untraced: the table comes from /ranks and /clocks, and there is no figure
    q = pd.read_csv(os.path.join(out, "clocks-notrace.csv"))
    assert q.values.tolist() == t.values.tolist()
    assert not os.path.exists(os.path.join(out, "clocks-notrace.png"))
    assert "has no events (--no-trace)" in stdout
    s = pd.read_csv(os.path.join(out, "summary.csv"))
    assert s["run"].tolist() == ["clocks-a", "clocks-notrace"]
    assert s.iloc[0][["ranks", "rates", "model_s", "events", "max_jump", "max_drift", "max_lag", "max_queue"]] \
        .tolist() == [2, "1 2", 3.0, 8, 3, 2, 2, 3]  # model time = 1.5 s wall x speed-up 2
    # the reader's view of the same file: model time and the extra /clocks group
    import consensus_h5 as ch
    r = ch.open_run(run)
    assert r.events["model_time"].max() == 3.0 and r.groups["clocks"]["max_jump"].tolist() == [3, 1]
    # a run without /events is refused with one line
    no_events = os.path.join(d, "bad.h5")
    with h5py.File(no_events, "w") as f:
        f.attrs["format"] = np.bytes_("consensus-run")
        f.attrs["format_version"] = 1
        f.attrs["subcommand"] = np.bytes_("byz")
        f.create_group("ranks")
    _, err = pp.script("clocks_plot.py", [no_events, "-o", out], expect_rc=2)
    assert err.startswith("clocks_plot.py: ") and "has no /events group" in err and len(err.splitlines()) == 1


def test_real_clocks_runs():
    d = harness.tmpdir()
    runs = []
    for name, args in [("rates-1-3-6", ["--rates", "1,3,6"]), ("cs262", ["--preset", "cs262"]),
                       ("low-variation", ["--preset", "cs262-low-variation"])]:
        path = os.path.join(d, name + ".h5")
        ok = pp.real_or_skip(3, ["clocks"] + args + ["--duration", "6", "--speedup", "6", "-o", path, "-q"],
                             "real clocks runs")
        if not ok:
            return
        runs.append(path)
    out = os.path.join(d, "fig")
    pp.script("clocks_plot.py", runs + ["-o", out])
    for path in runs:
        name = os.path.splitext(os.path.basename(path))[0]
        pp.check_png(os.path.join(out, name + ".png"))
        t = pd.read_csv(os.path.join(out, name + ".csv"))
        with h5py.File(path, "r") as f:
            ranks = {c: f["ranks"][c][...] for c in f["ranks"]}
            lam = f["events/lamport"][...]
            rank = f["events/rank"][...]
            f_q = f["events/queue_len"][...]
        assert t["events"].tolist() == ranks["n_events"].tolist()
        assert np.allclose(t["tick_rate"], ranks["tick_rate"])
        assert t["final_lamport"].tolist() == [int(lam[rank == r][-1]) for r in range(3)]
        if "final_lamport" in ranks:
            assert t["final_lamport"].tolist() == ranks["final_lamport"].tolist()
        qmax = [int(f_q[rank == r].max()) for r in range(3)]
        if "max_queue" in ranks:
            assert t["max_queue"].tolist() == np.maximum(ranks["max_queue"], qmax).tolist()
        else:
            assert t["max_queue"].tolist() == qmax
        assert (t["max_jump"] >= 1).all() and (t["drift"] >= 0).all() and (t["pushed"] >= 0).all()
        assert t["jumps"].tolist() == [int(np.sum(np.diff(np.concatenate([[0], lam[rank == r]])) > 1))
                                       for r in range(3)]
        # /clocks (the runtime's own summary), when the run has it, agrees with the table
        import consensus_h5 as ch
        extra = ch.open_run(path).groups.get("clocks")
        if extra is not None:
            for c in ("max_jump", "drift", "final_lamport"):
                if c in extra:
                    assert t[c].tolist() == extra[c].tolist(), c
    rates = pd.read_csv(os.path.join(out, "rates-1-3-6.csv"))["tick_rate"].tolist()
    assert rates == [1.0, 3.0, 6.0]
    svgdir = os.path.join(d, "svg")
    pp.script("clocks_plot.py", [runs[0], "-o", svgdir, "--format", "svg"])
    with open(os.path.join(svgdir, "rates-1-3-6.svg")) as f:
        text = f.read()
    for label in ["P0 (1 ticks/s)", "P1 (3 ticks/s)", "P2 (6 ticks/s)"]:
        assert text.count(label) == 2, label
    assert len(pd.read_csv(os.path.join(out, "summary.csv"))) == 3


if __name__ == "__main__":
    harness.main([test_synthetic_clocks, test_real_clocks_runs])
