#!/usr/bin/python3
"""Tabulates Byzantine-agreement trials (consensus byz, OM or SM) and maps the agreement rate over (n, traitors).

Writes into OUTDIR:
  trials.csv     one row per trial of every file: run, algorithm (om, sm), trial, n, m, commander, traitors
                 (ranks, space-separated), strategy, order, decisions (one letter per rank in
                 rank order: A attack, R retreat, * the commander, - none recorded),
                 IC1, IC2, agree (IC1 and IC2), oral_messages, mpi_messages, bytes;
  agreement.csv  per (n, traitors): trials, agreed, rate (and an algorithm column first when the
                 files hold SM runs);
  agreement.png  heat map of the agreement rate over n (columns) and traitors (rows), each
                 cell labelled with agreed/trials (a sweep of files fills the grid), one panel
                 per algorithm;
  contrast.png   when the files hold both algorithms: the agreement rate against the number of
                 traitors, one line per (algorithm, n): OM failing past n/3, SM holding.
The trials table is also printed. -o OUT.csv writes the trials table alone, -o OUT.png (.pdf,
.svg) the heat map alone; a file that -o did not name is never replaced without --force.

    byz_table.py results/byz-*.h5 -o byz/
"""
import itertools
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

import consensus_h5 as ch  # noqa: E402

LETTER = {0: "R", 1: "A", -1: "-"}  # -1 on a lieutenant: no decision recorded


def trials_table(run):
    """One row per trial; the per-rank matrices become text columns row by row (no per-trial loop)."""
    byz = run.byz
    t = byz.trials.copy()
    T = len(t)
    cmd = t["commander"].to_numpy().astype(int)
    letters = np.vectorize(lambda d: LETTER.get(int(d), "?"), otypes=[object])(byz.decision) if T else \
        np.zeros((0, run.n_ranks), object)
    if T:
        letters[np.arange(T), cmd] = "*"
    traitors = [np.flatnonzero(row) for row in byz.traitor]
    out = pd.DataFrame({
        "run": run.name, "algorithm": str(byz.attrs.get("algorithm", "om")), "trial": t["trial"],
        "n": run.n_ranks, "m": byz.attrs.get("m", np.nan), "commander": cmd,
        "traitors": [" ".join(map(str, tr)) or "-" for tr in traitors],
        "n_traitors": byz.traitor.astype(bool).sum(axis=1) if T else np.zeros(0, int),
        "strategy": [byz.strategy_text(k) for k in range(T)],
        "order": t["order"].map(lambda o: ch.ORDER_NAMES.get(int(o), str(int(o)))),
        "decisions": [" ".join(row) for row in letters],
        "IC1": t["ic1"].astype(bool), "IC2": t["ic2"].astype(bool)})
    out["agree"] = out["IC1"] & out["IC2"]
    for c in ("oral_messages", "mpi_messages", "bytes"):
        out[c] = t[c] if c in t else np.nan
    return out


def agreement(table):
    """Per (algorithm, n, traitors): trials, agreed, rate (a group-by over the trials table)."""
    agg = table.groupby(["algorithm", "n", "n_traitors"])["agree"].agg(trials="size", agreed="sum").reset_index()
    agg["rate"] = agg["agreed"] / agg["trials"]
    return agg


def heat_map(agg, out):
    """The agreement rate over n (columns) and traitors (rows), one panel per algorithm."""
    algorithms = sorted(agg["algorithm"].unique())
    ns_all, ks_all = sorted(agg["n"].unique()), sorted(agg["n_traitors"].unique())
    fig, axes = plt.subplots(1, len(algorithms), squeeze=False,
                             figsize=(len(algorithms) * (1.2 + 0.9 * len(ns_all)), 1.2 + 0.7 * len(ks_all)))
    for ax, alg in zip(axes[0], algorithms):
        a = agg[agg["algorithm"] == alg]
        rate = a.pivot(index="n_traitors", columns="n", values="rate").sort_index().sort_index(axis=1)
        text = (a["agreed"].astype(int).astype(str) + "/" + a["trials"].astype(int).astype(str))
        label = a.assign(text=text).pivot(index="n_traitors", columns="n", values="text").reindex_like(rate)
        ns, ks = list(rate.columns), list(rate.index)
        im = ax.imshow(rate.to_numpy(dtype=float), origin="lower", cmap="RdYlGn", vmin=0, vmax=1, aspect="auto")
        for i, j in zip(*np.nonzero(label.notna().to_numpy())):
            ax.text(j, i, label.iat[i, j], ha="center", va="center", fontsize=8)
        ax.set_xticks(range(len(ns)))
        ax.set_xticklabels([str(v) for v in ns])
        ax.set_yticks(range(len(ks)))
        ax.set_yticklabels([str(v) for v in ks])
        ax.set_xlabel("generals n")
        ax.set_ylabel("traitors")
        title = "agreement rate (IC1 and IC2)"
        ax.set_title(title if len(algorithms) == 1 else f"{alg.upper()}(m): {title}", fontsize=10)
    fig.colorbar(im, ax=list(axes[0]), fraction=0.05)
    fig.savefig(out, dpi=110, bbox_inches="tight")
    plt.close(fig)


