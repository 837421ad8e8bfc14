"""Writes small run files in the exact format_version 1 schema of docs/design.md with h5py.

The clocks and byz analysis scripts are tested on these hand-made files, whose every value
is known, as well as on files from the real binary. The dtypes and attribute types follow
src/h5out.c: fixed-length byte strings for text, int32/int64/int8/uint8/float64 columns.
"""
import h5py
import numpy as np


def _attr(g, name, v):
    if isinstance(v, str):
        g.attrs[name] = np.bytes_(v)
    else:
        g.attrs[name] = v


def write_run(path, subcommand, n, ranks, events=None, messages=None, byz=None, byz_attrs=None,
              extra=None, speedup=1.0, complete=1, root=None):
    """ranks: dict of /ranks columns; events: dict with rank seq kind time lamport vc peer
    queue_len; messages: dict with src dst send_event recv_event arrive_time bytes; byz: dict
    of /byz datasets; extra: {group: {column: array}}."""
    with h5py.File(path, "w") as f:
        attrs = {"format": "consensus-run", "format_version": 1, "program_version": "0.1.0",
                 "command_line": f"consensus {subcommand} (synthetic)", "subcommand": subcommand,
                 "n_ranks": n, "seed": 1, "started_at": "2026-11-21T00:00:00Z",
                 "mpi_library": "synthetic", "complete": complete, "speedup": float(speedup)}
        attrs.update(root or {})
        for k, v in attrs.items():
            _attr(f, k, v)
        g = f.create_group("ranks")
        g["rank"] = np.arange(n, dtype=np.int32)
        g["hostname"] = np.array([b"synth"] * n, dtype="S64")
        g["tick_rate"] = np.asarray(ranks.get("tick_rate", [0.0] * n), np.float64)
        g["traitor"] = np.asarray(ranks.get("traitor", [0] * n), np.uint8)
        g["n_events"] = np.asarray(ranks["n_events"], np.int64)
        for c in ("final_lamport",):
            if c in ranks:
                g[c] = np.asarray(ranks[c], np.int64)
        if "max_queue" in ranks:
            g["max_queue"] = np.asarray(ranks["max_queue"], np.int32)
        ev = events or {c: [] for c in ("rank", "seq", "kind", "time", "lamport", "peer", "queue_len")}
        g = f.create_group("events")
        g["rank"] = np.asarray(ev["rank"], np.int32)
        g["seq"] = np.asarray(ev["seq"], np.int64)
        g["kind"] = np.asarray(ev["kind"], np.int8)
        g["time"] = np.asarray(ev["time"], np.float64)
        g["time"].attrs["units"] = np.bytes_("s")
        g["lamport"] = np.asarray(ev["lamport"], np.int64)
        g["vc"] = np.asarray(ev.get("vc", np.zeros((0, n))), np.int64).reshape(-1, n)
        g["peer"] = np.asarray(ev["peer"], np.int32)
        g["queue_len"] = np.asarray(ev["queue_len"], np.int32)
        msg = messages or {c: [] for c in ("src", "dst", "send_event", "recv_event", "arrive_time", "bytes")}
        g = f.create_group("messages")
        for c, t in (("src", np.int32), ("dst", np.int32), ("send_event", np.int64), ("recv_event", np.int64),
                     ("arrive_time", np.float64), ("bytes", np.int32)):
            g[c] = np.asarray(msg[c], t)
        g["arrive_time"].attrs["units"] = np.bytes_("s")
        if byz is not None:
            g = f.create_group("byz")
            for k, v in (byz_attrs or {}).items():
                _attr(g, k, v)
            types = {"commander": np.int32, "order": np.int8, "traitor": np.uint8, "decision": np.int8,
                     "ic1": np.uint8, "ic2": np.uint8, "oral_messages": np.int64, "mpi_messages": np.int64,
                     "bytes": np.int64, "seconds": np.float64, "strategy": np.int8}
            for c, v in byz.items():
                g[c] = np.asarray(v, types[c])
            if "seconds" in g:
                g["seconds"].attrs["units"] = np.bytes_("s")
        for name, cols in (extra or {}).items():
            g = f.create_group(name)
            for c, v in cols.items():
                g[c] = np.asarray(v)


