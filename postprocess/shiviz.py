#!/usr/bin/python3
"""Exports a run as a ShiViz log (https://bestchai.bitbucket.io/shiviz/) that loads as is.

The file starts with the parser regular expression on the first line and an empty
multiple-executions delimiter on the second, then two lines per event:
    A {"A":2, "B":1}
    send to C  L=5
Hosts are A, B, C, … for replay runs and P0, P1, … otherwise. ShiViz needs each host's own
clock entry to start at 1 and rise by exactly one per event; the runtime's vector clocks do
exactly that when the trace is complete, and the export refuses a trace where they do not.

    shiviz.py results/replay.h5 -o replay.log
"""
import json

import numpy as np

import consensus_h5 as ch

REGEX = r"(?<host>\S*) (?<clock>{.*})\n(?<event>.*)"


def shiviz_lines(run):
    """The log as a list of lines (without the header). Events are ordered by Lamport clock,
    then rank, which is a linear extension of happens-before, so every event comes after the
    events it depends on."""
    ev = run.events
    names = run.rank_names()
    rank = ev["rank"].to_numpy()
    seq = ev["seq"].to_numpy()
    # ShiViz's rule: own entry = 1, 2, 3, … per host
    for i in range(len(ev)):
        own = int(run.vc[i, rank[i]])
        if own != seq[i] + 1:
            raise ch.RunFileError(f"{run.path}: event {seq[i]} of rank {rank[i]} has own clock entry {own}, "
                                  f"expected {seq[i] + 1}: the trace is incomplete, ShiViz would reject it")
    order = np.lexsort((rank, ev["lamport"].to_numpy()))
    kinds = ev["kind"].to_numpy()
    peers = ev["peer"].to_numpy()
    lamport = ev["lamport"].to_numpy()
    lines = []
    for i in order:
        clock = {names[r]: int(v) for r, v in enumerate(run.vc[i]) if v > 0}
        k = int(kinds[i])
        if k == ch.SEND:
            what = f"send to {names[peers[i]]}" if peers[i] >= 0 else "send (multicast)"
        elif k == ch.RECV:
            what = f"recv from {names[peers[i]]}" if peers[i] >= 0 else "recv"
        else:
            what = "internal"
        lines.append(f"{names[rank[i]]} {json.dumps(clock, separators=(', ', ':'))}")
        lines.append(f"{what}  L={int(lamport[i])}")
    return lines


def main():
    ap = ch.script_parser(__doc__, "run files (need /events)", "OUT.log for one run, else a directory that gets RUN.log per run", "OUT")
    args = ap.parse_args()
    runs = [ch.open_run(p, need=("events",)) for p in args.runs]
    paths = [ch.output_for(args.output, run, (".log", ".txt"), len(runs)) for run in runs]
    ch.claim_outputs(paths, args.force, named=(args.output,))
    for run, path in zip(runs, paths):
        lines = shiviz_lines(run)
        with open(path, "w") as f:
            f.write(REGEX + "\n\n" + "\n".join(lines) + "\n")
        print(f"wrote {path} ({len(lines) // 2} events)")
    return 0


if __name__ == "__main__":
    ch.cli_main(main)
