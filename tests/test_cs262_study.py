"""The course study at small scale: jobs/cs262-study.sbatch's one shell line without SLURM runs real
seeded runs of the binary, postprocess/cs262_study.py turns them into study.csv (checked value by
value against the files), fits.csv (checked against numpy's own least squares) and the figures; a
run whose /clocks disagrees with its /events is caught; bad input is one line and exit 2. (The
array and its dependent collect job run on a real cluster in test_slurm.py.)"""
import os
import re
import shlex
import shutil
import subprocess

import h5py
import numpy as np
import pandas as pd

import harness
import pp_common as pp

SCRIPT = os.path.join(harness.SOURCE, "jobs", "cs262-study.sbatch")
GRID = {"STUDY_SEEDS": "5", "STUDY_RATES": "1-6 2-3", "STUDY_P_INTERNAL": "0.7 0.5", "STUDY_DURATION": "6",
        "STUDY_SPEEDUP": "20"}


def grid_env(**extra):
    env = {k: v for k, v in harness.mpi_env().items() if not k.startswith("STUDY_")}
    env.update(extra)
    return env


def test_list():
    """--list prints the grid, seed fastest; its --array matches the script's #SBATCH line."""
    out = subprocess.run(["bash", SCRIPT, "--list"], capture_output=True, text=True, env=grid_env(), check=True).stdout
    lines = out.splitlines()
    assert lines[0] == "task 0: clocks --rates 1-6 --p-internal 0.7 --seed 1 --duration 60 --speedup 30 -q", lines[0]
    assert lines[200] == "task 200: clocks --rates 1-3 --p-internal 0.7 --seed 1 --duration 60 --speedup 30 -q"
    assert lines[-1] == "1000 configurations: sbatch --array=0-999 jobs/cs262-study.sbatch", lines[-1]
    with open(SCRIPT) as f:
        assert re.search(r"^#SBATCH --array=0-999$", f.read(), re.M)
    out = subprocess.run(["bash", SCRIPT, "--list"], capture_output=True, text=True, env=grid_env(**GRID),
                         check=True).stdout.splitlines()
    assert out[-1] == "20 configurations: sbatch --array=0-19 jobs/cs262-study.sbatch", out[-1]
    assert out[19] == "task 19: clocks --rates 2-3 --p-internal 0.5 --seed 5 --duration 6 --speedup 20 -q", out[19]
    bad = subprocess.run(["bash", SCRIPT, "--list"], capture_output=True, text=True,
                         env=grid_env(STUDY_SEEDS="ten"))
    assert bad.returncode == 2 and "STUDY_SEEDS=ten is not a count of seeds" in bad.stderr, bad.stderr
    print("ok --list: the default grid is 1000 tasks, #SBATCH --array=0-999; another grid prints its own")


def run_study_line(runs):
    """The README's one shell line: --commands piped into xargs -P 2, with this build's launcher."""
    launcher = shlex.join([harness.MPIEXEC] + harness.PREFLAGS)
    env = grid_env(CONSENSUS_LAUNCHER=launcher, CONSENSUS_BIN=os.path.abspath(harness.BIN), **GRID)
    line = f"bash {shlex.quote(SCRIPT)} --commands {shlex.quote(runs)} | xargs -d '\\n' -n 1 -P 2 sh -c"
    p = subprocess.run(["bash", "-c", "set -o pipefail; " + line], capture_output=True, text=True, env=env,
                       timeout=harness.timeout(300))
    assert p.returncode == 0, f"{line}: exit {p.returncode}\n{p.stdout}\n{p.stderr}"
    names = sorted(os.listdir(runs))
    want = sorted(f"r{r}_p{p}_s{s}.h5" for r in ("1-6", "2-3") for p in ("0.7", "0.5") for s in range(1, 6))
    assert names == want, names
    print(f"ok the one shell line without SLURM: {len(names)} runs in {runs}")