# The hand-made clocks run: 2 ranks, rates 1 and 2 ticks/s, speed-up 2 (model time = 2 x wall).
#   rank 0: send to 1 (L1 [1,0]), internal (L2 [2,0]), recv from 1 (L5 [3,4]), internal (L6 [4,4])
#   rank 1: internal (L1 [0,1]), recv from 0 (L2 [1,2]), internal (L3 [1,3]), send to 0 (L4 [1,4])
# Drift (largest gap to the fastest clock), at the event times 0 .5 1 1.5 2 3: rank 0 trails by
# 0 1 1 2 0 0, rank 1 by 0 0 0 0 1 2, so 2 and 2.
# Expected table: rank 0 events 4, final 6, max_jump 3, jumps 1, drift 2, pushed 2, lag 0, max_queue 3
# (the peak from /ranks: a message arrived while two waited; after events the queue was at most 2);
#                 rank 1 events 4, final 4, max_jump 1, jumps 0, drift 2, pushed 0, lag 2, max_queue 1.
def write_clocks(path, traced=True):
    events = {
        "rank": [0, 0, 0, 0, 1, 1, 1, 1], "seq": [0, 1, 2, 3, 0, 1, 2, 3],
        "kind": [1, 0, 2, 0, 0, 2, 0, 1],
        "time": [0.0, 0.5, 1.0, 1.5, 0.0, 0.25, 0.5, 0.75],
        "lamport": [1, 2, 5, 6, 1, 2, 3, 4],
        "vc": [[1, 0], [2, 0], [3, 4], [4, 4], [0, 1], [1, 2], [1, 3], [1, 4]],
        "peer": [1, -1, 1, -1, -1, 0, -1, 0], "queue_len": [0, 0, 2, 1, 1, 0, 0, 0]}
    messages = {"src": [0, 1], "dst": [1, 0], "send_event": [0, 7], "recv_event": [5, 2],
                "arrive_time": [0.01, 0.76], "bytes": [48, 48]}
    ranks = {"tick_rate": [1.0, 2.0], "n_events": [4, 4], "final_lamport": [6, 4], "max_queue": [3, 1]}
    clocks = {"rank": np.arange(2, dtype=np.int32), "max_jump": np.array([3, 1], np.int64),
              "jumps": np.array([1, 0], np.int64)}
    if not traced:  # the runtime's sampled drift; a traced run's is computed from /events instead
        clocks["drift"] = np.array([2, 2], np.int64)
    write_run(path, "clocks", 2, ranks, events if traced else None, messages if traced else None,
              speedup=2.0, extra={"clocks": clocks})


# Hand-made byz runs. File "four": n=4, m=1, three trials, strategy as an int8 [T, n] matrix:
#   0: no traitor, order attack            -> decisions * A A A, IC1 IC2
#   1: traitor 3 flip, order attack        -> * A A R, IC1 IC2
#   2: traitor 0 (commander) split, attack -> * R R R, IC1 IC2 (IC2 vacuous)
# File "three": n=3, m=1, traitor 2 flip,
#   order attack -> lieutenant 1 gets A and R, no strict majority -> R: * R A, IC1 yes, IC2 NO;
#   it also carries a message-mode trace (commander multicast, two relays).
def write_byz_four(path):
    byz = {"commander": [0, 0, 0], "order": [1, 1, 1],
           "traitor": [[0, 0, 0, 0], [0, 0, 0, 1], [1, 0, 0, 0]],
           "decision": [[-1, 1, 1, 1], [-1, 1, 1, 0], [-1, 0, 0, 0]],
           "ic1": [1, 1, 1], "ic2": [1, 1, 1], "oral_messages": [9, 9, 9], "mpi_messages": [9, 9, 9],
           "bytes": [500, 500, 500], "seconds": [0.01, 0.01, 0.01],
           "strategy": [[-1, -1, -1, -1], [-1, -1, -1, 0], [1, -1, -1, -1]]}
    write_run(path, "byz", 4, {"n_events": [0, 0, 0, 0], "traitor": [1, 0, 0, 1]}, byz=byz,
              byz_attrs={"m": 1, "wire": "round", "default_value": 0})


def write_byz_three(path):
    events = {"rank": [0, 1, 1, 1, 2, 2, 2], "seq": [0, 0, 1, 2, 0, 1, 2], "kind": [1, 2, 1, 2, 2, 1, 2],
              "time": [0.0, 0.1, 0.2, 0.4, 0.1, 0.2, 0.3], "lamport": [1, 2, 3, 4, 2, 3, 4],
              "vc": [[1, 0, 0], [1, 1, 0], [1, 2, 0], [1, 3, 2], [1, 0, 1], [1, 0, 2], [1, 2, 3]],
              "peer": [-1, 0, 2, 2, 0, 1, 1], "queue_len": [0, 0, 0, 0, 0, 0, 0]}
    messages = {"src": [0, 0, 1, 2], "dst": [1, 2, 2, 1], "send_event": [0, 0, 2, 5], "recv_event": [1, 4, 6, 3],
                "arrive_time": [0.05, 0.05, 0.25, 0.25], "bytes": [40, 40, 44, 44]}
    byz = {"commander": [0], "order": [1], "traitor": [[0, 0, 1]], "decision": [[-1, 0, 1]],
           "ic1": [1], "ic2": [0], "oral_messages": [4], "mpi_messages": [4], "bytes": [168], "seconds": [0.4],
           "strategy": [[-1, -1, 0]]}
    write_run(path, "byz", 3, {"n_events": [1, 3, 3], "traitor": [0, 0, 1]}, events, messages, byz=byz,
              byz_attrs={"m": 1, "wire": "message", "default_value": 0})
