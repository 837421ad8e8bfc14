#!/usr/bin/python3
"""The scale-model course study: one row per clocks run, drift and queue growth fitted against the rates.

Takes clocks run files and directories (searched recursively for *.h5, as collect.py does) and
writes into the directory -o DIR:

  study.csv    one row per run: file, seed, setting (the --rates range the run was given), rates,
               spread (fastest - slowest rate), slowest, mean_rate, p_internal, load (the largest
               offered load on one machine: arrivals per own tick if the senders never received;
               above 1 its queue grows), duration, speedup,
               complete, per rank rate_R, drift_R and queue_R (peak arrival queue), max_drift,
               max_queue, messages (sent), undelivered (arrived, still queued at the end) and lost
               (sent, never arrived); every number from /clocks
  fits.csv     per p-internal and per measure (max_drift, max_queue): the least-squares line against
               spread, against slowest, the joint fit on both, and the line against load, each coefficient with its 95 %
               confidence interval (Student t), R^2 and the number of runs
  study.png    max drift and max queue against spread, the slowest rate and load: one point per run
               (a little seeded horizontal jitter, the rates being whole numbers), the mean at each x,
               the fitted line and its 95 % confidence band, one colour per p-internal
  course-seedS.png  the course's two-panel figure (postprocess/clocks_plot.py: Lamport clock and
               queue length over model time per rank) for the five course runs: rates 1-6,
               p-internal 0.7, seeds 1-5 (those present and traced)

The /clocks numbers of a sample of runs (--check K, default 10, spread evenly over the sorted
files; the course runs first) are recomputed from /events with postprocess/check.py's exact
rules; a difference is printed and the exit status is 1. Files in DIR are not replaced without
--force.

    cs262_study.py results/1234/ -o results/1234/study
    cs262_study.py runs/*.h5 -o study --check 0
"""
import math
import os
import shlex

import h5py
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from scipy import stats  # noqa: E402

import check  # noqa: E402
import clocks_plot  # noqa: E402
import collect  # noqa: E402
import consensus_h5 as ch  # noqa: E402

COURSE_SETTING, COURSE_P, COURSE_SEEDS = "1-6", 0.7, (1, 2, 3, 4, 5)
PRESET_RATES = {"cs262": "1-6", "cs262-low-variation": "1-3"}
MEASURES = ("max_drift", "max_queue")
PREDICTORS = ("spread", "slowest", "load")


def rate_setting(command_line):
    """The --rates the run was given (the preset's, else the default 1-6), read from its command line."""
    words = shlex.split(command_line) if command_line else []
    setting = "1-6"
    for i, w in enumerate(words[:-1]):
        if w == "--preset" and words[i + 1] in PRESET_RATES:
            setting = PRESET_RATES[words[i + 1]]
    for i, w in enumerate(words[:-1]):
        if w == "--rates":
            setting = words[i + 1]
    return setting


def offered_load(rates, p):
    """The largest offered load on one machine: messages arriving per tick of its own, if every tick of
    every sender were an idle step (an upper bound: a sender busy receiving sends nothing). Sender s
    sends with probability 1 - p per idle tick, a third each to s+1, to s+2 and to all others
    (with 2 ranks every send goes to the other), so r receives from s at rate
    rate_s (1 - p) ([r = s+1] + [r = s+2] + 1) / 3. A load above 1 is a queue that grows."""
    n = len(rates)
    load = 0.0
    for r in range(n):
        into = 0.0
        for s in range(n):
            if s != r:
                share = 1.0 if n == 2 else (int(r == (s + 1) % n) + int(r == (s + 2) % n) + 1) / 3
                into += rates[s] * (1 - p) * share
        load = max(load, into / rates[r])
    return load


def sweep_table(path):
    """Whether path is a table collect.py wrote (format consensus-sweep), which sits beside the runs."""
    try:
        with h5py.File(path, "r") as f:
            return ch._text(f.attrs.get("format", b"")) == "consensus-sweep"
    except OSError:
        return False  # not HDF5: study_row says so


