#!/usr/bin/python3
"""Gathers a sweep of run files into one table: one row per run (or per byz trial), every parameter.

Takes run files and directories (searched recursively for *.h5; FILE.partial is left out) and
writes -o sweep.csv or -o sweep.h5. Each row has the file, every root attribute of the run
(subcommand, n_ranks, seed, command_line, speedup, complete, ...), the attributes of its protocol
group as byz.m, byz.wire, clocks.duration, clocks.p_internal, ..., and what the run measured:
events, messages, undelivered; byz: trials, traitors (mean per trial), strategies, ic1, ic2 and
agree (the share of trials), oral_messages; clocks: rates, max_drift, max_jump, max_queue,
final_lamport (largest). With --per trial (byz runs) there is one row per trial instead: the
run's columns plus trial, commander, order, traitors, n_traitors, strategy, decisions, ic1,
ic2, oral_messages, mpi_messages, bytes, seconds.

The .h5 table is one group /sweep with one 1-D dataset per column (text as fixed-length UTF-8
bytes), readable in one line:
    pandas:  pd.read_csv("sweep.csv")
    h5py:    pd.DataFrame({k: v[...] for k, v in h5py.File("sweep.h5")["sweep"].items()})
    Julia:   using CSV, DataFrames; CSV.read("sweep.csv", DataFrame)

    collect.py results/1234/ -o results/1234/sweep.csv
    collect.py runs/byz-*.h5 -o trials.h5 --per trial
"""
import os

import h5py
import numpy as np
import pandas as pd

import consensus_h5 as ch

LETTER = {0: "R", 1: "A", -1: "-"}


def find_runs(inputs):
    """The run files named or found under the directories named, sorted within each directory."""
    out = []
    for p in inputs:
        if os.path.isdir(p):
            found = []
            for top, dirs, files in os.walk(p):
                dirs.sort()
                found += [os.path.join(top, f) for f in sorted(files) if f.endswith(".h5")]
            if not found:
                raise ch.RunFileError(f"{p}: no run files (*.h5) in this directory")
            out += found
        else:
            out.append(p)
    return out


def _attrs(obj, prefix=""):
    return {prefix + k: ch._text(v) for k, v in obj.attrs.items()}


def run_rows(path, per_trial):
    """The rows of one run file (a list of dicts); RunFileError for a file that is no run."""
    if not os.path.exists(path):
        raise ch.RunFileError(f"{path}: no such file")
    if not os.path.isfile(path) or not h5py.is_hdf5(path):
        raise ch.RunFileError(f"{path}: not an HDF5 file (expected a consensus run file)")
    with h5py.File(path, "r") as f:
        root = _attrs(f)
        if root.get("format") != ch.FORMAT or root.get("format_version") != ch.FORMAT_VERSION:
            raise ch.RunFileError(f"{path}: not a {ch.FORMAT} file of format_version {ch.FORMAT_VERSION}")
        row = {"file": path, "run": os.path.splitext(os.path.basename(path))[0]}
        row.update(root)
        for g in ("byz", "clocks"):
            if g in f:
                row.update(_attrs(f[g], g + "."))
        n = int(root.get("n_ranks", 0))
        if "events" in f:
            row["events"] = len(f["events/rank"])
        if "messages" in f:
            recv = f["messages/recv_event"][...]
            row["messages"] = len(recv)
            row["undelivered"] = int(np.sum(recv < 0))
        if "clocks" in f:
            c = {k: f["clocks"][k][...] for k in f["clocks"] if f["clocks"][k].ndim == 1}
            row["rates"] = " ".join(f"{v:g}" for v in c.get("tick_rate", []))
            for col, name in (("drift", "max_drift"), ("max_jump", "max_jump"), ("max_queue", "max_queue"),
                              ("final_lamport", "final_lamport")):
                if col in c and len(c[col]):
                    row[name] = int(np.max(c[col]))
        if "byz" not in f:
            return [row]
        b = {k: f["byz"][k][...] for k in f["byz"]}
    T = len(b["commander"])
    traitor = b["traitor"].reshape(T, n).astype(bool)
    strategy = b["strategy"].reshape(T, n) if "strategy" in b else np.full((T, n), -1)
    names = [sorted({ch.STRATEGY_NAMES.get(int(s), str(int(s))) for s in strategy[t][traitor[t]]}) for t in range(T)]
    if not per_trial:
        row.update({"trials": T, "traitors": float(traitor.sum(axis=1).mean()) if T else 0.0,
                    "strategies": " ".join(sorted({s for ns in names for s in ns})) or "-",
                    "ic1": float(b["ic1"].mean()) if T else np.nan, "ic2": float(b["ic2"].mean()) if T else np.nan,
                    "agree": float((b["ic1"] & b["ic2"]).mean()) if T else np.nan})
        if "oral_messages" in b:
            row["oral_messages"] = int(b["oral_messages"].sum())
        return [row]
    decision = b["decision"].reshape(T, n)
    rows = []
    for t in range(T):
        cmd = int(b["commander"][t])
        r = dict(row, trial=t, commander=cmd, order=ch.ORDER_NAMES.get(int(b["order"][t]), str(b["order"][t])),
                 traitors=" ".join(str(x) for x in np.flatnonzero(traitor[t])) or "-",
                 n_traitors=int(traitor[t].sum()), strategy=",".join(names[t]) or "-",
                 decisions=" ".join("*" if k == cmd else LETTER.get(int(v), "?") for k, v in enumerate(decision[t])),
                 ic1=int(b["ic1"][t]), ic2=int(b["ic2"][t]))
        for c in ("oral_messages", "mpi_messages", "bytes", "seconds"):
            if c in b:
                r[c] = b[c][t].item()
        rows.append(r)
    return rows


def write_h5(table, path):
    """/sweep: one dataset per column; text columns as fixed-length UTF-8 bytes."""
    with h5py.File(path, "w") as f:
        f.attrs["format"] = np.bytes_("consensus-sweep")
        f.attrs["rows"] = len(table)
        g = f.create_group("sweep")
        for c in table.columns:
            col = table[c]
            if col.dtype.kind in "iufb":
                g[c] = col.to_numpy()
            else:
                text = [("" if pd.isna(v) else str(v)).encode("utf-8") for v in col]
                g[c] = np.array(text, dtype=f"S{max([len(t) for t in text] + [1])}")


def main():
    ap = ch.script_parser(__doc__, "run files, or directories searched for *.h5",
                          "sweep.csv or sweep.h5: the table", "OUT")
    ap.add_argument("--per", choices=["run", "trial"], default="run", help="one row per run (default) or per byz trial")
    args = ap.parse_args()
    out = args.output
    suffix = os.path.splitext(out)[1].lower()
    if suffix not in (".csv", ".h5") or os.path.isdir(out):
        raise ch.RunFileError(f"-o {out}: the table is a .csv or a .h5 file")
    d = os.path.dirname(out)
    if d and not os.path.isdir(d):
        raise ch.RunFileError(f"{out}: directory {d} does not exist")
    ch.claim_outputs([out], args.force, named=(out,))
    paths = [p for p in find_runs(args.runs) if os.path.abspath(p) != os.path.abspath(out)]
    rows = [r for p in paths for r in run_rows(p, args.per == "trial")]
    table = pd.DataFrame(rows)
    if suffix == ".csv":
        table.to_csv(out, index=False)
    else:
        write_h5(table, out)
    print(f"wrote {out} ({len(table)} rows from {len(paths)} runs, {len(table.columns)} columns)")
    return 0


if __name__ == "__main__":
    ch.cli_main(main)
