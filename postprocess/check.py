#!/usr/bin/python3
"""Verifies that run files keep the whole contract of docs/design.md; exit 0 valid, 1 violated, 2 unreadable.

Every property is recomputed from the file itself, vectorised with numpy (10^6 events take
seconds), and each one that fails gets one line naming the property and the rows that break it:

  schema         the columns of each group have one length, /events/vc is [events, n_ranks]
  values         kinds 0/1/2, ranks in 0..n-1, peers in -1..n-1
  seq            per rank, seq is 0, 1, ..., k-1
  time           per rank, event times never go back
  ranks          /ranks: n_events and final_lamport equal the trace (complete runs)
  message-ends   every message's send_event is a send of rank src, its recv_event (or -1) a
                 receive of rank dst; peers of one-message sends and of receives name the other end
  receive-once   every receive event is the receive of exactly one message
  send-messages  every send event sent at least one message
  arrival        a message arrives after its send (ranks on one host) and before its receive
  conservation   every message is delivered or undelivered with a stated fate (the `fate`
                 column when the file has it: 0 delivered, 1 undelivered, 2 dropped,
                 3 partition, 4 crashed, 5 duplicate)
  lamport        internal and send L = L_prev + 1, receive L = max(L_prev, L_msg) + 1
  vector-clock   internal and send V = V_prev + e_i, receive V = max(V_prev, V_msg) + e_i; with
                 the rules above this makes V equal happens-before over program order and messages
  byz            IC1 and IC2 recomputed from /byz/decision, the order and the traitors; strategies
                 only on traitors; /ranks/traitor = a traitor in some trial; the closed form; oral messages equal to it in every trial where
                 no traitor is silent or sends garbage and nothing was lost; /byz_oral (message
                 mode) has that many rows per trial, each one sent by its send event to its dst
  clocks         every /clocks column recomputed from /events (kinds, sends by kind, final
                 clock, largest jump, messages, undelivered, drift and drift_at in exact
                 rational arithmetic, tick lateness, queue peak at least every sample), rates
                 as in /ranks, and ceil(duration x rate) ticks in a finished run

The last line per file is the verdict. With several files the exit status is the worst (2 over
1 over 0).

    check.py results/*.h5
"""
import argparse
import math
import os
import sys
from fractions import Fraction

import h5py
import numpy as np

import consensus_h5 as ch

VALID, VIOLATED, UNREADABLE = 0, 1, 2
FATES = {0: "delivered", 1: "undelivered", 2: "dropped", 3: "partition", 4: "crashed", 5: "duplicate"}
SILENT, GARBAGE = 3, 4
PROPERTIES = ["schema", "values", "seq", "time", "ranks", "message-ends", "receive-once", "send-messages",
              "arrival", "conservation", "lamport", "vector-clock", "byz", "clocks"]


def rows_text(idx, limit=8):
    """'rows 3, 7, 9' or 'rows 3, 7, ... (120 in all)'."""
    idx = np.asarray(idx).ravel()
    shown = ", ".join(str(int(i)) for i in idx[:limit])
    more = f", ... ({len(idx)} in all)" if len(idx) > limit else ""
    return f"row{'s' if len(idx) != 1 else ''} {shown}{more}"


class Report:
    """The violations found in one file, one line per property."""

    def __init__(self, path):
        self.path = path
        self.lines = {}
        self.skipped = []

    def bad(self, prop, text):
        self.lines.setdefault(prop, []).append(text)

    def where(self, prop, mask, what, table="/events"):
        """Reports the rows of table where mask holds, if any; returns whether all is well."""
        idx = np.flatnonzero(mask)
        if len(idx):
            self.bad(prop, f"{what} ({table} {rows_text(idx)})")
        return len(idx) == 0


class UnreadableError(Exception):
    """The file is no run file this checker can read."""


