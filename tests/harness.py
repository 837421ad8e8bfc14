"""Test harness shared by the Python tests: run the real binary under mpirun and check run files.

ctest passes the binary and the launcher through the environment (CONSENSUS_BIN, MPIEXEC,
MPIEXEC_NUMPROC_FLAG, MPIEXEC_PREFLAGS); the Open MPI variables that let root run with more
ranks than cores are set here, so they never get in a user's way.
"""
import os
import re
import shlex
import subprocess
import sys
import tempfile

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(SOURCE, "postprocess"))

BIN = os.environ.get("CONSENSUS_BIN", os.path.join(SOURCE, "build", "consensus"))
MPIEXEC = os.environ.get("MPIEXEC", "mpirun")
NP_FLAG = os.environ.get("MPIEXEC_NUMPROC_FLAG", "-np")
PREFLAGS = shlex.split(os.environ.get("MPIEXEC_PREFLAGS", "--oversubscribe"))
# Every timeout of a run a test starts is scaled by this (tests/CMakeLists.txt sets it for a
# loaded 2-core machine, and 4 times more for the sanitizer build). A timeout only stops a hang.
SCALE = float(os.environ.get("CONSENSUS_TIMEOUT_SCALE", "1"))


def timeout(seconds):
    """A timeout of `seconds` on an idle machine, scaled for this one (SCALE)."""
    return seconds * SCALE


def mpi_env():
    env = dict(os.environ)
    env.setdefault("OMPI_ALLOW_RUN_AS_ROOT", "1")
    env.setdefault("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
    env.setdefault("OMPI_MCA_rmaps_base_oversubscribe", "1")
    # quiet Open MPI's warnings about missing fabrics on a laptop or a CI box
    # mpirun itself stays quiet, so a usage error is exactly our one line
    env.setdefault("OMPI_MCA_orte_execute_quiet", "1")
    env.setdefault("OMPI_MCA_btl", "self,vader")
    env.setdefault("OMPI_MCA_btl_vader_single_copy_mechanism", "none")
    return env


def run(np_, args, expect_rc=0, timeout=120, cwd=None):
    """Runs `mpirun -np NP consensus ARGS`, checks the exit status, returns (stdout, stderr). The
    timeout (seconds on an idle machine) is scaled by SCALE."""
    cmd = [MPIEXEC, NP_FLAG, str(np_)] + PREFLAGS + [BIN] + [str(a) for a in args]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout * SCALE, env=mpi_env(), cwd=cwd)
    if expect_rc is not None and p.returncode != expect_rc:
        raise AssertionError(
            f"{' '.join(cmd)}\nexit {p.returncode}, expected {expect_rc}\n--- stdout\n{p.stdout}\n--- stderr\n{p.stderr}")
    return p.stdout, p.stderr


# Open MPI's bundled event library sometimes warns while mpirun tears down ranks that exited
# early, e.g. "[warn] Epoll MOD(1) on fd 33 failed. Old events were 6; ...: Bad file descriptor"
# (a known shutdown race of its libevent: open-mpi/ompi issues 2004 and 5520). It is the
# launcher's line, not the program's, so the checks of what the program prints leave it out.
LAUNCHER_NOISE = re.compile(r"^\[warn\] Epoll (ADD|MOD|DEL)\(\d+\) on fd \d+ failed\.")


def stderr_lines(err):
    """The non-blank lines of a run's stderr, without the launcher's libevent warnings."""
    return [l for l in err.splitlines() if l.strip() and not LAUNCHER_NOISE.match(l)]


def usage_error(np_, args, needle, cwd=None):
    """A usage error: exit 2, exactly one line on stderr (from rank 0) containing needle."""
    out, err = run(np_, args, expect_rc=2, cwd=cwd)
    lines = stderr_lines(err)
    assert len(lines) == 1, f"expected one line on stderr, got {lines!r}"
    assert needle in lines[0], f"{needle!r} not in {lines[0]!r}"
    return lines[0]


def tmpdir():
    return tempfile.mkdtemp(prefix="consensus-test-")


EVENT_COLUMNS = ["rank", "seq", "kind", "time", "lamport", "vc", "peer", "queue_len"]
MESSAGE_COLUMNS = ["src", "dst", "send_event", "recv_event", "arrive_time", "bytes", "fate"]
RANK_COLUMNS = ["rank", "hostname", "tick_rate", "traitor", "n_events", "crash_time"]


def attr_str(v):
    return v.decode() if isinstance(v, bytes) else str(v)


def check_schema(path, complete=1):
    """Checks the format_version 1 schema and the clock invariants; returns a dict of arrays."""
    with h5py.File(path, "r") as f:
        a = f.attrs
        assert attr_str(a["format"]) == "consensus-run"
        assert int(a["format_version"]) == 1
        for name in ["program_version", "command_line", "subcommand", "n_ranks", "seed", "started_at",
                     "mpi_library", "complete"]:
            assert name in a, f"root attribute {name} missing"
        assert int(a["complete"]) == complete, f"complete = {a['complete']}"
        n = int(a["n_ranks"])
        for c in RANK_COLUMNS:
            assert f["ranks"][c].shape == (n,), f"/ranks/{c}"
        ev = {c: f["events"][c][...] for c in EVENT_COLUMNS}
        msg = {c: f["messages"][c][...] for c in MESSAGE_COLUMNS}
        assert f["events"]["time"].attrs["units"] in (b"s", "s")
        ranks = {c: f["ranks"][c][...] for c in f["ranks"]}
        attrs = dict(a)
    E = len(ev["rank"])
    assert ev["vc"].shape == (E, n)
    for c in EVENT_COLUMNS:
        assert len(ev[c]) == E
    # per rank: seq is 0..k-1 in local order, n_events matches when the whole run is traced
    for r in range(n):
        seqs = ev["seq"][ev["rank"] == r]
        assert np.array_equal(np.sort(seqs), np.arange(len(seqs))), f"rank {r} seq"
    # every message: send < recv in Lamport and vector clock, endpoints on the right ranks
    for k in range(len(msg["src"])):
        s, r = msg["send_event"][k], msg["recv_event"][k]
        assert 0 <= s < E and ev["rank"][s] == msg["src"][k] and ev["kind"][s] == 1
        if r >= 0:
            assert ev["rank"][r] == msg["dst"][k] and ev["kind"][r] == 2
            assert ev["lamport"][s] < ev["lamport"][r]
            vs, vr = ev["vc"][s], ev["vc"][r]
            assert np.all(vs <= vr) and np.any(vs < vr), f"message {k}: {vs} !< {vr}"
    return {"attrs": attrs, "events": ev, "messages": msg, "ranks": ranks, "n": n}


def main(tests):
    """Runs test functions in order; prints one line each; exits non-zero on the first failure."""
    for t in tests:
        t()
        print(f"ok {t.__name__}")