def contrast(agg, out):
    """The agreement rate against the traitors, one line per (algorithm, n): OM dashed, SM solid,
    with OM's bound t < n/3 marked per n."""
    fig, ax = plt.subplots(figsize=(7, 4.2))
    colours = itertools.cycle(plt.rcParams["axes.prop_cycle"].by_key()["color"])
    for n in sorted(agg["n"].unique()):
        c = next(colours)
        for alg, style in (("om", "--o"), ("sm", "-s")):
            a = agg[(agg["algorithm"] == alg) & (agg["n"] == n)].sort_values("n_traitors")
            if len(a):
                ax.plot(a["n_traitors"], a["rate"], style, color=c, label=f"{alg.upper()} n={n}", markersize=4)
        ax.axvline((n - 1) / 3 + 0.5, color=c, lw=0.6, alpha=0.4)
    ax.set_xlabel("traitors")
    ax.set_ylabel("agreement rate (IC1 and IC2)")
    ax.set_ylim(-0.05, 1.05)
    ax.set_title("OM(m) against SM(m) (faint lines: OM's bound, traitors < n/3)", fontsize=10)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def main():
    ap = ch.script_parser(__doc__, "byz run files (need /byz)",
                          "a directory for the tables and the heat map; OUT.csv is the trials table alone, "
                          "OUT.png/.pdf/.svg the heat map alone", "OUT")
    args = ap.parse_args()
    runs = [ch.open_run(p, need=("byz",)) for p in args.runs]
    out = args.output
    # 1. Where it goes: one file (the trials table or the heat map), or a directory of all three.
    if not os.path.isdir(out) and out.lower().endswith(".csv"):
        trials_csv, agreement_csv, png = out, None, None
    elif ch.output_is_file(out, (".png", ".pdf", ".svg"), 1):
        trials_csv, agreement_csv, png = None, None, out
    else:
        os.makedirs(out, exist_ok=True)
        trials_csv, agreement_csv, png = (os.path.join(out, f) for f in ("trials.csv", "agreement.csv",
                                                                        "agreement.png"))
    d = os.path.dirname(out)
    if d and not os.path.isdir(d):
        raise ch.RunFileError(f"{out}: directory {d} does not exist")
    ch.claim_outputs([p for p in (trials_csv, agreement_csv, png) if p], args.force, named=(out,))
    # 2. The trials, the agreement per (n, traitors), the heat map.
    table = pd.concat([trials_table(r) for r in runs], ignore_index=True)
    with pd.option_context("display.width", 200, "display.max_columns", 30):
        print(table.drop(columns=["n_traitors"]).to_string(index=False))
    if trials_csv:
        table.to_csv(trials_csv, index=False)
        print(f"wrote {trials_csv}")
    agg = agreement(table)
    if agreement_csv:
        written = agg if (agg["algorithm"] != "om").any() else agg.drop(columns=["algorithm"])
        written.rename(columns={"n_traitors": "traitors"}).to_csv(agreement_csv, index=False)
        print(f"wrote {agreement_csv}")
    if png and len(agg):
        heat_map(agg, png)
        print(f"wrote {png}")
    if agreement_csv and agg["algorithm"].nunique() > 1:
        contrast_png = os.path.join(os.path.dirname(agreement_csv), "contrast.png")
        ch.claim_outputs([contrast_png], args.force, named=(out,))
        contrast(agg, contrast_png)
        print(f"wrote {contrast_png}")
    return 0


if __name__ == "__main__":
    ch.cli_main(main)
