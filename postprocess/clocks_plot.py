#!/usr/bin/python3
"""Plots the scale-model runs (consensus clocks): logical-clock drift and queue lengths per rank.

For every run: OUT/RUN.png (or --format pdf, svg) with two panels (Lamport clock over model
time per rank, queue length over model time per rank), each rank labelled with its tick
rate, and OUT/RUN.csv
with one row per rank:
    rank, tick_rate, events, final_lamport,
    max_jump   largest increase of the Lamport clock at one event (1 = never pushed),
    jumps      events where the clock rose by more than 1 (a receive that pulled it forward),
    drift      largest gap between the fastest Lamport clock and this rank's, over the run (as
               `consensus clocks` defines it): /clocks/drift when the run has it (the runtime's
               sampled value), else computed from /events at every event time,
    pushed     final_lamport - events: how far others pushed this rank's clock past its own ticks,
    lag        largest final_lamport of the run - final_lamport: how far behind the leader it ends,
    max_queue  longest arrival queue (the runtime's peak from /ranks/max_queue, measured when a
               message arrives; the figure shows the length after each event, which can be lower).
With several runs, OUT/summary.csv has one row per run (the course's five runs plus the
variations side by side). The tables are also printed.

    clocks_plot.py results/clocks-*.h5 -o figures/
"""
import os

import matplotlib

matplotlib.use("Agg")
matplotlib.rcParams["svg.fonttype"] = "none"  # SVG keeps its text as text (searchable, editable)
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

import consensus_h5 as ch  # noqa: E402


def drift_from_events(run):
    """Per rank, the largest gap max_s L_s(t) - L_r(t) over the run, where L_r(t) is the Lamport
    clock of r's last event at or before model time t (0 before its first). The gaps only
    change at event times, so evaluating there gives the exact maximum."""
    ev = run.events
    grid = np.unique(ev["model_time"].to_numpy())
    clocks = np.zeros((run.n_ranks, len(grid)), np.int64)
    for r in range(run.n_ranks):
        mine = ev[ev["rank"] == r].sort_values("seq")
        k = np.searchsorted(mine["model_time"].to_numpy(), grid, side="right") - 1
        lam = mine["lamport"].to_numpy()
        clocks[r] = np.where(k >= 0, lam[np.maximum(k, 0)] if len(lam) else 0, 0)
    return (clocks.max(axis=0) - clocks).max(axis=1) if len(grid) else np.zeros(run.n_ranks, np.int64)


def rank_table(run):
    """One row per rank; from /events when the run was traced, else from /ranks (and /clocks)."""
    rows = []
    ranks = run.ranks
    ev = run.events
    traced = ev is not None and len(ev) > 0
    extra = run.groups.get("clocks")
    if extra is not None and len(extra) != run.n_ranks:
        extra = None
    drift = drift_from_events(run) if traced else np.full(run.n_ranks, np.nan)
    if extra is not None and "drift" in extra:
        drift = extra["drift"].to_numpy()
    for r in range(run.n_ranks):
        row = {"rank": r, "tick_rate": float(ranks["tick_rate"][r]) if "tick_rate" in ranks else np.nan}
        if traced:
            mine = ev[ev["rank"] == r].sort_values("seq")
            lam = mine["lamport"].to_numpy()
            steps = np.diff(np.concatenate([[0], lam]))
            row["events"] = len(mine)
            row["final_lamport"] = int(lam[-1]) if len(lam) else 0
            row["max_jump"] = int(steps.max()) if len(steps) else 0
            row["jumps"] = int(np.sum(steps > 1))
            row["max_queue"] = int(mine["queue_len"].max()) if len(mine) else 0
            if "max_queue" in ranks:  # the runtime's peak, taken on arrival: >= any after-event sample
                row["max_queue"] = max(row["max_queue"], int(ranks["max_queue"][r]))
        else:
            row["events"] = int(ranks["n_events"][r])
            row["final_lamport"] = int(ranks["final_lamport"][r]) if "final_lamport" in ranks else np.nan
            row["max_jump"] = np.nan
            row["jumps"] = np.nan
            row["max_queue"] = int(ranks["max_queue"][r]) if "max_queue" in ranks else np.nan
            if extra is not None:
                for c in ("max_jump", "jumps"):
                    if c in extra:
                        row[c] = int(extra[c][r])
        row["drift"] = drift[r]
        row["pushed"] = row["final_lamport"] - row["events"]
        rows.append(row)
    t = pd.DataFrame(rows)
    t["lag"] = t["final_lamport"].max() - t["final_lamport"]
    return t[["rank", "tick_rate", "events", "final_lamport", "max_jump", "jumps", "drift", "pushed", "lag",
              "max_queue"]]


def plot(run, table, out):
    ev = run.events
    names = run.rank_names()
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 7), sharex=True)
    colours = plt.get_cmap("tab10")
    for r in range(run.n_ranks):
        mine = ev[ev["rank"] == r].sort_values("seq")
        label = f"{names[r]} ({table['tick_rate'][r]:g} ticks/s)"
        c = colours(r % 10)
        top.step(mine["model_time"], mine["lamport"], where="post", color=c, label=label)
        bottom.step(mine["model_time"], mine["queue_len"], where="post", color=c, label=label)
    top.set_ylabel("Lamport clock")
    top.set_title(f"{run.name}: logical clock per rank (drift)", fontsize=10)
    top.legend(fontsize=8)
    bottom.yaxis.set_major_locator(MaxNLocator(integer=True))
    bottom.set_ylabel("queue length (messages)")
    bottom.set_xlabel("model time (s)")
    bottom.set_title("arrival queue length per rank", fontsize=10)
    bottom.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def main():
    ap = ch.script_parser(__doc__, "clocks run files", "directory for the figures and tables", "OUTDIR")
    ap.add_argument("--format", choices=["png", "pdf", "svg"], default="png", help="figure format (default png)")
    args = ap.parse_args()
    runs = [ch.open_run(p, need=("ranks", "events")) for p in args.runs]
    os.makedirs(args.output, exist_ok=True)
    summary = []
    for run in runs:
        table = rank_table(run)
        csv = os.path.join(args.output, run.name + ".csv")
        table.to_csv(csv, index=False)
        print(f"== {run.path} ({run.n_ranks} ranks, speed-up {run.speedup:g})")
        print(table.to_string(index=False))
        print(f"wrote {csv}")
        traced = len(run.events) > 0
        if traced:
            png = os.path.join(args.output, run.name + "." + args.format)
            plot(run, table, png)
            print(f"wrote {png}")
        else:
            print(f"note: {run.path} has no events (--no-trace): table from /ranks, no figure")
        summary.append({"run": run.name, "ranks": run.n_ranks,
                        "rates": " ".join(f"{v:g}" for v in table["tick_rate"]),
                        "model_s": float(run.attrs.get("duration", run.events["model_time"].max() if traced
                                                       else np.nan)),
                        "events": int(table["events"].sum()),
                        "max_jump": table["max_jump"].max(), "max_drift": table["drift"].max(),
                        "max_lag": int(table["lag"].max()), "max_queue": table["max_queue"].max()})
    s = pd.DataFrame(summary)
    path = os.path.join(args.output, "summary.csv")
    s.to_csv(path, index=False)
    print("== summary")
    print(s.to_string(index=False))
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    ch.cli_main(main)