def study_row(path):
    """One row of study.csv from a run's root attributes and /clocks; RunFileError for anything else."""
    if not os.path.exists(path):
        raise ch.RunFileError(f"{path}: no such file")
    if not os.path.isfile(path) or not h5py.is_hdf5(path):
        raise ch.RunFileError(f"{path}: not an HDF5 file (expected a consensus run file)")
    with h5py.File(path, "r") as f:
        root = {k: ch._text(v) for k, v in f.attrs.items()}
        fmt, version = root.get("format"), root.get("format_version")
        if fmt != ch.FORMAT:
            what = f"format '{fmt}'" if fmt is not None else "no 'format' attribute"
            raise ch.RunFileError(f"{path}: HDF5 file with {what}, not a {ch.FORMAT} file")
        if version != ch.FORMAT_VERSION:
            raise ch.RunFileError(f"{path}: format_version {version} is not supported "
                                  f"(this reader reads {ch.FORMAT_VERSION})")
        if "clocks" not in f or not isinstance(f["clocks"], h5py.Group):
            raise ch.RunFileError(f"{path}: the run has no /clocks group (subcommand "
                                  f"'{root.get('subcommand', '?')}'); the study needs clocks runs")
        g = f["clocks"]
        need = ("tick_rate", "drift", "max_queue", "messages_sent", "messages_received", "undelivered")
        missing = [c for c in need if c not in g]
        if missing:
            raise ch.RunFileError(f"{path}: /clocks/{missing[0]} is missing")
        c = {k: g[k][...] for k in need}
        p = float(ch._text(g.attrs["p_internal"]))
        duration = float(ch._text(g.attrs["duration"]))
    rates = c["tick_rate"].astype(float)
    row = {"file": path, "run": os.path.splitext(os.path.basename(path))[0], "seed": int(root.get("seed", -1)),
           "setting": rate_setting(str(root.get("command_line", ""))), "rates": " ".join(f"{v:g}" for v in rates),
           "spread": rates.max() - rates.min(), "slowest": rates.min(), "mean_rate": rates.mean(),
           "p_internal": p, "load": offered_load(rates, p), "duration": duration, "speedup": float(root.get("speedup", 1.0)),
           "complete": int(root.get("complete", 0))}
    for r in range(len(rates)):
        row[f"rate_{r}"] = rates[r]
        row[f"drift_{r}"] = int(c["drift"][r])
        row[f"queue_{r}"] = int(c["max_queue"][r])
    row.update({"max_drift": int(c["drift"].max()), "max_queue": int(c["max_queue"].max()),
                "messages": int(c["messages_sent"].sum()), "undelivered": int(c["undelivered"].sum()),
                "lost": int(c["messages_sent"].sum() - c["messages_received"].sum())})
    return row


def ols(y, X):
    """Least squares y = b0 + X b: coefficients, their 95 % half-widths (Student t), R^2, the fitted
    function and its 95 % confidence band of the mean at given x (for one predictor). None when the
    runs cannot determine the line (fewer than k + 2 runs, or a predictor that does not vary)."""
    y = np.asarray(y, float)
    A = np.column_stack([np.ones(len(y)), np.asarray(X, float).reshape(len(y), -1)])
    n, k = A.shape
    if n < k + 1 or np.linalg.matrix_rank(A) < k:
        return None
    beta, _, _, _ = np.linalg.lstsq(A, y, rcond=None)
    resid = y - A @ beta
    dof = n - k
    s2 = float(resid @ resid) / dof if dof > 0 else float("nan")
    cov = s2 * np.linalg.inv(A.T @ A)
    t = float(stats.t.ppf(0.975, dof)) if dof > 0 else float("nan")
    half = t * np.sqrt(np.diag(cov))
    tss = float(((y - y.mean()) ** 2).sum())
    r2 = 1 - float(resid @ resid) / tss if tss > 0 else float("nan")

    def band(x):
        B = np.column_stack([np.ones(len(x)), x])
        return B @ beta, t * np.sqrt(np.einsum("ij,jk,ik->i", B, cov, B))
    return {"beta": beta, "half": half, "r2": r2, "n": n, "band": band}


