"""Stress: high-rate clocks runs full of multicasts while this test keeps every core busy, several
times. No crash, no hang, clocks equal to happens-before, every message delivered or reported.

The runtime once crashed here (a multicast's buffer freed while copies were still to be posted)
and once took 38 s for a 0.5 s run (a late rank gave its core away on every tick): both show up
only when the ranks share loaded cores, so this test makes the load itself. Label slow; the
sanitizer build runs it too (tests/sanitize.sh). Never a time assertion: the timeout is a hang
detector, sized for a loaded 2-core machine under ASan.
"""
import os
import re
import subprocess
import sys

import clocks_check
import harness

RUNS = [  # (ranks, seed, extra options)
    (3, 1, ["--rates", "100000", "--duration", "0.3", "--flush-every", "0.1"]),
    (4, 2, ["--rates", "50000", "--duration", "0.3", "--flush-every", "0.05"]),
    (3, 3, ["--rates", "20000-80000", "--duration", "0.3", "--flush-every", "0.1"]),
    (5, 4, ["--rates", "40000", "--duration", "0.2"]),
]


SPIN = "import time\nend = time.monotonic() + 900\nwhile time.monotonic() < end:\n    pass\n"


def busy_loops(k):
    """k processes that spin until killed (each ends by itself after 15 minutes at the latest)."""
    return [subprocess.Popen([sys.executable, "-c", SPIN]) for _ in range(k)]


def main():
    loops = busy_loops(os.cpu_count() or 2)
    try:
        for n, seed, extra in RUNS:
            path = os.path.join(harness.tmpdir(), f"stress-{seed}.h5")
            out, _ = harness.run(n, ["clocks", "-o", path, "--seed", seed, "--p-internal", "0.1", "-q"] + extra,
                                 timeout=600)
            m = re.search(r"messages: (\d+) sent, (\d+) delivered, (\d+) undelivered", out)
            assert m, out
            sent, delivered, undelivered = (int(x) for x in m.groups())
            assert sent == delivered + undelivered and sent > 1000, out
            run, cols, _ = clocks_check.check_run(path)  # clocks equal happens-before, and more
            assert int(cols["send_all"].sum()) > 100, "the runs must be full of multicasts"
            print(f"ok stress run {seed}: {n} ranks, {sent} messages, {len(run['events']['rank'])} events")
    finally:
        for p in loops:
            p.kill()
            p.wait()


if __name__ == "__main__":
    main()
    sys.exit(0)
