#!/usr/bin/python3
"""Draws a space-time (Lamport) diagram of a run: one line per rank, events as dots, messages as arrows.

The x axis is the Lamport clock by default (every arrow points forward and the picture does
not depend on timing noise); --x time uses model seconds. Sends are filled dots, receives
open dots, internal events small squares; an undelivered message ends in a red cross.
For byz runs the traitors' lines are red, the commander's line is marked with its order,
and every general's decision is written at the end of its line (trial --trial, default 0).

    spacetime.py results/replay.h5 -o replay.png --vc
    spacetime.py results/byz-message.h5 -o byz.pdf
"""

import matplotlib

matplotlib.use("Agg")
matplotlib.rcParams["svg.fonttype"] = "none"  # SVG keeps its text as text (searchable, editable)
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import consensus_h5 as ch  # noqa: E402


def draw(run, out, x_axis="lamport", vc_labels=False, trial=0, window=None):
    """Draws the diagram into out; returns what it drew: {"events", "arrows", "undelivered"}."""
    drawn = {"events": 0, "arrows": 0, "undelivered": 0, "lost": 0, "partitions": 0, "crashes": 0}
    ev = run.events
    names = run.rank_names()
    n = run.n_ranks
    x = (ev["lamport"] if x_axis == "lamport" else ev["model_time"]).to_numpy().astype(float)
    rank = ev["rank"].to_numpy()
    kind = ev["kind"].to_numpy()
    shown = np.ones(len(ev), bool) if window is None else (x >= window[0]) & (x <= window[1])
    y = n - 1 - rank  # rank 0 on top
    # byz: traitors and decisions of the chosen trial; otherwise /ranks/traitor
    traitor = np.zeros(n, bool)
    if run.ranks is not None and "traitor" in run.ranks:
        traitor = run.ranks["traitor"].to_numpy() > 0
    byz = run.byz
    if byz is not None and len(byz.trials):
        if not 0 <= trial < len(byz.trials):
            raise ch.RunFileError(f"--trial {trial}: the run has trials 0..{len(byz.trials) - 1}")
        traitor = byz.traitor[trial] > 0
    fig_w = min(60, max(8, 0.35 * max(1, int(np.sum(shown))) / max(1, n) + 4))
    fig, ax = plt.subplots(figsize=(fig_w, 1.0 + 0.8 * n))
    xmax = float(np.max(x[shown])) if np.any(shown) else 1.0
    xmin = float(np.min(x[shown])) if np.any(shown) else 0.0
    span = max(xmax - xmin, 1e-9)
    for r in range(n):
        colour = "tab:red" if traitor[r] else "black"
        ax.hlines(n - 1 - r, xmin - 0.02 * span, xmax + 0.02 * span, color=colour, lw=1.2, zorder=1)
    # messages as arrows from the send event to the receive event; a message lost by the fault
    # layer (dropped, cut by a partition, lost to a crash) as a dashed arrow to its receiver's
    # line that ends in a cross; one never taken (undelivered) as a short dashed stub
    lost_style = {2: "tab:orange", 3: "tab:purple", 4: "dimgray"}
    msg = run.messages
    if msg is not None:
        fates = msg["fate"].to_numpy() if "fate" in msg else np.zeros(len(msg), int)
        for s, d, r_ev, fate in zip(msg["send_event"].to_numpy(), msg["dst"].to_numpy(),
                                    msg["recv_event"].to_numpy(), fates):
            if r_ev >= 0:
                if not (shown[s] or shown[r_ev]):
                    continue
                colour = "tab:red" if traitor[rank[s]] else "tab:blue"
                ax.annotate("", xy=(x[r_ev], y[r_ev]), xytext=(x[s], y[s]),
                            arrowprops=dict(arrowstyle="->", color=colour, lw=0.8, alpha=0.8,
                                            ls=":" if fate == 5 else "-"), zorder=2)
                drawn["arrows"] += 1
            elif shown[s] and fate in lost_style:
                end = (x[s] + 0.06 * span, n - 1 - d)
                ax.plot([x[s], end[0]], [y[s], end[1]], color=lost_style[fate], ls="--", lw=0.9, zorder=2)
                ax.plot(*end, "x", color=lost_style[fate], ms=7, mew=1.5, zorder=2)
                drawn["lost"] += 1
            elif shown[s]:
                ax.plot([x[s], x[s] + 0.03 * span], [y[s], n - 1 - d + 0.5 * np.sign(y[s] - (n - 1 - d))],
                        color="tab:red", ls="--", lw=0.8)
                ax.plot(x[s] + 0.03 * span, n - 1 - d + 0.5 * np.sign(y[s] - (n - 1 - d)), "x", color="tab:red")
                drawn["undelivered"] += 1
    # faults in model seconds: partitions as shaded bands over the time they last (on the
    # Lamport axis, over the clocks of the events made meanwhile), crashes as a bar on the rank
    faults = run.faults or {}
    if faults.get("time_unit") == "model seconds":
        t = ev["model_time"].to_numpy()
        for groups, lo, hi in ch.partitions(faults):
            during = (t >= lo) & (t < hi)
            if x_axis == "lamport":
                if not np.any(during):
                    continue
                lo_x, hi_x = float(x[during].min()), float(x[during].max())
            else:
                lo_x, hi_x = lo, hi
            ax.axvspan(lo_x, hi_x, color="tab:purple", alpha=0.12, zorder=0)
            ax.annotate("partition " + " | ".join(",".join(str(r) for r in g) for g in groups),
                        (lo_x, n - 0.45), fontsize=7, color="tab:purple")
            drawn["partitions"] += 1
    crash = run.ranks["crash_time"].to_numpy() if run.ranks is not None and "crash_time" in run.ranks else None
    for r in np.where(crash >= 0)[0] if crash is not None else []:
        mine = rank == r
        if x_axis == "time" and faults.get("time_unit") == "model seconds":
            xc = float(crash[r])
        else:  # just after its last event
            xc = (float(x[mine].max()) + 0.02 * span) if np.any(mine) else xmin
        ax.plot([xc, xc], [n - 1 - r - 0.3, n - 1 - r + 0.3], color="black", lw=4, solid_capstyle="butt", zorder=4)
        ax.annotate("crash", (xc, n - 1 - r + 0.32), fontsize=7, ha="center")
        drawn["crashes"] += 1
    style = {ch.SEND: dict(marker="o", s=30, facecolors="black", edgecolors="black"),
             ch.RECV: dict(marker="o", s=30, facecolors="white", edgecolors="black"),
             ch.INTERNAL: dict(marker="s", s=14, facecolors="gray", edgecolors="gray")}
    for k, st in style.items():
        sel = shown & (kind == k)
        ax.scatter(x[sel], y[sel], zorder=3, label=ch.KIND_NAMES[k], **st)
        drawn["events"] += int(np.sum(sel))
    if vc_labels:
        for i in np.flatnonzero(shown):
            ax.annotate("[" + ",".join(str(v) for v in run.vc[i]) + "]", (x[i], y[i]),
                        textcoords="offset points", xytext=(0, 7), ha="center", fontsize=7)
    labels = []
    for r in range(n):
        label = names[r]
        if run.ranks is not None and "tick_rate" in run.ranks and run.ranks["tick_rate"][r] > 0:
            label += f" ({run.ranks['tick_rate'][r]:g}/s)"
        if traitor[r]:
            label += " traitor"
        labels.append(label)
    title = f"{run.name}: space-time diagram ({run.subcommand}, {n} ranks)"
    if byz is not None and len(byz.trials):
        t = byz.trials.iloc[trial]
        c = int(t["commander"])
        order = ch.ORDER_NAMES.get(int(t["order"]), str(t["order"]))
        labels[c] += " commander"
        ax.annotate(f"order: {order}", (xmin, n - 1 - c), textcoords="offset points", xytext=(-4, 9),
                    ha="right", fontsize=9, color="tab:green", fontweight="bold")
        for r in range(n):
            dcs = int(byz.decision[trial, r])
            if dcs >= 0:
                ax.annotate(f"decides {ch.ORDER_NAMES.get(dcs, dcs)}", (xmax + 0.03 * span, n - 1 - r),
                            va="center", fontsize=9, color="tab:red" if traitor[r] else "tab:green")
        algorithm = str(byz.attrs.get("algorithm", "om"))
        how = "signed (ed25519)" if algorithm == "sm" else f"wire={byz.attrs.get('wire', '?')}"
        title += (f" — {algorithm.upper()}({byz.attrs.get('m', '?')}), trial {trial} of {len(byz.trials)}, "
                  f"{how}, IC1={'yes' if t['ic1'] else 'NO'}, "
                  f"IC2={'yes' if t['ic2'] else 'NO'}")
        ax.set_xlim(xmin - 0.05 * span, xmax + 0.18 * span)
    ax.set_yticks(range(n))
    ax.set_yticklabels(labels[::-1])
    for tick, r in zip(ax.get_yticklabels(), range(n - 1, -1, -1)):
        if traitor[r]:
            tick.set_color("tab:red")
    ax.set_ylim(-0.7, n - 0.3)
    ax.set_xlabel("Lamport clock" if x_axis == "lamport" else "model time (s)")
    ax.set_title(title, fontsize=10)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return drawn