def read(path):
    """Every group the checks need, as plain numpy arrays; raises UnreadableError."""
    if not os.path.exists(path):
        raise UnreadableError("no such file")
    if os.path.isdir(path):
        raise UnreadableError("is a directory, not a run file")
    try:
        if not h5py.is_hdf5(path):
            raise UnreadableError("not an HDF5 file (expected a consensus run file)")
        f = h5py.File(path, "r")
    except OSError as e:
        raise UnreadableError(f"cannot open: {e}") from None
    with f:
        attrs = {k: ch._text(v) for k, v in f.attrs.items()}
        if attrs.get("format") != ch.FORMAT:
            fmt = attrs.get("format")
            raise UnreadableError(f"HDF5 file with {'no format attribute' if fmt is None else f'format {fmt!r}'}, "
                                  f"not a {ch.FORMAT} file")
        if attrs.get("format_version") != ch.FORMAT_VERSION:
            raise UnreadableError(f"format_version {attrs.get('format_version')} is not supported "
                                  f"(this checker reads {ch.FORMAT_VERSION})")
        data = {"attrs": attrs}
        for group in ("ranks", "events", "messages", "byz", "byz_oral", "clocks"):
            if group not in f:
                continue
            g = f[group]
            if not isinstance(g, h5py.Group):
                raise UnreadableError(f"/{group} is not a group")
            try:
                data[group] = {c: g[c][...] for c in g if isinstance(g[c], h5py.Dataset)}
            except OSError as e:
                raise UnreadableError(f"/{group} cannot be read: {e}") from None
            data[group + "_attrs"] = {k: ch._text(v) for k, v in g.attrs.items()}
        for group, cols in (("ranks", ["rank", "n_events"]), ("events", ch.EVENT_COLUMNS + ["vc"]),
                            ("messages", ch.MESSAGE_COLUMNS)):
            if group not in data:
                raise UnreadableError(f"the run has no /{group} group")
            missing = [c for c in cols if c not in data[group]]
            if missing:
                raise UnreadableError(f"/{group} lacks {', '.join(missing)}")
    return data


def check_schema(rep, d, n):
    """Equal column lengths per group; vc is [E, n]. Returns False when nothing else can be checked."""
    ok = True
    for group in ("ranks", "events", "messages", "byz_oral", "clocks"):
        if group not in d:
            continue
        lens = {c: len(v) for c, v in d[group].items()}
        if len(set(lens.values())) > 1:
            rep.bad("schema", f"/{group} columns differ in length: "
                    + ", ".join(f"{c} {k}" for c, k in sorted(lens.items())))
            ok = False
    E = len(d["events"]["rank"])
    if d["events"]["vc"].shape != (E, n):
        rep.bad("schema", f"/events/vc has shape {d['events']['vc'].shape}, expected ({E}, {n})")
        ok = False
    if len(d["ranks"]["rank"]) != n:
        rep.bad("schema", f"/ranks has {len(d['ranks']['rank'])} rows for n_ranks = {n}")
        ok = False
    if "clocks" in d and len(d["clocks"].get("rank", [])) != n:
        rep.bad("schema", f"/clocks has {len(d['clocks'].get('rank', []))} rows for n_ranks = {n}")
        ok = False
    return ok


def check_run(path):
    """Checks one file; returns (status, lines to print)."""
    try:
        d = read(path)
    except UnreadableError as e:
        return UNREADABLE, [f"{path}: unreadable: {e}"]
    rep = Report(path)
    n = d["attrs"].get("n_ranks")
    if not isinstance(n, int) or n < 1:
        return UNREADABLE, [f"{path}: unreadable: n_ranks is {n!r}"]
    try:
        if check_schema(rep, d, n):
            check_trace(rep, d, n)
            if "byz" in d:
                check_byz(rep, d, n)
            if "clocks" in d:
                check_clocks(rep, d, n)
    except (ValueError, IndexError, KeyError, TypeError) as e:  # a layout no check foresaw
        rep.bad("schema", f"the file's layout stops the checks: {type(e).__name__}: {e}")
    E, M = len(d["events"]["rank"]), len(d["messages"]["src"])
    lines = [f"{path}: {prop}: {text}" for prop in PROPERTIES for text in rep.lines.get(prop, [])]
    skipped = f"; not checked: {', '.join(rep.skipped)}" if rep.skipped else ""
    if rep.lines:
        lines.append(f"{path}: INVALID: {len(rep.lines)} propert{'y' if len(rep.lines) == 1 else 'ies'} violated "
                     f"({', '.join(p for p in PROPERTIES if p in rep.lines)}); {E} events, {M} messages{skipped}")
        return VIOLATED, lines
    lines.append(f"{path}: valid: every property holds ({d['attrs'].get('subcommand', '?')}, {n} ranks, "
                 f"{E} events, {M} messages{skipped})")
    return VALID, lines


