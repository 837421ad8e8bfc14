#!/usr/bin/python3
"""Writes one self-contained HTML page with an interactive space-time diagram of a run.

The page needs no network: its script and the run's data are inline. One line per rank, events
as dots (send filled, receive open, internal square), messages as arrows. Zoom with the wheel,
pan by dragging (or the arrow keys), 0 fits everything. Hover an event for its kind, rank, seq,
time, Lamport and vector clock and queue length; click it to highlight its causal past (blue)
and future (green) and dim what is concurrent with it (click the background to clear). byz
runs: traitors in red, the commander's order and every general's decision per trial (a trial
selector), and in message mode each oral message labelled with its value and path (/byz_oral);
clocks runs: the queue length under each rank. Undelivered messages end in a cross, and when
/messages has a `fate` column, dropped, partition and crashed messages are drawn and named.
Faults (/faults): a crashed rank's line ends in a bar where it crashed (at its crash time on the
model-time axis of a clocks run, else just after its last event); partitions of a clocks run
(model seconds) are shaded over the time they last (on the Lamport axis, over the clocks of the
events made meanwhile) and name their groups.

It draws on a canvas, in one path per colour and kind, at most one dot per pixel column per
rank and one line per pixel pair, so 10^5 events stay responsive (a full redraw of 10^5 events
and 28,000 messages took 85 ms in headless Chromium on this busy 2-core machine). A run with more events than --limit
(default 100000) shows the first --limit events from Lamport clock --start on (a consistent
cut: whatever happened before a shown event is shown), and the page says so.

    viewer.py results/replay.h5 -o replay.html
    viewer.py big.h5 -o big.html --start 5000 --limit 50000
"""
import json
import os

import numpy as np

import consensus_h5 as ch

FATE_NAMES = {0: "delivered", 1: "undelivered", 2: "dropped", 3: "partition", 4: "crashed", 5: "duplicate"}
HERE = os.path.dirname(os.path.abspath(__file__))


def select_events(run, start, limit):
    """Rows of /events to show: those with Lamport clock >= start, the first `limit` in (Lamport,
    rank) order, returned in that order. Lamport order extends happens-before, so the events
    below a threshold form a consistent cut."""
    ev = run.events
    lam = ev["lamport"].to_numpy()
    order = np.lexsort((ev["rank"].to_numpy(), lam))
    order = order[lam[order] >= start]
    return order[:limit]


def oral_labels(run):
    """{(send row, dst): 'A 0>2'} from /byz_oral: the value (A attack, R retreat) and the path."""
    import h5py
    with h5py.File(run.path, "r") as f:
        if "byz_oral" not in f:
            return {}
        o = {c: f["byz_oral"][c][...] for c in ("src", "dst", "value", "send_seq", "path")}
    ev = run.events
    row_of = {(int(r), int(s)): i for i, (r, s) in enumerate(zip(ev["rank"].to_numpy(), ev["seq"].to_numpy()))}
    labels = {}
    path = o["path"].reshape(len(o["src"]), -1)
    for k in range(len(o["src"])):
        row = row_of.get((int(o["src"][k]), int(o["send_seq"][k])))
        if row is None:
            continue
        p = ">".join(str(int(x)) for x in path[k] if x >= 0)
        labels[(row, int(o["dst"][k]))] = f"{'A' if o['value'][k] == 1 else 'R'} {p}"
    return labels


