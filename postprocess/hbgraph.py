#!/usr/bin/python3
"""Draws the happens-before graph of a run in Graphviz DOT, as its transitive reduction.

One node per event (A1 = rank A's first event), one edge per direct happens-before step that
no longer path implies: program order along a rank, and send -> receive for messages. The DOT
text is built by Debian's python3-graphviz (which quotes and escapes every name). Only the DOT
file is written unless --render asks for images (through Graphviz's `dot`): OUT.png, OUT.pdf or
OUT.svg beside the DOT file, and an existing image is replaced only with --force.

    hbgraph.py results/replay.h5 -o replay.dot
    hbgraph.py run1.h5 run2.h5 -o graphs/ --render png,pdf --vc
"""
import os
import shutil

import graphviz

import consensus_h5 as ch

COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"]
SHAPES = {ch.SEND: "circle", ch.RECV: "doublecircle", ch.INTERNAL: "box"}


def graph(run, reduce=True, vc_labels=False):
    """The graph: nodes coloured by rank (receives double circles, internal events boxes),
    program-order edges bold grey, message edges black; laid out left to right by dot."""
    ids = run.event_ids()
    ev = run.events
    g = graphviz.Digraph(name=run.name)
    g.attr(rankdir="LR", label=f"happens-before of {run.name} "
                               f"({'transitive reduction' if reduce else 'all direct edges'})")
    g.attr("node", shape="circle", fontsize="10", width="0.3", style="filled", fillcolor="white")
    for i, (r, k) in enumerate(zip(ev["rank"].to_numpy(), ev["kind"].to_numpy())):
        label = ids[i] + ("\\n[" + ",".join(str(x) for x in run.vc[i]) + "]" if vc_labels else "")
        g.node(ids[i], label=label, color=COLOURS[int(r) % len(COLOURS)], shape=SHAPES.get(int(k), "circle"))
    for u, v, kind in ch.hb_edges(run, reduce=reduce):
        if kind == "message":
            g.edge(ids[u], ids[v])
        else:
            g.edge(ids[u], ids[v], style="bold", color="gray40")
    return g


def dot_text(run, reduce=True, vc_labels=False):
    """The DOT source of graph()."""
    return graph(run, reduce, vc_labels).source


def main():
    ap = ch.script_parser(__doc__, "run files (need /events and /messages)",
                          "OUT.dot for one run, else a directory that gets RUN.dot per run", "OUT")
    ap.add_argument("--full", action="store_true", help="keep every direct edge (no transitive reduction)")
    ap.add_argument("--vc", action="store_true", help="label each event with its vector clock")
    ap.add_argument("--render", metavar="FMT", default="",
                    help="also render png, pdf, svg (comma-separated) beside the DOT file through Graphviz dot")
    args = ap.parse_args()
    formats = [f for f in args.render.split(",") if f]
    for fmt in formats:
        if fmt not in ("png", "pdf", "svg"):
            raise ch.RunFileError(f"--render: unknown format '{fmt}' (png, pdf or svg)")
    if formats and not shutil.which("dot"):
        raise ch.RunFileError("--render: Graphviz 'dot' is not installed (apt-get install graphviz)")
    runs = [ch.open_run(p, need=("events", "messages")) for p in args.runs]
    paths = [ch.output_for(args.output, run, (".dot", ".gv"), len(runs)) for run in runs]
    images = [[os.path.splitext(p)[0] + "." + fmt for fmt in formats] for p in paths]
    ch.claim_outputs(paths + [i for imgs in images for i in imgs], args.force, named=(args.output,))
    for run, path, imgs in zip(runs, paths, images):
        g = graph(run, reduce=not args.full, vc_labels=args.vc)
        with open(path, "w") as f:
            f.write(g.source)
        print(f"wrote {path}")
        for fmt, img in zip(formats, imgs):
            try:
                data = g.pipe(format=fmt)
            except (graphviz.ExecutableNotFound, graphviz.CalledProcessError) as e:
                raise ch.RunFileError(f"dot failed on {path}: {str(e).strip().splitlines()[-1:]}") from None
            with open(img, "wb") as f:
                f.write(data)
            print(f"wrote {img}")
    return 0


if __name__ == "__main__":
    ch.cli_main(main)
