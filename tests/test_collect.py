"""postprocess/collect.py on real runs of the binary: a directory of runs (and nested ones) becomes
one table, one row per run or per byz trial, with every root attribute and group attribute and
what each run measured; .csv and .h5 say the same; bad input is one line and exit 2. (The SLURM
pattern, an array and a dependent collect job, is tested in test_slurm.py.)"""
import os
import shutil

import h5py
import numpy as np
import pandas as pd

import harness
import pp_common as pp

DATA = os.path.join(harness.HERE, "data")


def main():
    d = harness.tmpdir()
    sweep = os.path.join(d, "sweep")
    os.makedirs(os.path.join(sweep, "more"))
    runs = {"a": (4, ["byz", "-m", "1", "--traitors", "2", "--strategy", "flip", "--trials", "3", "--seed", "7"]),
            "b": (4, ["byz", "-m", "1", "--traitors", "1,2", "--strategy", "1:silent,2:split", "--trials", "2"]),
            os.path.join("more", "c"): (3, ["clocks", "--rates", "2,4,6", "--duration", "2", "--speedup", "4"]),
            os.path.join("more", "d"): (3, ["replay", os.path.join(DATA, "three_process.txt")])}
    for name, (np_, args) in runs.items():
        harness.run(np_, args + ["-o", os.path.join(sweep, name + ".h5"), "-q"])
    with open(os.path.join(sweep, "notes.txt"), "w") as f:
        f.write("not a run; collect looks at *.h5 only\n")
    # one row per run, sorted by directory
    csv = os.path.join(d, "sweep.csv")
    out, _ = pp.script("collect.py", [sweep, "-o", csv])
    assert out == f"wrote {csv} (4 rows from 4 runs, {len(pd.read_csv(csv).columns)} columns)\n", out
    t = pd.read_csv(csv)
    assert [os.path.relpath(f, sweep) for f in t["file"]] == ["a.h5", "b.h5", "more/c.h5", "more/d.h5"]
    assert t["subcommand"].tolist() == ["byz", "byz", "clocks", "replay"]
    assert t["n_ranks"].tolist() == [4, 4, 3, 3] and t["seed"].tolist() == [7, 1, 1, 1]
    assert t["complete"].tolist() == [1, 1, 1, 1]
    assert "--strategy 1:silent,2:split" in t["command_line"][1]
    for col in ("program_version", "started_at", "mpi_library", "hdf5_library", "speedup", "byz.m", "byz.wire",
                "byz.closed_form", "clocks.duration", "clocks.p_internal", "events", "messages", "undelivered"):
        assert col in t.columns, col
    byz = t.iloc[:2]
    assert byz["byz.m"].tolist() == [1, 1] and byz["trials"].tolist() == [3, 2]
    assert byz["traitors"].tolist() == [1.0, 2.0] and byz["strategies"].tolist() == ["flip", "silent split"]
    assert byz["agree"].tolist()[0] == 1.0  # one traitor among 4: OM(1) always agrees
    with h5py.File(os.path.join(sweep, "b.h5"), "r") as f:
        assert byz["oral_messages"].tolist()[1] == int(f["byz/oral_messages"][...].sum())
        assert byz["agree"].tolist()[1] == float(np.mean(f["byz/ic1"][...] & f["byz/ic2"][...]))
        assert byz["ic1"].tolist()[1] == float(np.mean(f["byz/ic1"][...]))
    clocks = t.iloc[2]
    with h5py.File(os.path.join(sweep, "more", "c.h5"), "r") as f:
        assert clocks["rates"] == "2 4 6" and clocks["clocks.duration"] == 2.0
        assert clocks["max_drift"] == int(f["clocks/drift"][...].max())
        assert clocks["events"] == len(f["events/rank"])
        assert clocks["undelivered"] == int(np.sum(f["messages/recv_event"][...] < 0))
    print("ok one row per run: every root and group attribute, and what each run measured")
    # one row per trial; the .h5 table holds the same as the .csv
    trials = os.path.join(d, "trials.h5")
    pp.script("collect.py", [os.path.join(sweep, "a.h5"), os.path.join(sweep, "b.h5"), "-o", trials,
                             "--per", "trial"])
    with h5py.File(trials, "r") as f:
        assert f.attrs["format"] == b"consensus-sweep" and int(f.attrs["rows"]) == 5
        h = pd.DataFrame({k: v[...] for k, v in f["sweep"].items()})
    text = h.select_dtypes(object).columns
    h[text] = h[text].apply(lambda c: c.str.decode("utf-8"))
    assert h["trial"].tolist() == [0, 1, 2, 0, 1] and h["n_ranks"].tolist() == [4] * 5
    assert h["traitors"].tolist() == ["2", "2", "2", "1 2", "1 2"]
    assert h["strategy"].tolist() == ["flip"] * 3 + ["silent,split"] * 2
    assert h["decisions"].tolist()[0] == "* A A A" and set(h["ic1"]) == {1}
    tcsv = os.path.join(d, "trials.csv")
    pp.script("collect.py", [os.path.join(sweep, "a.h5"), os.path.join(sweep, "b.h5"), "-o", tcsv, "--per", "trial"])
    c = pd.read_csv(tcsv, keep_default_na=False, dtype=str)
    assert sorted(c.columns) == sorted(h.columns)
    assert c[["run", "trial", "decisions", "strategy", "oral_messages"]].values.tolist() == \
        h[["run", "trial", "decisions", "strategy", "oral_messages"]].astype(str).values.tolist()
    print("ok one row per trial, in .h5 and .csv alike")
    # bad input: one line, exit 2, nothing written
    bad = os.path.join(d, "bad")
    os.makedirs(bad)
    shutil.copy(os.path.join(sweep, "notes.txt"), os.path.join(bad, "x.h5"))
    for args, needle in [([bad, "-o", os.path.join(d, "x.csv")], "not an HDF5 file"),
                         ([os.path.join(d, "nothing"), "-o", os.path.join(d, "x.csv")], "no such file"),
                         ([os.path.join(sweep, "more", "c.h5"), "-o", os.path.join(d, "x.txt")],
                          "the table is a .csv or a .h5 file"),
                         ([os.path.join(d, "sweep", "more"), "-o", os.path.join(d, "no", "x.csv")], "does not exist")]:
        _, err = pp.script("collect.py", args, expect_rc=2)
        assert len(err.strip().splitlines()) == 1 and needle in err and err.startswith("collect.py: "), err
    assert not os.path.exists(os.path.join(d, "x.csv"))
    print("ok bad input: one line, exit 2")
    shutil.rmtree(d)


if __name__ == "__main__":
    main()
