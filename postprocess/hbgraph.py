#!/usr/bin/python3
"""Draws the happens-before graph of a run in Graphviz DOT, as its transitive reduction.

One node per event (A1 = rank A's first event), one edge per direct happens-before step that
no longer path implies: program order along a rank, and send -> receive for messages. With
`dot` installed the graph is also rendered (PNG by default, --render pdf or png,pdf).

    hbgraph.py results/replay.h5 -o replay.dot
    hbgraph.py run1.h5 run2.h5 -o graphs/ --render png,pdf --vc
"""
import os
import shutil
import subprocess

import consensus_h5 as ch

COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"]


def dot_text(run, reduce=True, vc_labels=False):
    """The DOT source: nodes coloured by rank (receives double circles, internal events boxes),
    program-order edges bold grey, message edges black; laid out left to right by dot."""
    ids = run.event_ids()
    ev = run.events
    names = run.rank_names()
    kinds = ev["kind"].to_numpy()
    lines = [f'digraph "{run.name}" {{',
             "  rankdir=LR;",
             '  node [shape=circle, fontsize=10, width=0.3, style=filled, fillcolor=white];',
             f'  label="happens-before of {run.name} ({"transitive reduction" if reduce else "all direct edges"})";']
    for r in range(run.n_ranks):
        rows = ev.index[ev["rank"] == r].tolist()
        colour = COLOURS[r % len(COLOURS)]
        lines.append(f"  // rank {names[r]}")
        for i in rows:
            label = ids[i]
            if vc_labels:
                label += "\\n[" + ",".join(str(x) for x in run.vc[i]) + "]"
            shape = {ch.SEND: "circle", ch.RECV: "doublecircle", ch.INTERNAL: "box"}.get(int(kinds[i]), "circle")
            lines.append(f'  "{ids[i]}" [label="{label}", color="{colour}", shape={shape}];')
    for u, v, kind in ch.hb_edges(run, reduce=reduce):
        style = "" if kind == "message" else ' [style=bold, color="gray40"]'
        lines.append(f'  "{ids[u]}" -> "{ids[v]}"{style};')
    lines.append("}")
    return "\n".join(lines) + "\n"


def main():
    ap = ch.script_parser(__doc__, "run files (need /events and /messages)", "OUT.dot for one run, else a directory that gets RUN.dot per run", "OUT")
    ap.add_argument("--full", action="store_true", help="keep every direct edge (no transitive reduction)")
    ap.add_argument("--vc", action="store_true", help="label each event with its vector clock")
    ap.add_argument("--render", metavar="FMT", default=None,
                    help="png, pdf or png,pdf through Graphviz dot (default: png when dot is installed)")
    args = ap.parse_args()
    dot = shutil.which("dot")
    formats = [] if args.render is None and not dot else (args.render or "png").split(",")
    for fmt in formats:
        if fmt not in ("png", "pdf", "svg"):
            raise ch.RunFileError(f"--render: unknown format '{fmt}' (png, pdf or svg)")
    if args.render and not dot:
        raise ch.RunFileError("--render: Graphviz 'dot' is not installed (apt-get install graphviz)")
    runs = [ch.open_run(p, need=("events", "messages")) for p in args.runs]
    for run in runs:
        path = ch.output_for(args.output, run, (".dot", ".gv"), len(runs))
        with open(path, "w") as f:
            f.write(dot_text(run, reduce=not args.full, vc_labels=args.vc))
        print(f"wrote {path}")
        for fmt in formats:
            img = os.path.splitext(path)[0] + "." + fmt
            p = subprocess.run([dot, "-T" + fmt, path, "-o", img], capture_output=True, text=True)
            if p.returncode != 0:
                raise ch.RunFileError(f"dot failed on {path}: {p.stderr.strip().splitlines()[-1:]}")
            print(f"wrote {img}")
    if not formats:
        print("note: Graphviz 'dot' is not installed, so only the DOT file was written")
    return 0


if __name__ == "__main__":
    ch.cli_main(main)
