"""Benchmarks of `consensus clocks` on this machine (not a ctest: timing is reported, never asserted).

1. Tick accuracy: N ranks (default 7) at 1,000 ticks per second each for 10 s: achieved tick
   count against the target ceil(D*r), achieved rate (ticks / wall seconds of the tick loop) and
   the 99th percentile / max of tick lateness per rank, with the trace written in blocks every
   second (the default), written only at the end, and off.
2. Trace cost: ranks ticking far faster than they can, so every tick is overdue and the loop
   runs flat out; events per wall second and per CPU second of the tick loop (the CPU measure
   does not care whether other users share the cores) with the trace on and off, alternating,
   R repetitions each; the ratios of the medians.

usage: /usr/bin/python3 tests/bench_clocks.py [--np 7] [--reps 3]   (CONSENSUS_BIN: the binary)
"""
import argparse
import math
import os
import statistics

import clocks_check
import harness


def one(np_, args):
    path = os.path.join(harness.tmpdir(), "bench.h5")
    harness.run(np_, ["clocks", "-o", path, "-q"] + [str(a) for a in args], timeout=600)
    cols, _, _ = clocks_check.read_clocks(path)
    os.remove(path)
    return cols


def tick_accuracy(np_, rate=1000, duration=10):
    print(f"== tick accuracy: {np_} ranks x {rate} ticks/s, {duration} s")
    target = math.ceil(duration * rate)
    for label, extra in [("trace, blocks every 1 s", []), ("trace at the end only", ["--flush-every", 0]),
                         ("no trace", ["--no-trace"])]:
        c = one(np_, ["--rates", rate, "--duration", duration] + extra)
        ticks = c["ticks"]
        achieved = ticks / c["wall_seconds"]
        worst = max(abs(t - target) / target for t in ticks)
        print(f"  {label:26s} ticks {ticks.min()}..{ticks.max()} (target {target}, worst {100 * worst:.2f}% off); "
              f"achieved {achieved.min():.1f}..{achieved.max():.1f} ticks/s; "
              f"p99 lateness {1e3 * c['p99_lateness'].min():.2f}..{1e3 * c['p99_lateness'].max():.2f} ms; "
              f"max {1e3 * c['max_lateness'].max():.1f} ms")


def trace_cost(np_, reps, rate=1000000, duration=1):
    print(f"== trace cost: {np_} ranks, {rate} ticks/s requested (flat out), {duration} model s, {reps} reps")
    res = {True: ([], []), False: ([], [])}
    for _ in range(reps):
        for traced in (True, False):
            c = one(np_, ["--rates", rate, "--duration", duration] + ([] if traced else ["--no-trace"]))
            events = int(c["ticks"].sum())
            res[traced][0].append(events / float(c["wall_seconds"].max()))
            res[traced][1].append(events / float(c["cpu_seconds"].sum()))
    for k, what in ((0, "per wall second"), (1, "per CPU second")):
        on, off = res[True][k], res[False][k]
        mon, moff = statistics.median(on), statistics.median(off)
        print(f"  events {what}: on {', '.join(f'{x:,.0f}' for x in on)} (median {mon:,.0f}); "
              f"off {', '.join(f'{x:,.0f}' for x in off)} (median {moff:,.0f}); ratio on/off {mon / moff:.3f}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--np", type=int, default=7)
    ap.add_argument("--reps", type=int, default=3)
    a = ap.parse_args()
    print("load average:", open("/proc/loadavg").read().strip(), "| cores:", os.cpu_count())
    tick_accuracy(a.np)
    trace_cost(3, a.reps)
    trace_cost(a.np, a.reps)