def check_table(runs, table):
    """Every cell of study.csv against the run file it names."""
    assert len(table) == 20 and sorted(os.path.basename(f) for f in table["file"]) == \
        sorted(os.listdir(runs)), table["file"]
    for _, row in table.iterrows():
        m = re.fullmatch(r"r(\S+)_p(\S+)_s(\d+)\.h5", os.path.basename(row["file"]))
        with h5py.File(row["file"], "r") as f:
            c = {k: f["clocks"][k][...] for k in f["clocks"]}
            rates = f["ranks/tick_rate"][...]
            recv = f["messages/recv_event"][...]
            assert row["seed"] == int(f.attrs["seed"]) == int(m.group(3))
            assert row["p_internal"] == float(f["clocks"].attrs["p_internal"]) == float(m.group(2))
            assert row["duration"] == 6.0 and row["speedup"] == 20.0 and row["complete"] == 1
            assert row["setting"] == m.group(1)
        lo, hi = (int(x) for x in m.group(1).split("-"))
        assert np.all((rates >= lo) & (rates <= hi)), rates
        assert row["rates"] == " ".join(f"{v:g}" for v in rates)
        assert row["spread"] == rates.max() - rates.min() and row["slowest"] == rates.min()
        assert row["mean_rate"] == rates.mean()
        for r in range(3):
            assert row[f"rate_{r}"] == rates[r]
            assert row[f"drift_{r}"] == c["drift"][r] and row[f"queue_{r}"] == c["max_queue"][r]
        assert row["max_drift"] == c["drift"].max() and row["max_queue"] == c["max_queue"].max()
        # messages from /messages itself: one row per message sent, recv_event -1 while still queued
        assert row["messages"] == len(recv) == c["messages_sent"].sum()
        assert row["undelivered"] == int(np.sum(recv < 0)) == c["undelivered"].sum()
        assert row["lost"] == 0
        # the offered load, written out for 3 ranks: every sender reaches each peer with 2/3 of its sends
        load = max((1 - row["p_internal"]) * 2 / 3 * (rates.sum() - rates[r]) / rates[r] for r in range(3))
        assert abs(row["load"] - load) < 1e-12, (row["load"], load)
    assert set(table["p_internal"]) == {0.7, 0.5}
    print("ok study.csv: every cell equals its run file (/ranks, /clocks, /messages, the file name)")


def check_fits(table, fits):
    """Each fitted line equals numpy's least squares on the table; the interval is Student's t."""
    from scipy import stats
    assert len(fits) == 2 * 2 * 4, fits
    for (p, y, model), fit in fits.groupby(["p_internal", "measure", "model"]):
        runs = table[table["p_internal"] == p]
        fit = fit.iloc[0]
        assert fit["runs"] == len(runs) == 10
        names = model.split(" + ")
        A = np.column_stack([np.ones(len(runs))] + [runs[x].to_numpy(float) for x in names])
        if np.linalg.matrix_rank(A) < A.shape[1]:
            assert np.isnan(fit["intercept"]), fit
            continue
        beta = np.linalg.lstsq(A, runs[y].to_numpy(float), rcond=None)[0]
        for name, b in zip(["intercept"] + names, beta):
            assert abs(fit[name] - b) <= 1e-9 * max(1, abs(b)), (p, y, model, name, fit[name], b)
        if names == ["slowest"] or names == ["spread"] or names == ["load"]:
            x = runs[names[0]].to_numpy(float)
            res = stats.linregress(x, runs[y].to_numpy(float))
            t = stats.t.ppf(0.975, len(x) - 2)
            assert abs(fit[names[0] + "_ci95"] - t * res.stderr) <= 1e-9 * max(1, res.stderr), (fit, res)
            assert abs(fit["r2"] - res.rvalue ** 2) <= 1e-9, (fit, res)
    print("ok fits.csv: lines and joint fits equal numpy's least squares, intervals Student's t (scipy)")


