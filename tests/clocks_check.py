"""Checks of a clocks run file, recomputed independently from the trace: clock invariants,
happens-before, drift and jumps, and an independent model of the seeded draws (rng.c)."""
import math
import os
import sys
from fractions import Fraction

import h5py
import numpy as np

import harness

sys.path.insert(0, os.path.join(harness.HERE, "fuzz"))
from make_seeds import M64, rng_hash, splitmix64  # noqa: E402  (src/rng.c's hash, written once in Python)


def _rotl(x, k):
    return ((x << k) | (x >> (64 - k))) & M64


class Stream:
    """xoshiro256** seeded like rng_seed(seed, purpose, rank): written from the C file's spec."""

    def __init__(self, seed, purpose, rank):
        state = rng_hash(seed, purpose, rank, 0, 0)
        self.s = []
        for _ in range(4):
            state, v = splitmix64(state)
            self.s.append(v)

    def next(self):
        s = self.s
        result = (_rotl((s[1] * 5) & M64, 7) * 9) & M64
        t = (s[1] << 17) & M64
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = _rotl(s[3], 45)
        return result

    def range(self, lo, hi):
        span = hi - lo + 1
        limit = M64 - (M64 % span)
        while True:
            x = self.next()
            if x < limit:
                return lo + x % span

    def unit(self):
        return (self.next() >> 11) * 2.0 ** -53


RNG_RATES, RNG_IDLE = 1, 2


def expected_rate(seed, rank, lo, hi):
    return float(Stream(seed, RNG_RATES, rank).range(lo, hi))


def expected_idle_steps(seed, rank, n, p_internal, count):
    """The first `count` idle events of a rank as (kind, peer): the design's mapping of u."""
    st = Stream(seed, RNG_IDLE, rank)
    out = []
    for _ in range(count):
        u = st.unit()
        if u < p_internal:
            out.append((0, -1))
            continue
        j = min(max(int((u - p_internal) / ((1.0 - p_internal) / 3.0)), 0), 2)
        if j == 0:
            out.append((1, (rank + 1) % n))
        elif j == 1:
            d = (rank + 2) % n
            out.append((1, d if d != rank else (rank + 1) % n))
        else:
            out.append((1, -1 if n > 2 else (rank + 1) % n))
    return out


def read_clocks(path):
    with h5py.File(path, "r") as f:
        g = f["clocks"]
        cols = {k: g[k][...] for k in g}
        attrs = dict(g.attrs)
        root = dict(f.attrs)
    return cols, attrs, root


def per_rank(ev, n):
    """Row indices of each rank's events in seq order."""
    out = []
    for r in range(n):
        rows = np.nonzero(ev["rank"] == r)[0]
        out.append(rows[np.argsort(ev["seq"][rows], kind="stable")])
    return out


def check_happens_before(ev, msg, n, rows=None):
    """Recomputes every event's vector clock from program order and the message edges (in a
    topological order), and its Lamport clock by the receive rule, and checks both equal the file's.
    Every receive event must have its message, and that message's send event must be in `ev`."""
    if rows is None:
        rows = per_rank(ev, n)
    E = len(ev["rank"])
    recv_of = {int(r): k for k, r in enumerate(msg["recv_event"]) if r >= 0}
    vc = np.zeros((E, n), dtype=np.int64)
    lam = np.zeros(E, dtype=np.int64)
    done = np.zeros(E, dtype=bool)
    cursor = [0] * n
    remaining = E
    while remaining:
        progressed = False
        for r in range(n):
            while cursor[r] < len(rows[r]):
                e = rows[r][cursor[r]]
                prev_vc = vc[rows[r][cursor[r] - 1]] if cursor[r] else np.zeros(n, dtype=np.int64)
                prev_l = lam[rows[r][cursor[r] - 1]] if cursor[r] else 0
                v = prev_vc.copy()
                l = prev_l + 1
                if ev["kind"][e] == 2:
                    s = msg["send_event"][recv_of[int(e)]]
                    if not done[s]:
                        break
                    v = np.maximum(v, vc[s])
                    l = max(prev_l, lam[s]) + 1
                v[r] += 1
                vc[e], lam[e], done[e] = v, l, True
                cursor[r] += 1
                remaining -= 1
                progressed = True
        assert progressed, "the message edges form a cycle"
    assert np.array_equal(vc, ev["vc"]), "vector clocks differ from happens-before"
    assert np.array_equal(lam, ev["lamport"]), "Lamport clocks differ from the receive rule"