def page_data(run, start=0, limit=100000):
    """Everything the page draws, as plain lists (JSON)."""
    ev, msg = run.events, run.messages
    rows = select_events(run, start, limit)
    local = np.full(len(ev), -1, np.int64)
    local[rows] = np.arange(len(rows))
    d = {"name": run.name, "subcommand": run.subcommand, "n": run.n_ranks, "names": run.rank_names(),
         "total_events": int(len(ev)), "start": int(start), "limit": int(limit),
         "rates": run.ranks["tick_rate"].astype(float).tolist() if run.ranks is not None and "tick_rate" in run.ranks
         else [0.0] * run.n_ranks,
         "traitor": (run.ranks["traitor"].astype(int).tolist() if run.ranks is not None and "traitor" in run.ranks
                     else [0] * run.n_ranks),
         "ev": {"row": rows.tolist(),
                "rank": ev["rank"].to_numpy()[rows].astype(int).tolist(),
                "seq": ev["seq"].to_numpy()[rows].astype(int).tolist(),
                "kind": ev["kind"].to_numpy()[rows].astype(int).tolist(),
                "time": np.round(ev["model_time"].to_numpy()[rows], 9).tolist(),
                "lamport": ev["lamport"].to_numpy()[rows].astype(int).tolist(),
                "queue": ev["queue_len"].to_numpy()[rows].astype(int).tolist(),
                "vc": run.vc[rows].ravel().astype(int).tolist()}}
    # messages with a shown send: receive as a shown index, -1 never received, -2 received off the page
    s, r = msg["send_event"].to_numpy(), msg["recv_event"].to_numpy()
    keep = np.flatnonzero(local[s] >= 0)
    recv_local = np.where(r[keep] < 0, -1, np.where(local[np.maximum(r[keep], 0)] >= 0,
                                                    local[np.maximum(r[keep], 0)], -2))
    fate = msg["fate"].to_numpy()[keep] if "fate" in msg else np.where(r[keep] >= 0, 0, 1)
    labels = oral_labels(run) if run.byz is not None else {}
    dst = msg["dst"].to_numpy()
    d["msg"] = {"send": local[s[keep]].astype(int).tolist(), "recv": recv_local.astype(int).tolist(),
                "dst": dst[keep].astype(int).tolist(), "fate": fate.astype(int).tolist(),
                "label": [labels.get((int(s[k]), int(dst[k])), "") for k in keep]}
    d["fate_names"] = FATE_NAMES
    faults = run.faults or {}
    crash = run.ranks["crash_time"] if run.ranks is not None and "crash_time" in run.ranks else None
    d["faults"] = {"unit": faults.get("time_unit", ""),
                   "partitions": [{"groups": g, "from": lo, "to": hi} for g, lo, hi in ch.partitions(faults)],
                   "crash": [float(c) for c in crash] if crash is not None else [-1.0] * run.n_ranks}
    if run.byz is not None and len(run.byz.trials):
        b = run.byz
        d["byz"] = {"m": b.attrs.get("m"), "wire": b.attrs.get("wire"),
                    "trials": [{"commander": int(t["commander"]), "order": int(t["order"]),
                                "ic1": int(t["ic1"]), "ic2": int(t["ic2"]),
                                "traitor": b.traitor[k].astype(int).tolist(),
                                "decision": b.decision[k].astype(int).tolist()}
                               for k, t in b.trials.iterrows()]}
    d["clocks"] = run.subcommand == "clocks"
    return d


def html(data):
    """The page: viewer.html with the data and viewer.js inline (nothing is fetched)."""
    with open(os.path.join(HERE, "viewer.js")) as f:
        script = f.read()
    payload = json.dumps(data, separators=(",", ":")).replace("</", "<\\/")
    title = data["name"].replace("&", "&amp;").replace("<", "&lt;")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{title}: space-time diagram</title>
<script>
window.viewerErrors = [];
window.addEventListener("error", function (e) {{ window.viewerErrors.push(String(e.message)); }});
(function () {{ var orig = console.error; console.error = function () {{
  window.viewerErrors.push(Array.prototype.join.call(arguments, " ")); orig.apply(console, arguments); }}; }})();
</script>
<style>
body {{ font: 13px sans-serif; margin: 0; color: #222; }}
#bar {{ padding: 6px 10px; background: #f3f3f3; border-bottom: 1px solid #ccc; }}
#bar span {{ margin-right: 14px; }}
#note {{ color: #a00; }}
#tip {{ position: fixed; pointer-events: none; background: #fffbe6; border: 1px solid #bba;
        padding: 4px 6px; font: 12px monospace; white-space: pre; display: none; }}
canvas {{ display: block; cursor: crosshair; }}
</style></head>
<body>
<div id="bar"><span id="title"></span><span id="trialbox"></span><span id="status">click an event to see its
causal past (blue) and future (green); wheel zooms, drag pans, 0 fits</span><span id="note"></span></div>
<canvas id="view"></canvas><div id="tip"></div>
<script id="run-data" type="application/json">{payload}</script>
<script>
{script}
</script>
</body></html>
"""


def main():
    ap = ch.script_parser(__doc__, "run files (need /events and /messages)",
                          "OUT.html for one run, else a directory that gets RUN.html per run", "OUT")
    ap.add_argument("--limit", type=int, default=100000, help="most events on the page (default 100000)")
    ap.add_argument("--start", type=int, default=0, help="show events from this Lamport clock on (default 0)")
    args = ap.parse_args()
    if args.limit < 1 or args.start < 0:
        raise ch.RunFileError("--limit must be at least 1 and --start at least 0")
    runs = [ch.open_run(p, need=("events", "messages")) for p in args.runs]
    paths = [ch.output_for(args.output, run, (".html", ".htm"), len(runs)) for run in runs]
    ch.claim_outputs(paths, args.force, named=(args.output,))
    for run, path in zip(runs, paths):
        data = page_data(run, args.start, args.limit)
        with open(path, "w", encoding="utf-8") as f:
            f.write(html(data))
        shown = len(data["ev"]["row"])
        more = f" (the first {shown} of {len(run.events)} from Lamport {args.start})" \
            if shown < len(run.events) else ""
        print(f"wrote {path} ({shown} events, {len(data['msg']['send'])} messages{more})")
    return 0


if __name__ == "__main__":
    ch.cli_main(main)