def program_order(rank, seq):
    """Rows in (rank, seq) order, and each row's predecessor on its rank (-1 for a first event)."""
    order = np.lexsort((seq, rank))
    prev = np.full(len(rank), -1, np.int64)
    same = rank[order[1:]] == rank[order[:-1]]
    prev[order[1:][same]] = order[:-1][same]
    return order, prev


def check_trace(rep, d, n):
    """Everything about /events and /messages: values, seq, clocks, message ends, conservation."""
    ev, msg, ranks, attrs = d["events"], d["messages"], d["ranks"], d["attrs"]
    E, M = len(ev["rank"]), len(msg["src"])
    rank, seq, kind = ev["rank"].astype(np.int64), ev["seq"].astype(np.int64), ev["kind"].astype(np.int64)
    lam, vc, peer, time = ev["lamport"].astype(np.int64), ev["vc"].astype(np.int64), ev["peer"].astype(np.int64), \
        ev["time"]
    src, dst = msg["src"].astype(np.int64), msg["dst"].astype(np.int64)
    send, recv = msg["send_event"].astype(np.int64), msg["recv_event"].astype(np.int64)
    if E == 0 and int(attrs.get("traced", 1)) == 0:
        rep.skipped.append("the trace (run with --no-trace)")
    # values
    good_ev = rep.where("values", (kind < 0) | (kind > 2), "kind is not 0, 1 or 2")
    good_ev &= rep.where("values", (rank < 0) | (rank >= n), f"rank outside 0..{n - 1}")
    rep.where("values", (peer < -1) | (peer >= n), f"peer outside -1..{n - 1}")
    if not good_ev:
        return
    # seq: per rank a permutation of 0..k-1 (k the rank's events): nothing outside, no repeat
    per_rank = np.bincount(rank, minlength=n)
    order, prev = program_order(rank, seq)
    repeat = np.zeros(E, bool)
    repeat[order[1:]] = (rank[order[1:]] == rank[order[:-1]]) & (seq[order[1:]] == seq[order[:-1]])
    seq_ok = rep.where("seq", (seq < 0) | (seq >= per_rank[rank]) | repeat,
                       "seq outside 0..k-1 of its rank's k events, or repeated")
    # time never goes back along a rank
    has_prev = prev >= 0
    rep.where("time", has_prev & (time < time[np.maximum(prev, 0)]), "event time before the previous event's")
    # /ranks: the trace's counts (only a complete run promises that the trace is whole)
    if E and int(attrs.get("complete", 0)) == 1:
        rep.where("ranks", ranks["n_events"] != per_rank, "n_events differs from the events in the trace", "/ranks")
        if "final_lamport" in ranks:
            last = np.zeros(n, np.int64)
            last[rank[order]] = lam[order]  # the last write per rank wins: its largest seq
            rep.where("ranks", ranks["final_lamport"] != last, "final_lamport differs from the last event's",
                      "/ranks")
    # message ends
    s_in = (send >= 0) & (send < E)
    r_in = (recv >= -1) & (recv < E)
    ends_ok = rep.where("message-ends", ~s_in | ~r_in, "send_event or recv_event outside the events", "/messages")
    ends_ok &= rep.where("message-ends", (src < 0) | (src >= n) | (dst < 0) | (dst >= n) | (src == dst),
                         "src or dst outside the ranks, or src = dst", "/messages")
    sc, rc = np.where(s_in, send, 0), np.where(r_in & (recv >= 0), recv, 0)
    delivered = r_in & (recv >= 0)
    ends_ok &= rep.where("message-ends", s_in & ((rank[sc] != src) | (kind[sc] != ch.SEND)),
                         "send_event is not a send of rank src", "/messages")
    ends_ok &= rep.where("message-ends", delivered & ((rank[rc] != dst) | (kind[rc] != ch.RECV)),
                         "recv_event is not a receive of rank dst", "/messages")
    # a second copy (--duplicate, fate 5) shares its send event with the first: one message per
    # send event and destination is counted without the copies
    copy = msg["fate"].astype(np.int64) == 5 if "fate" in msg else np.zeros(len(src), bool)
    per_send = np.bincount(sc[s_in & ~copy], minlength=E)
    one = s_in & (per_send[sc] == 1) & (peer[sc] >= 0)
    ends_ok &= rep.where("message-ends", (one & (peer[sc] != dst)) | (s_in & (per_send[sc] > 1) & (peer[sc] >= 0)),
                         "the send event's peer is not the message's dst", "/messages")
    ends_ok &= rep.where("message-ends", copy & ~np.isin(sc, sc[s_in & ~copy]),
                         "a duplicate copy of a send no first copy has", "/messages")
    ends_ok &= rep.where("message-ends", delivered & (peer[rc] != src), "the receive event's peer is not src",
                         "/messages")
    # each receive is one message's
    per_recv = np.bincount(rc[delivered], minlength=E)
    once_ok = rep.where("receive-once", (kind == ch.RECV) & (per_recv != 1), "receive event of no message or of several")
    rep.where("send-messages", (kind == ch.SEND) & (per_send == 0), "send event without a message")
    # arrival between send and receive (on one host the clocks are one)
    host = ranks.get("hostname")
    one_host = host is not None and len(set(host.tolist())) == 1
    at = msg["arrive_time"]
    ok_pair = s_in & r_in
    if one_host:
        rep.where("arrival", ok_pair & (at < time[sc]), "arrive_time before the send event's time", "/messages")
    rep.where("arrival", ok_pair & delivered & (at > time[rc]), "arrive_time after the receive event's time",
              "/messages")
    # conservation: delivered, or undelivered with a stated fate
    rep.where("conservation", recv < -1, "recv_event below -1 (neither delivered nor undelivered)", "/messages")
    if "fate" in msg:
        fate = msg["fate"].astype(np.int64)
        rep.where("conservation", (fate < 0) | (fate > 5), "fate is not one of 0..5 (" +
                  ", ".join(f"{k} {v}" for k, v in FATES.items()) + ")", "/messages")
        rep.where("conservation", (fate == 0) & (recv == -1), "fate 0 (delivered) but recv_event = -1", "/messages")
        rep.where("conservation", (fate >= 1) & (fate <= 4) & (recv >= 0),
                  "fate says lost or undelivered but recv_event names a receive", "/messages")
    if not (seq_ok and ends_ok and once_ok) or E == 0:
        if E:
            rep.skipped.append("clock rules (the trace's structure is broken)")
        return
    # Lamport and vector clocks, every event against its predecessors:
    # 1. the base is the previous event of the rank (0 and the zero vector for the first);
    # 2. a receive takes the maximum with its message's send event;
    # 3. the event adds 1 (Lamport) and e_rank (vector).
    recv_msg = np.full(E, -1, np.int64)
    recv_msg[rc[delivered]] = np.flatnonzero(delivered)
    is_recv = recv_msg >= 0
    from_ = np.where(is_recv, send[np.maximum(recv_msg, 0)], 0)
    p = np.maximum(prev, 0)
    base_l = np.where(has_prev, lam[p], 0)
    base_l = np.where(is_recv, np.maximum(base_l, lam[from_]), base_l)
    rep.where("lamport", lam != base_l + 1, "Lamport clock breaks the rule")
    base_v = np.where(has_prev[:, None], vc[p], 0)
    base_v[is_recv] = np.maximum(base_v[is_recv], vc[from_[is_recv]])
    base_v[np.arange(E), rank] += 1
    rep.where("vector-clock", np.any(vc != base_v, axis=1), "vector clock differs from happens-before")