def test_study():
    d = harness.tmpdir()
    runs = os.path.join(d, "runs")
    run_study_line(runs)
    out = os.path.join(d, "study")
    text, _ = pp.script("cs262_study.py", [runs, "-o", out, "--check", "4"])
    assert "checked /clocks against /events in 4 runs: all equal" in text, text
    table = pd.read_csv(os.path.join(out, "study.csv"), float_precision="round_trip")
    check_table(runs, table)
    check_fits(table, pd.read_csv(os.path.join(out, "fits.csv"), float_precision="round_trip"))
    h, w = pp.check_png(os.path.join(out, "study.png"))
    assert w > h, (h, w)  # 2 rows x 3 columns of panels
    # the course's five runs: rates 1-6, p-internal 0.7, seeds 1-5, each clocks_plot's two panels
    for s in range(1, 6):
        assert f"wrote {os.path.join(out, f'course-seed{s}.png')}" in text
        pp.check_png(os.path.join(out, f"course-seed{s}.png"))
    assert sorted(os.listdir(out)) == sorted(["study.csv", "fits.csv", "study.png"] +
                                             [f"course-seed{s}.png" for s in range(1, 6)])
    print("ok study.png and the five course figures")
    # nothing replaced without --force; everything with it
    _, err = pp.script("cs262_study.py", [runs, "-o", out], expect_rc=2)
    assert err.strip().endswith("exists and was not named by -o; --force replaces it"), err
    # collect.py's sweep.h5 beside the runs (what the collect job leaves) is no run: left out
    sweep = os.path.join(runs, "sweep.h5")
    pp.script("collect.py", [runs, "-o", sweep])
    text, _ = pp.script("cs262_study.py", [runs, "-o", out, "--force", "--check", "0"])
    assert f"note: {sweep} is a sweep table (collect.py), not a run: left out" in text, text
    assert f"wrote {os.path.join(out, 'study.csv')} (20 runs)" in text, text
    print("ok a second study into the same directory needs --force; a sweep table beside the runs is left out")
    # a directory whose name has a dot, asked for with a trailing /
    dotted = os.path.join(d, "study.v2") + "/"
    pp.script("cs262_study.py", [runs, "-o", dotted, "--check", "0"])
    assert os.path.isfile(os.path.join(dotted, "study.csv"))
    # a run whose /clocks says another drift than its /events: the sample check finds it (exit 1)
    bad = os.path.join(d, "bad")
    os.makedirs(bad)
    victim = os.path.join(bad, "r1-6_p0.7_s1.h5")
    shutil.copy(os.path.join(runs, "r1-6_p0.7_s1.h5"), victim)
    with h5py.File(victim, "r+") as f:
        f["clocks/drift"][1] = f["clocks/drift"][1] + 1
    text, _ = pp.script("cs262_study.py", [victim, "-o", os.path.join(d, "bad-study")], expect_rc=1)
    assert f"{victim}: /clocks differs from /events: drift differs from /events (exact) (/clocks row 1)" in text, text
    print("ok a /clocks drift that differs from /events is reported, exit 1")


def test_bad_input():
    d = harness.tmpdir()
    replay = os.path.join(d, "replay.h5")
    harness.run(3, ["replay", os.path.join(harness.HERE, "data", "three_process.txt"), "-q", "-o", replay])
    text = os.path.join(d, "notes.txt")
    with open(text, "w") as f:
        f.write("not a run\n")
    empty = os.path.join(d, "empty")
    os.makedirs(empty)
    for args, needle in [([replay, "-o", os.path.join(d, "o")], "has no /clocks group (subcommand 'replay')"),
                         ([text, "-o", os.path.join(d, "o")], "not an HDF5 file"),
                         ([os.path.join(d, "nope.h5"), "-o", os.path.join(d, "o")], "no such file"),
                         ([empty, "-o", os.path.join(d, "o")], "no run files (*.h5) in this directory"),
                         ([replay, "-o", os.path.join(d, "o.png")], "the study writes a directory")]:
        _, err = pp.script("cs262_study.py", args, expect_rc=2)
        lines = err.strip().splitlines()
        assert len(lines) == 1 and needle in lines[0] and lines[0].startswith("cs262_study.py: "), (needle, err)
    assert not os.path.exists(os.path.join(d, "o")) and not os.path.exists(os.path.join(d, "o.png"))
    out, _ = pp.script("cs262_study.py", ["--help"])
    assert out.startswith("usage:") and "-o DIR" in out and "study.csv" in out and "--check K" in out, out
    print("ok bad input: one line, exit 2, nothing written")


if __name__ == "__main__":
    test_list()
    test_bad_input()
    test_study()