def check_run(path, complete=1):
    """Every invariant of a traced clocks run; returns (run, clocks columns, clocks attrs)."""
    run = harness.check_schema(path, complete=complete)
    ev, msg, n = run["events"], run["messages"], run["n"]
    cols, attrs, root = read_clocks(path)
    E = len(ev["rank"])
    rows = per_rank(ev, n)
    # /ranks and /clocks agree with the trace
    assert run["ranks"]["n_events"].tolist() == [len(r) for r in rows]
    assert cols["rank"].tolist() == list(range(n))
    assert np.array_equal(cols["tick_rate"], run["ranks"]["tick_rate"])
    # 1. per rank: seq 0..k-1, own vc entry = seq + 1 (ticks by exactly one), L strictly increasing
    for r in range(n):
        rr = rows[r]
        assert np.array_equal(ev["seq"][rr], np.arange(len(rr)))
        assert np.array_equal(ev["vc"][rr, r], np.arange(1, len(rr) + 1)), f"rank {r}: own vc entry"
        L = ev["lamport"][rr]
        assert np.all(np.diff(L) > 0) and (len(L) == 0 or L[0] >= 1), f"rank {r}: Lamport not increasing"
    # 2. messages: every recv event matches exactly one message; sends have 1 or n-1 messages
    recv_rows = np.nonzero(ev["kind"] == 2)[0]
    delivered = msg["recv_event"][msg["recv_event"] >= 0]
    assert len(np.unique(delivered)) == len(delivered), "a recv event matches two messages"
    assert np.array_equal(np.sort(delivered), recv_rows), "a recv event matches no message"
    recv_of = {int(r): k for k, r in enumerate(msg["recv_event"]) if r >= 0}
    per_send = np.bincount(msg["send_event"], minlength=E)
    for s in np.nonzero(ev["kind"] == 1)[0]:
        want = 1 if ev["peer"][s] >= 0 else n - 1
        assert per_send[s] == want, f"send event {s} has {per_send[s]} messages, expected {want}"
        if ev["peer"][s] >= 0:
            k = np.nonzero(msg["send_event"] == s)[0][0]
            assert msg["dst"][k] == ev["peer"][s]
    assert np.all(per_send[ev["kind"] != 1] == 0)
    # 3. happens-before and the Lamport rule recomputed
    check_happens_before(ev, msg, n, rows)
    # 4. the summary recomputed from the trace: kinds, final L, largest jump, queues
    und = msg["recv_event"] < 0
    assert int(cols["undelivered"].sum()) == int(und.sum())
    assert int(cols["messages_sent"].sum()) == len(msg["src"])
    for r in range(n):
        rr = rows[r]
        kinds = ev["kind"][rr]
        assert cols["ticks"][r] == len(rr), "one event per tick"
        assert cols["internal"][r] == np.sum(kinds == 0)
        assert cols["send_events"][r] == np.sum(kinds == 1)
        assert cols["recv_events"][r] == np.sum(kinds == 2)
        assert cols["send_next"][r] + cols["send_second"][r] + cols["send_all"][r] == cols["send_events"][r]
        L = ev["lamport"][rr]
        assert cols["final_lamport"][r] == (L[-1] if len(L) else 0)
        jumps = np.diff(np.concatenate([[0], L]))
        assert cols["max_jump"][r] == (jumps.max() if len(L) else 0)
        assert cols["max_queue"][r] >= (ev["queue_len"][rr].max() if len(rr) else 0)
        assert cols["undelivered"][r] == np.sum(und & (msg["dst"] == r))
    # 5. drift recomputed in exact rational arithmetic (issue 12.7): the doubles D and the rates
    #    are the rationals they are; delta = max(D/65535, 1/R) exactly; L_r at model time j*delta
    #    is L after the ticks k with k/rate <= j*delta, i.e. the first floor(j*delta*rate) + 1 ticks
    delta, D = float(attrs["sample_interval"]), float(attrs["duration"])
    rates = cols["tick_rate"]
    assert delta == max(D / 65535, 1.0 / rates.max())
    exact_delta = max(Fraction(D) / 65535, 1 / Fraction(float(rates.max())))
    J = int(attrs["samples"])
    assert J == min(math.floor(Fraction(D) / exact_delta) + 1, 65536)
    t = np.arange(J) * delta
    samples = np.zeros((n, J), dtype=np.int64)
    for r in range(n):
        L = ev["lamport"][rows[r]]
        q = exact_delta * Fraction(float(rates[r]))
        m = np.minimum([(j * q.numerator) // q.denominator + 1 for j in range(J)], len(L))
        samples[r] = np.where(m > 0, L[np.maximum(m - 1, 0)], 0)
    gap = samples.max(axis=0) - samples
    assert cols["drift"].tolist() == gap.max(axis=1).tolist(), f"{cols['drift']} != {gap.max(axis=1)}"
    for r in range(n):
        assert cols["drift_at"][r] == t[np.argmax(gap[r])]
    assert float(root["duration"]) == D
    # 6. tick lateness recomputed (issue 12.7): tick k is event seq k, its deadline k/(rate*speedup)
    #    in the same double arithmetic as the runtime, and the event's time is the tick's time, so
    #    p99 (nearest rank) and the maximum must match exactly unless the file says p99 is a bound
    speedup = float(root["speedup"])
    for r in range(n):
        late = lateness_of(ev["time"][rows[r]], float(rates[r]), speedup)
        if len(late) == 0:
            continue
        assert cols["max_lateness"][r] == late.max(), f"rank {r}: max lateness {cols['max_lateness'][r]} != {late.max()}"
        p99, bound = float(cols["p99_lateness"][r]), int(cols["p99_lateness_bound"][r])
        want = p99_nearest_rank(late)
        if bound == 0:
            assert p99 == want, f"rank {r}: p99 lateness {p99} != {want} recomputed from /events"
        elif bound > 0:
            assert want <= p99 < want + 10e-6, f"rank {r}: p99 <= {p99} does not bound {want}"
        else:
            assert want > p99, f"rank {r}: p99 > {p99} does not bound {want}"
    return run, cols, attrs


def lateness_of(times, rate, speedup):
    """Each tick's delay behind its deadline k / (rate * speedup), as the runtime computes it."""
    period = 1.0 / (rate * speedup)
    deadline = np.arange(len(times), dtype=np.float64) * period
    return np.maximum(times - deadline, 0.0)


def p99_nearest_rank(values):
    """The value of rank ceil(0.99 N) among N values in ascending order (computed in integers)."""
    n = len(values)
    return float(np.sort(values)[(99 * n + 99) // 100 - 1])
