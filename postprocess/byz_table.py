#!/usr/bin/python3
"""Tabulates Byzantine-agreement trials (consensus byz) and maps the agreement rate over (n, traitors).

Writes into OUTDIR:
  trials.csv     one row per trial of every file: run, trial, n, m, commander, traitors
                 (ranks, space-separated), strategy, order, decisions (one letter per rank in
                 rank order: A attack, R retreat, * the commander, - none recorded),
                 IC1, IC2, agree (IC1 and IC2), oral_messages, mpi_messages, bytes;
  agreement.csv  per (n, traitors): trials, agreed, rate;
  agreement.png  heat map of the agreement rate over n (columns) and traitors (rows), each
                 cell labelled with agreed/trials (a sweep of files fills the grid).
The trials table is also printed.

    byz_table.py results/byz-*.h5 -o byz/
"""
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

import consensus_h5 as ch  # noqa: E402

LETTER = {0: "R", 1: "A", -1: "-"}  # -1 on a lieutenant: no decision recorded


def trials_table(run):
    byz = run.byz
    rows = []
    for t in range(len(byz.trials)):
        tr = byz.trials.iloc[t]
        traitors = np.flatnonzero(byz.traitor[t])
        rows.append({
            "run": run.name, "trial": t, "n": run.n_ranks, "m": byz.attrs.get("m", np.nan),
            "commander": int(tr["commander"]),
            "traitors": " ".join(str(r) for r in traitors) or "-",
            "n_traitors": len(traitors),
            "strategy": byz.strategy_text(t),
            "order": ch.ORDER_NAMES.get(int(tr["order"]), str(int(tr["order"]))),
            "decisions": " ".join("*" if r == int(tr["commander"]) else LETTER.get(int(d), "?")
                                  for r, d in enumerate(byz.decision[t])),
            "IC1": bool(tr["ic1"]), "IC2": bool(tr["ic2"]), "agree": bool(tr["ic1"]) and bool(tr["ic2"]),
            "oral_messages": int(tr["oral_messages"]) if "oral_messages" in tr else np.nan,
            "mpi_messages": int(tr["mpi_messages"]) if "mpi_messages" in tr else np.nan,
            "bytes": int(tr["bytes"]) if "bytes" in tr else np.nan,
        })
    return pd.DataFrame(rows)


def heat_map(agg, out):
    ns = sorted(agg["n"].unique())
    ks = sorted(agg["n_traitors"].unique())
    grid = np.full((len(ks), len(ns)), np.nan)
    text = {}
    for _, a in agg.iterrows():
        i, j = ks.index(a["n_traitors"]), ns.index(a["n"])
        grid[i, j] = a["rate"]
        text[i, j] = f"{int(a['agreed'])}/{int(a['trials'])}"
    fig, ax = plt.subplots(figsize=(1.2 + 0.9 * len(ns), 1.2 + 0.7 * len(ks)))
    im = ax.imshow(grid, origin="lower", cmap="RdYlGn", vmin=0, vmax=1, aspect="auto")
    for (i, j), s in text.items():
        ax.text(j, i, s, ha="center", va="center", fontsize=8)
    ax.set_xticks(range(len(ns)))
    ax.set_xticklabels([str(v) for v in ns])
    ax.set_yticks(range(len(ks)))
    ax.set_yticklabels([str(v) for v in ks])
    ax.set_xlabel("generals n")
    ax.set_ylabel("traitors")
    ax.set_title("agreement rate (IC1 and IC2)", fontsize=10)
    fig.colorbar(im, ax=ax, fraction=0.05)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def main():
    ap = ch.script_parser(__doc__, "byz run files (need /byz)", "directory for the tables and heat map", "OUTDIR")
    args = ap.parse_args()
    runs = [ch.open_run(p, need=("byz",)) for p in args.runs]
    table = pd.concat([trials_table(r) for r in runs], ignore_index=True)
    os.makedirs(args.output, exist_ok=True)
    path = os.path.join(args.output, "trials.csv")
    table.to_csv(path, index=False)
    with pd.option_context("display.width", 200, "display.max_columns", 30):
        print(table.drop(columns=["n_traitors"]).to_string(index=False))
    print(f"wrote {path}")
    agg = (table.groupby(["n", "n_traitors"])["agree"].agg(trials="size", agreed="sum").reset_index())
    agg["rate"] = agg["agreed"] / agg["trials"]
    path = os.path.join(args.output, "agreement.csv")
    agg.rename(columns={"n_traitors": "traitors"}).to_csv(path, index=False)
    print(f"wrote {path}")
    if len(agg):
        png = os.path.join(args.output, "agreement.png")
        heat_map(agg, png)
        print(f"wrote {png}")
    return 0


if __name__ == "__main__":
    ch.cli_main(main)