def main():
    ap = ch.script_parser(__doc__, "run files (need /events and /messages)", "OUT.png/.pdf/.svg for one run, else a directory that gets RUN.png per run", "OUT")
    ap.add_argument("--x", choices=["lamport", "time"], default="lamport", help="x axis (default lamport)")
    ap.add_argument("--vc", action="store_true", help="label every event with its vector clock")
    ap.add_argument("--trial", type=int, default=0, help="byz runs: the trial whose traitors and decisions to show")
    ap.add_argument("--window", metavar="LO:HI", help="show only events with LO <= x <= HI")
    args = ap.parse_args()
    window = None
    if args.window:
        try:
            lo, hi = (float(v) for v in args.window.split(":"))
        except ValueError:
            raise ch.RunFileError(f"--window: '{args.window}' is not LO:HI") from None
        window = (lo, hi)
    runs = [ch.open_run(p, need=("events", "messages")) for p in args.runs]
    paths = [ch.output_for(args.output, run, (".png", ".pdf", ".svg"), len(runs)) for run in runs]
    ch.claim_outputs(paths, args.force, named=(args.output,))
    for run, path in zip(runs, paths):
        drawn = draw(run, path, x_axis=args.x, vc_labels=args.vc, trial=args.trial, window=window)
        print(f"wrote {path} ({drawn['events']} events, {drawn['arrows']} messages, "
              f"{drawn['undelivered']} undelivered" +
              (f", {drawn['lost']} lost, {drawn['partitions']} partitions, {drawn['crashes']} crashes"
               if run.faults else "") + ")")
    return 0


if __name__ == "__main__":
    ch.cli_main(main)
