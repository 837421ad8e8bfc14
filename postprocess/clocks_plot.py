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
OUT/summary.csv has one row per run (the course's five runs plus the variations side by
side). The tables are also printed. With one run, -o c3.png (.pdf, .svg) writes that figure
and nothing else; -o c3.csv writes that run's table (with several runs: the summary). A file
that -o did not name is never replaced without --force.

    clocks_plot.py results/clocks-*.h5 -o figures/
    clocks_plot.py results/clocks-1.h5 -o c3.png
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


def by_rank(run):
    """The events in each rank's local order, grouped by rank (pandas group-by)."""
    return run.events.sort_values(["rank", "seq"]).groupby("rank", sort=True)


def drift_from_events(run):
    """Per rank, the largest gap max_s L_s(t) - L_r(t) over the run, where L_r(t) is the Lamport
    clock of r's last event at or before model time t (0 before its first). The gaps only
    change at event times, so evaluating there gives the exact maximum: a pivot of the clocks
    over (event time, rank), carried forward in time."""
    ev = run.events
    if len(ev) == 0:
        return np.zeros(run.n_ranks, np.int64)
    grid = (ev.pivot_table(index="model_time", columns="rank", values="lamport", aggfunc="max")
            .reindex(columns=range(run.n_ranks)).ffill().fillna(0).astype(np.int64))
    return grid.rsub(grid.max(axis=1), axis=0).max(axis=0).to_numpy()


def rank_table(run):
    """One row per rank; from /events when the run was traced, else from /ranks (and /clocks)."""
    ranks = run.ranks
    n = run.n_ranks
    ev = run.events
    traced = ev is not None and len(ev) > 0
    extra = run.groups.get("clocks")
    if extra is not None and len(extra) != n:
        extra = None
    t = pd.DataFrame({"rank": np.arange(n),
                      "tick_rate": ranks["tick_rate"].astype(float) if "tick_rate" in ranks else np.nan})
    if traced:
        g = by_rank(run)
        ordered = ev.sort_values(["rank", "seq"])
        step = ordered["lamport"] - ordered.groupby("rank")["lamport"].shift(fill_value=0)
        per = pd.DataFrame({"events": g.size(), "final_lamport": g["lamport"].last(),
                            "max_jump": step.groupby(ordered["rank"]).max(),
                            "jumps": (step > 1).groupby(ordered["rank"]).sum(),
                            "max_queue": g["queue_len"].max()}).reindex(range(n), fill_value=0)
        t = t.join(per, on="rank")
        if "max_queue" in ranks:  # the runtime's peak, taken on arrival: >= any after-event sample
            t["max_queue"] = np.maximum(t["max_queue"], ranks["max_queue"].to_numpy())
    else:
        t["events"] = ranks["n_events"].astype(int)
        t["final_lamport"] = ranks["final_lamport"] if "final_lamport" in ranks else np.nan
        for c in ("max_jump", "jumps"):
            t[c] = extra[c].to_numpy() if extra is not None and c in extra else np.nan
        t["max_queue"] = ranks["max_queue"] if "max_queue" in ranks else np.nan
    t["drift"] = extra["drift"].to_numpy() if extra is not None and "drift" in extra else \
        (drift_from_events(run) if traced else np.nan)
    t["pushed"] = t["final_lamport"] - t["events"]
    t["lag"] = t["final_lamport"].max() - t["final_lamport"]
    return t[["rank", "tick_rate", "events", "final_lamport", "max_jump", "jumps", "drift", "pushed", "lag",
              "max_queue"]]


def plot(run, table, out):
    ev = run.events
    names = run.rank_names()
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 7), sharex=True)
    colours = plt.get_cmap("tab10")
    for r, mine in by_rank(run):
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


def summary_row(run, table):
    traced = len(run.events) > 0
    return {"run": run.name, "ranks": run.n_ranks, "rates": " ".join(f"{v:g}" for v in table["tick_rate"]),
            "model_s": float(run.attrs.get("duration", run.events["model_time"].max() if traced else np.nan)),
            "events": int(table["events"].sum()), "max_jump": table["max_jump"].max(),
            "max_drift": table["drift"].max(), "max_lag": int(table["lag"].max()),
            "max_queue": table["max_queue"].max()}


def main():
    ap = ch.script_parser(__doc__, "clocks run files",
                          "a directory for the figures and tables; with one run OUT.png/.pdf/.svg is the figure "
                          "alone; OUT.csv is the table alone (one run: per rank; several: the summary)", "OUT")
    ap.add_argument("--format", choices=["png", "pdf", "svg"], default="png", help="figure format (default png)")
    args = ap.parse_args()
    runs = [ch.open_run(p, need=("ranks", "events")) for p in args.runs]
    out = args.output
    # 1. Where everything goes: OUT.csv, OUT.<figure> (one run), or a directory.
    csv_only = not os.path.isdir(out) and out.lower().endswith(".csv")
    figure_only = not csv_only and ch.output_is_file(out, (".png", ".pdf", ".svg"), len(runs))
    if csv_only or figure_only:
        d = os.path.dirname(out)
        if d and not os.path.isdir(d):
            raise ch.RunFileError(f"{out}: directory {d} does not exist")
        plan = [(run, None, out if figure_only else None) for run in runs]
        ch.claim_outputs([out], args.force, named=(out,))
    else:
        os.makedirs(out, exist_ok=True)
        plan = [(run, os.path.join(out, run.name + ".csv"),
                 os.path.join(out, run.name + "." + args.format) if len(run.events) else None) for run in runs]
        ch.claim_outputs([p for _, c, f in plan for p in (c, f) if p] + [os.path.join(out, "summary.csv")],
                         args.force)
    # 2. Per run: the table (printed, and written unless OUT is one file), the figure.
    summary = []
    for run, csv, fig in plan:
        table = rank_table(run)
        print(f"== {run.path} ({run.n_ranks} ranks, speed-up {run.speedup:g})")
        print(table.to_string(index=False))
        if csv_only and len(runs) == 1:
            csv = out
        if csv:
            table.to_csv(csv, index=False)
            print(f"wrote {csv}")
        if fig:
            plot(run, table, fig)
            print(f"wrote {fig}")
        elif not len(run.events):
            print(f"note: {run.path} has no events (--no-trace): table from /ranks, no figure")
        summary.append(summary_row(run, table))
    # 3. The summary across runs.
    s = pd.DataFrame(summary)
    print("== summary")
    print(s.to_string(index=False))
    path = out if csv_only and len(runs) > 1 else None if csv_only or figure_only else os.path.join(out, "summary.csv")
    if path:
        s.to_csv(path, index=False)
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    ch.cli_main(main)