def closed_form(n, m):
    """Oral messages of OM(m) among n generals when everyone sends: sum_{k=1}^{m+1} prod_{j=1}^{k} (n-j)."""
    total, prod = 0, 1
    for k in range(1, m + 2):
        prod *= max(n - k, 0)
        total += prod
    return total


def check_byz(rep, d, n):
    """IC1/IC2 recomputed, strategies on traitors only, oral messages against the closed form."""
    b, a = d["byz"], d.get("byz_attrs", {})
    need = [c for c in ("commander", "order", "traitor", "decision", "ic1", "ic2") if c not in b]
    if need:
        rep.bad("byz", f"/byz lacks {', '.join(need)}")
        return
    T = len(b["commander"])
    wrong = [c for c in ("traitor", "decision", "strategy") if c in b and b[c].shape != (T, n)]
    wrong += [c for c in ("order", "ic1", "ic2", "oral_messages") if c in b and b[c].shape != (T,)]
    if wrong:
        rep.bad("schema", f"/byz {', '.join(wrong)}: not one row per trial ({T} trials of {n} ranks)")
        return
    traitor, decision = b["traitor"].astype(bool), b["decision"].astype(np.int64)
    cmd, order = b["commander"].astype(np.int64), b["order"].astype(np.int64)
    if not rep.where("byz", (cmd < 0) | (cmd >= n) | ((order != 0) & (order != 1)),
                     "commander outside the ranks or order not 0/1", "/byz"):
        return
    lieutenant = np.ones((T, n), bool)
    lieutenant[np.arange(T), cmd] = False
    # a general that crash-stops within a trial (--crash, /ranks/crash_time in rounds, <= m) is
    # faulty like a traitor: IC1 and IC2 are judged over the loyal generals that did not crash
    crash = d.get("ranks", {}).get("crash_time")
    m = int(d.get("byz_attrs", {}).get("m", n))
    crashed = np.zeros(n, bool) if crash is None else (crash >= 0) & (crash <= m)
    named_traitor, traitor = traitor, traitor | crashed[None, :]
    loyal = lieutenant & ~traitor
    rep.where("byz", decision[np.arange(T), cmd] != -1, "the commander's decision is not -1", "/byz")
    rep.where("byz", np.any(lieutenant & ((decision < 0) | (decision > 1)), axis=1),
              "a lieutenant's decision is not 0/1", "/byz")
    # IC1: all loyal lieutenants decide alike; IC2: with a loyal commander they obey its order
    dec = np.where(loyal, decision, -1)
    hi, lo = dec.max(axis=1), np.where(loyal, decision, 2).min(axis=1)
    ic1 = ~np.any(loyal, axis=1) | (hi == lo)
    ic2 = traitor[np.arange(T), cmd] | np.all(~loyal | (decision == order[:, None]), axis=1)
    rep.where("byz", b["ic1"].astype(bool) != ic1, "ic1 differs from the decisions", "/byz")
    rep.where("byz", b["ic2"].astype(bool) != ic2, "ic2 differs from the decisions and the order", "/byz")
    if "traitor" in d["ranks"]:
        rep.where("byz", (d["ranks"]["traitor"] > 0) != np.any(named_traitor, axis=0),
                  "traitor differs from the ranks that were traitors in some trial", "/ranks")
    strategy = b.get("strategy")
    if strategy is not None:
        strategy = strategy.astype(np.int64)
        rep.where("byz", np.any((strategy >= 0) != named_traitor, axis=1), "a strategy on a loyal general or none on a "
                  "traitor", "/byz")
    m = a.get("m")
    if not isinstance(m, int):
        rep.bad("byz", "/byz has no integer attribute m")
        return
    sm = a.get("algorithm") == "sm"  # SM(m): (n-1)^2 signed messages (n-1 when m = 0), at most twice that with traitors
    cf = (n - 1 if m == 0 else (n - 1) ** 2) if sm else closed_form(n, m)
    bound = (n - 1 if m == 0 else (n - 1) + 2 * (n - 1) * (n - 2)) if sm else cf
    if "closed_form" in a and a["closed_form"] != cf:
        rep.bad("byz", f"/byz closed_form is {a['closed_form']}, {'SM' if sm else 'OM'}({m}) among {n} sends {cf}")
    if "oral_messages" not in b:
        return
    oral = b["oral_messages"].astype(np.int64)
    full = np.ones(T, bool) if strategy is None else ~np.any(traitor & ((strategy == SILENT) | (strategy == GARBAGE)),
                                                             axis=1)
    if sm:  # an SM traitor changes the count whatever its strategy (split relays to half, forge is refused)
        full &= ~np.any(traitor, axis=1)
    if "fate" in d["messages"] and np.any(d["messages"]["fate"] != 0):
        rep.skipped.append("oral messages against the closed form (messages were lost)")
        full[:] = False
    rep.where("byz", full & (oral != cf), f"oral_messages differs from the closed form {cf} (nobody silent)", "/byz")
    rep.where("byz", ~full & (oral > bound),
              f"oral_messages above the bound {bound}" if sm else f"oral_messages above the closed form {cf}", "/byz")
    if "byz_oral" in d:
        check_byz_oral(rep, d, n, T, oral, cmd)