def fit_table(table):
    """fits.csv: per p-internal and measure, the line against each predictor and the joint fit."""
    rows = []
    for p, runs in table.groupby("p_internal", sort=True):
        for y in MEASURES:
            for model in (("spread",), ("slowest",), ("spread", "slowest"), ("load",)):
                fit = ols(runs[y], runs[list(model)])
                row = {"p_internal": p, "measure": y, "model": " + ".join(model), "runs": len(runs)}
                for i, name in enumerate(("intercept",) + model):
                    row[f"{name}"] = fit["beta"][i] if fit else np.nan
                    row[f"{name}_ci95"] = fit["half"][i] if fit else np.nan
                row["r2"] = fit["r2"] if fit else np.nan
                rows.append(row)
    cols = ["p_internal", "measure", "model", "runs", "intercept", "intercept_ci95", "spread", "spread_ci95",
            "slowest", "slowest_ci95", "load", "load_ci95", "r2"]
    return pd.DataFrame(rows).reindex(columns=cols)


def plot_study(table, out):
    """The 2 x 3 figure: measures (rows) against predictors (columns), one colour per p-internal."""
    fig, axes = plt.subplots(2, 3, figsize=(14, 8))
    colours = plt.get_cmap("tab10")
    jitter = np.random.default_rng(262).uniform(-0.15, 0.15, len(table))  # seeded: the same figure every time
    for i, y in enumerate(MEASURES):
        for j, x in enumerate(PREDICTORS):
            ax = axes[i, j]
            for c, (p, runs) in enumerate(table.groupby("p_internal", sort=True)):
                colour = colours(c % 10)
                xs = runs[x].to_numpy(float)
                whole = x != "load"  # rates are whole numbers: jitter them, and mark the mean at each
                ax.scatter(xs + jitter[runs.index] * whole, runs[y], s=9, alpha=0.35, color=colour, linewidths=0)
                if whole:
                    means = runs.groupby(x)[y].mean()
                    ax.plot(means.index, means.to_numpy(), "o", color=colour, markersize=6, markeredgecolor="black",
                            markeredgewidth=0.6)
                fit = ols(runs[y], runs[[x]])
                label = f"p-internal {p:g}: {len(runs)} runs"
                if fit:
                    grid = np.linspace(xs.min(), xs.max(), 50)
                    mid, half = fit["band"](grid)
                    ax.plot(grid, mid, color=colour)
                    ax.fill_between(grid, mid - half, mid + half, color=colour, alpha=0.2, linewidth=0)
                    label += f", slope {fit['beta'][1]:.2f} ± {fit['half'][1]:.2f}, R² {fit['r2']:.2f}"
                ax.plot([], [], color=colour, label=label)
            ax.set_xlabel({"spread": "spread of the tick rates: fastest − slowest (ticks/s)",
                           "slowest": "slowest tick rate (ticks/s)",
                           "load": "offered load on the busiest machine (arrivals per own tick)"}[x])
            ax.set_ylabel("largest drift (Lamport ticks)" if y == "max_drift" else "largest queue (messages)")
            ax.legend(fontsize=7, loc="upper right" if x == "slowest" else "upper left")
    fig.suptitle("scale model, 3 machines: one point per run, the mean at each value, the least-squares line "
                 "and its 95 % confidence band", fontsize=9)
    fig.tight_layout()
    fig.savefig(out, dpi=80)
    plt.close(fig)


def course_runs(table):
    """{seed: file} for the course's five runs (rates 1-6, p-internal 0.7, seeds 1-5), first file per seed."""
    mine = table[(table["setting"] == COURSE_SETTING) & np.isclose(table["p_internal"], COURSE_P)
                 & table["seed"].isin(COURSE_SEEDS)]
    return {int(s): runs["file"].iloc[0] for s, runs in mine.groupby("seed", sort=True)}


