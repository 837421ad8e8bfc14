"""Smoke test of `consensus bench` at small sizes: the table is complete, in stdout and in /bench,
and every ratio is finite and positive. It never checks that a number beats a threshold."""
import math
import os

import h5py
import numpy as np

import harness

TESTS = ["pingpong_node", "pingpong_codec", "pingpong_dtype", "pingpong_split", "rate_traced",
         "rate_untraced", "tracing", "h5_write", "om_round", "om_message", "pool_reuse", "om_floor", "fault_layer", "sm",
         "rate_floor"]


from byz_reference import closed_form  # noqa: E402  (one definition of the closed form)


def expected_rows(np_, max_bytes, cap):
    """The (test, n, m, payload) keys the table must hold, by the rules in src/bench.c."""
    sizes, s = [], 8
    while s <= max_bytes:
        sizes.append(s)
        s *= 4
    if not sizes or sizes[-1] != max_bytes:
        sizes.append(max_bytes)
    clocks = [2, 4, 8, 16, 32, 64]
    if np_ not in clocks:
        clocks.append(np_)
    rows = []
    for p in sizes:
        rows.append(("pingpong_node", 2, -1, p))
        rows += [("pingpong_codec", n, -1, p) for n in clocks]
        rows += [("pingpong_dtype", np_, -1, p), ("pingpong_split", np_, -1, p)]
    for k in [k for k in (2, 7, 16) if k < np_] + [np_]:
        rows += [(t, k, -1, 8) for t in ("rate_traced", "rate_untraced", "tracing", "rate_floor")]
    rows.append(("pool_reuse", np_, -1, 8))
    rows.append(("fault_layer", np_, -1, 8))
    rows.append(("h5_write", np_, -1, -1))
    if cap > 0:
        ns, n = [], 4
        while n < np_:
            ns.append(n)
            n *= 2
        if np_ >= 3:
            ns.append(np_)
        for n in ns:
            for m in range(1, min(5, n - 2) + 1):
                if closed_form(n, m) <= cap:  # round mode, after its floor
                    rows += [("om_floor", n, m, -1), ("om_round", n, m, -1), ("sm", n, m, -1)]
                if closed_form(n, m) <= cap // 100:
                    rows.append(("om_message", n, m, -1))
    return rows


def parse_table(out):
    rows = []
    for line in out.splitlines():
        f = line.split()
        if not f or f[0] not in TESTS:
            continue
        m = -1 if f[2] == "-" else int(f[2])
        payload = -1 if f[3] == "-" else int(f[3])
        # ratio: the number before the baseline's name (units are two tokens each before it)
        ratio = float(f[9])
        rows.append(((f[0], int(f[1]), m, payload), ratio))
    return rows


def check_run(np_, max_bytes, cap):
    d = harness.tmpdir()
    path = os.path.join(d, "bench.h5")
    out, err = harness.run(np_, ["bench", "--iterations", 20, "--max-bytes", max_bytes, "--om-max-oral", cap,
                                 "-o", path], timeout=300)
    want = expected_rows(np_, max_bytes, cap)
    got = parse_table(out)
    assert [k for k, _ in got] == want, f"table rows differ:\n{[k for k, _ in got]}\n--- expected\n{want}\n{out}"
    for key, ratio in got:
        assert math.isfinite(ratio) and ratio > 0, f"{key}: ratio {ratio}"
        if key[0] == "pool_reuse":
            assert ratio <= 1, f"{key}: more buffers recycled than taken"
    assert f"wrote {path}" in out
    run = harness.check_schema(path)
    assert harness.attr_str(run["attrs"]["subcommand"]) == "bench"
    # the traced workload of the HDF5 measurement is the file's trace: every message delivered
    assert len(run["messages"]["src"]) == np_ * (np_ - 1) * 20
    assert np.all(run["messages"]["recv_event"] >= 0)
    with h5py.File(path, "r") as f:
        b = f["bench"]
        codes = dict(kv.split("=") for kv in harness.attr_str(b.attrs["test_codes"]).split(","))
        names = {int(v): k for k, v in codes.items()}
        cols = {c: b[c][...] for c in ["test", "n", "m", "payload", "wire_bytes", "raw_bytes", "count", "runtime",
                                       "baseline", "ratio", "seconds", "first_seconds", "peak_rss", "trials"]}
        assert int(b.attrs["iterations"]) == 20
    keys = [(names[int(t)], int(n), int(m), int(p)) for t, n, m, p in
            zip(cols["test"], cols["n"], cols["m"], cols["payload"])]
    assert keys == want
    for c in ["runtime", "baseline", "ratio"]:
        assert np.all(np.isfinite(cols[c])) and np.all(cols[c] > 0), c
    for k, key in enumerate(keys):
        if key[0].startswith("pingpong"):  # bytes on the wire: header + clock of n + payload
            assert cols["wire_bytes"][k] == 32 + 8 * key[1] + key[3], key
            assert cols["raw_bytes"][k] == key[3], key
        if key[0].startswith("om_"):  # every oral message of OM(m), no traitors: the closed form
            assert cols["count"][k] == closed_form(key[1], key[2]), key
            assert cols["peak_rss"][k] > 0 and cols["seconds"][k] > 0 and cols["first_seconds"][k] > 0, key
            # the first trial, then warm ones enough for 50 000 oral messages (3 to 999)
            warm = -(-50000 // closed_form(key[1], key[2]))
            assert cols["trials"][k] == 1 + min(max(warm, 3), 999), key
        elif key[0] == "sm":  # SM(m) beside OM(m), no traitors: (n - 1)^2 signed messages, OM's rate the baseline
            assert cols["count"][k] == (key[1] - 1) ** 2, key
            assert keys[k - 1] == ("om_round",) + key[1:], key
            assert cols["baseline"][k] == cols["runtime"][k - 1], key
            assert cols["peak_rss"][k] > 0 and cols["seconds"][k] > 0 and cols["first_seconds"][k] > 0, key
            assert cols["trials"][k] == 4, key
        else:
            assert cols["first_seconds"][k] == -1 and cols["trials"][k] == -1, key
        if key[0] == "om_round":  # its baseline is the floor's rate, the row just before
            assert keys[k - 1] == ("om_floor",) + key[1:], key
            assert cols["baseline"][k] == cols["runtime"][k - 1], key


def test_table_complete_np4():
    # cap 1000: message mode keeps only runs of at most 10 oral messages, so (4, 2) is round only
    check_run(4, 512, 1000)


def test_table_complete_np3_without_om():
    check_run(3, 100, 0)


def test_help_and_bad_input():
    out, _ = harness.run(2, ["bench", "--help"])
    for opt in ["--iterations", "--max-bytes", "--om-max-oral"]:
        assert opt in out, opt
    harness.usage_error(1, ["bench"], "at least 2 ranks")
    harness.usage_error(2, ["bench", "--om-max-oral", "x"], "--om-max-oral")


if __name__ == "__main__":
    harness.main([test_help_and_bad_input, test_table_complete_np3_without_om, test_table_complete_np4])