def check_byz_oral(rep, d, n, T, oral, cmd):
    """/byz_oral: rows per trial = oral_messages; each row's send event sent a message to its dst."""
    o, ev, msg = d["byz_oral"], d["events"], d["messages"]
    trial, src, dst = o["trial"].astype(np.int64), o["src"].astype(np.int64), o["dst"].astype(np.int64)
    bad_trial = (trial < 0) | (trial >= T)
    if not rep.where("byz", bad_trial, "trial outside the trials", "/byz_oral"):
        return
    rep.where("byz", np.bincount(trial, minlength=T) != oral, "rows per trial differ from oral_messages", "/byz")
    path = o["path"].reshape(len(trial), -1).astype(np.int64)
    length = np.sum(path >= 0, axis=1)
    last = path[np.arange(len(trial)), np.maximum(length - 1, 0)]
    rep.where("byz", (path[:, 0] != cmd[trial]) | (last != src) | (o["round"] != length - 1) |
              ((o["value"] != 0) & (o["value"] != 1)),
              "path does not run from the commander to src, or round or value is wrong", "/byz_oral")
    # the send event: the /events row of rank src with seq send_seq, and a message of it to dst
    E = len(ev["rank"])
    if E == 0:
        return
    key = ev["rank"].astype(np.int64) * (1 << 40) + ev["seq"].astype(np.int64)
    idx = np.argsort(key)
    want = src * (1 << 40) + o["send_seq"].astype(np.int64)
    pos = np.minimum(np.searchsorted(key[idx], want), E - 1)
    found = key[idx][pos] == want
    row = idx[pos]
    pair = set(zip(msg["send_event"].tolist(), msg["dst"].tolist()))
    sent = np.array([(int(r), int(t)) in pair for r, t in zip(row, dst)], bool) if len(row) else np.zeros(0, bool)
    rep.where("byz", ~found | (ev["kind"][row] != ch.SEND) | ~sent,
              "no send event of src with send_seq that sent a message to dst", "/byz_oral")