def check_sample(table, k, first):
    """Recomputes /clocks from /events (check.py's rules) in k runs: first those in first, then evenly
    over the rest. Returns (runs checked, lines naming every difference)."""
    if k <= 0:
        return [], []
    rest = [f for f in table["file"] if f not in first]
    picked = list(first)[:k]
    if len(picked) < k and rest:
        step = len(rest) / (k - len(picked))
        picked += [rest[int(i * step)] for i in range(min(k - len(picked), len(rest)))]
    checked, bad = [], []
    for path in picked:
        d = check.read(path)
        if len(d["events"]["rank"]) == 0:
            continue  # --no-trace: nothing to check against
        rep = check.Report(path)
        check.check_clocks(rep, d, int(d["attrs"]["n_ranks"]))
        checked.append(path)
        bad += [f"{path}: /clocks differs from /events: {t}" for t in rep.lines.get("clocks", [])]
    return checked, bad


def main():
    ap = ch.script_parser(__doc__, "clocks run files, or directories searched for *.h5",
                          "the directory for study.csv, fits.csv and the figures (made if missing)", "DIR")
    ap.add_argument("--check", type=int, default=10, metavar="K",
                    help="recompute /clocks from /events in K runs (default 10; 0: none)")
    args = ap.parse_args()
    out = args.output
    # 1. Where everything goes: a directory, and nothing in it replaced without --force.
    if not os.path.isdir(out) and not out.endswith("/") and os.path.splitext(out)[1]:
        raise ch.RunFileError(f"-o {out}: the study writes a directory (study.csv, fits.csv, figures); "
                              f"end it with / to make one of that name")
    paths = []
    for p in collect.find_runs(args.runs):
        if sweep_table(p):  # collect.py's sweep.h5 beside the runs it gathered
            print(f"note: {p} is a sweep table (collect.py), not a run: left out")
        else:
            paths.append(p)
    if not paths:
        raise ch.RunFileError(f"{' '.join(args.runs)}: no run files, only sweep tables")
    # 2. The table, from /clocks of every run.
    table = pd.DataFrame([study_row(p) for p in paths])
    course = course_runs(table)
    outputs = {"csv": os.path.join(out, "study.csv"), "fits": os.path.join(out, "fits.csv"),
               "figure": os.path.join(out, "study.png")}
    figures = {s: os.path.join(out, f"course-seed{s}.png") for s in course}
    ch.claim_outputs(list(outputs.values()) + list(figures.values()), args.force)
    os.makedirs(out, exist_ok=True)
    table.to_csv(outputs["csv"], index=False)
    print(f"wrote {outputs['csv']} ({len(table)} runs)")
    # 3. The fits and the study figure.
    fits = fit_table(table)
    fits.to_csv(outputs["fits"], index=False)
    with pd.option_context("display.width", 200, "display.float_format", "{:.3g}".format):
        print(fits.to_string(index=False))
    print(f"wrote {outputs['fits']}")
    plot_study(table, outputs["figure"])
    print(f"wrote {outputs['figure']}")
    # 4. The course's five runs, each as clocks_plot draws a run.
    for seed, path in course.items():
        run = ch.open_run(path, need=("ranks", "events"))
        if len(run.events) == 0:
            print(f"note: {path} (course run, seed {seed}) has no trace: no figure")
            continue
        clocks_plot.plot(run, clocks_plot.rank_table(run), figures[seed])
        print(f"wrote {figures[seed]}")
    # 5. The sample: /clocks against /events.
    checked, bad = check_sample(table, args.check, list(course.values()))
    for line in bad:
        print(line)
    if checked:
        print(f"checked /clocks against /events in {len(checked)} runs: "
              f"{'all equal' if not bad else f'{len(bad)} differences'}")
    return 1 if bad else 0


if __name__ == "__main__":
    ch.cli_main(main)