def exact_samples(lam_rows, rate, delta, J):
    """L of one rank at model times j*delta, j < J: after ticks k with k/rate <= j*delta, i.e. the
    first floor(j*delta*rate) + 1 ticks, in exact rational arithmetic (the doubles as they are)."""
    q = delta * Fraction(float(rate))
    m = (np.arange(J, dtype=object) * q.numerator // q.denominator + 1).astype(np.int64)
    m = np.minimum(m, len(lam_rows))
    return np.where(m > 0, lam_rows[np.maximum(m - 1, 0)] if len(lam_rows) else 0, 0)


def check_clocks(rep, d, n):
    """Every /clocks column recomputed from /events (needs a traced run)."""
    c, a, ev, msg = d["clocks"], d.get("clocks_attrs", {}), d["events"], d["messages"]
    E = len(ev["rank"])
    if E == 0:
        rep.skipped.append("/clocks against the trace (no trace)")
        return
    rank, kind, peer = ev["rank"].astype(np.int64), ev["kind"].astype(np.int64), ev["peer"].astype(np.int64)
    order, _ = program_order(rank, ev["seq"].astype(np.int64))
    fate = msg["fate"].astype(np.int64) if "fate" in msg else np.zeros(len(msg["src"]), np.int64)
    copy, left = fate == 5, (fate == 1) | (fate == 5)  # left: still queued at the end
    counts = lambda mask: np.bincount(rank[mask], minlength=n)  # noqa: E731
    want = {"ticks": np.bincount(rank, minlength=n), "internal": counts(kind == ch.INTERNAL),
            "send_events": counts(kind == ch.SEND), "recv_events": counts(kind == ch.RECV),
            "send_all": counts((kind == ch.SEND) & (peer < 0)) if n > 2 else None,
            "messages_sent": np.bincount(msg["src"][~copy].astype(np.int64), minlength=n),
            # arrived, taken or not (lost ones too); the second copies of --duplicate are not messages sent
            "messages_received": np.bincount(msg["dst"][~copy].astype(np.int64), minlength=n),
            "undelivered": np.bincount(msg["dst"][(msg["recv_event"] < 0) & left].astype(np.int64), minlength=n)}
    if n > 2:
        want["send_next"] = counts((kind == ch.SEND) & (peer == (rank + 1) % n))
        want["send_second"] = counts((kind == ch.SEND) & (peer == (rank + 2) % n))
    lam_sorted = ev["lamport"].astype(np.int64)[order]
    r_sorted = rank[order]
    first = np.ones(E, bool)
    first[1:] = r_sorted[1:] != r_sorted[:-1]
    jump = lam_sorted - np.where(first, 0, np.roll(lam_sorted, 1))
    want["max_jump"] = np.zeros(n, np.int64)
    np.maximum.at(want["max_jump"], r_sorted, jump)
    want["final_lamport"] = np.zeros(n, np.int64)
    want["final_lamport"][r_sorted] = lam_sorted
    for col, v in want.items():
        if v is None or col not in c:
            continue
        rep.where("clocks", c[col] != v, f"{col} differs from /events", "/clocks")
    if "rank" in c:
        rep.where("clocks", c["rank"] != np.arange(n), "rank is not 0..n-1 in order", "/clocks")
    if "tick_rate" in c and "tick_rate" in d["ranks"]:
        rep.where("clocks", c["tick_rate"] != d["ranks"]["tick_rate"], "tick_rate differs from /ranks", "/clocks")
    # a run that finished has ceil(D * r) ticks per rank (a product within 1e-12 above a whole
    # number counts as that number, as the runtime counts them)
    root = d["attrs"]
    if "ticks" in c and "tick_rate" in c and "duration" in a and root.get("complete") == 1 \
            and not root.get("stopped_by_signal"):
        x = float(a["duration"]) * c["tick_rate"].astype(float)
        below = np.floor(x)
        crash = d["ranks"].get("crash_time")
        alive = np.ones(n, bool) if crash is None else crash < 0  # a crashed rank's ticks end at its crash
        rep.where("clocks", alive & (c["ticks"] != np.where(x - below <= 1e-12 * x, below, below + 1)),
                  "ticks is not ceil(duration x tick_rate) in a finished run", "/clocks")
    if n == 2 and all(k in c for k in ("send_next", "send_second", "send_all")):
        rep.where("clocks", c["send_next"] + c["send_second"] + c["send_all"] != want["send_events"],
                  "send_next + send_second + send_all differs from the send events", "/clocks")
    q = np.zeros(n, np.int64)
    np.maximum.at(q, rank, ev["queue_len"].astype(np.int64))
    if "max_queue" in c:
        rep.where("clocks", c["max_queue"] < q, "max_queue below a queue length in /events", "/clocks")
    rates = c.get("tick_rate", d["ranks"].get("tick_rate"))
    # drift: L sampled at j*delta, delta = max(D/65535, 1/fastest rate), exactly
    if all(k in a for k in ("sample_interval", "duration", "samples")) and "drift" in c and rates is not None:
        D, J = float(a["duration"]), int(a["samples"])
        if float(a["sample_interval"]) != max(D / 65535, 1.0 / float(rates.max())):
            rep.bad("clocks", f"sample_interval {a['sample_interval']} is not max(duration/65535, 1/fastest rate)")
        delta = max(Fraction(D) / 65535, 1 / Fraction(float(rates.max())))
        if J != min(math.floor(Fraction(D) / delta) + 1, 65536):
            rep.bad("clocks", f"samples {J} is not floor(duration/interval) + 1")
        else:
            bounds = np.flatnonzero(np.r_[True, first[1:], True]) if E else np.array([0])
            starts = {int(r_sorted[s]): (s, e) for s, e in zip(bounds[:-1], bounds[1:])} if E else {}
            samples = np.zeros((n, J), np.int64)
            for r in range(n):
                s, e = starts.get(r, (0, 0))
                samples[r] = exact_samples(lam_sorted[s:e], rates[r], delta, J)
            gap = samples.max(axis=0) - samples
            rep.where("clocks", c["drift"] != gap.max(axis=1), "drift differs from /events (exact)", "/clocks")
            if "drift_at" in c:
                at = np.arange(J) * float(a["sample_interval"])
                rep.where("clocks", c["drift_at"] != at[np.argmax(gap, axis=1)], "drift_at differs from /events",
                          "/clocks")
    # tick lateness: tick k is event seq k, due at k * (1 / (rate * speedup)) wall seconds
    if "max_lateness" in c and rates is not None:
        speedup = float(d["attrs"].get("speedup", 1.0))
        t_sorted = ev["time"][order]
        k = np.arange(E) - np.maximum.accumulate(np.where(first, np.arange(E), 0))
        period = 1.0 / (rates[r_sorted] * speedup)
        late = np.maximum(t_sorted - k * period, 0.0)
        mx = np.zeros(n)
        np.maximum.at(mx, r_sorted, late)
        has = np.bincount(r_sorted, minlength=n) > 0
        rep.where("clocks", has & (c["max_lateness"] != mx), "max_lateness differs from /events", "/clocks")
        if "p99_lateness" in c:
            bound = c.get("p99_lateness_bound", np.zeros(n, np.int64))
            wrong = np.zeros(n, bool)
            for r in np.flatnonzero(has):
                lr = np.sort(late[r_sorted == r])
                p99 = lr[(99 * len(lr) + 99) // 100 - 1]
                v = c["p99_lateness"][r]
                wrong[r] = (v != p99) if bound[r] == 0 else (not p99 <= v < p99 + 10e-6) if bound[r] > 0 else not p99 > v
            rep.where("clocks", wrong, "p99_lateness differs from /events", "/clocks")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="\n\n".join(__doc__.split("\n\n")[1:]))
    ap.add_argument("runs", nargs="+", metavar="RUN.h5", help="run files to check")
    ap.add_argument("-q", "--quiet", action="store_true", help="print only the verdict line per file")
    args = ap.parse_args()
    worst = VALID
    for path in args.runs:
        status, lines = check_run(path)
        for line in lines if not args.quiet else lines[-1:]:
            print(line, file=sys.stderr if status == UNREADABLE else sys.stdout)
        worst = max(worst, status)
    return worst


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
