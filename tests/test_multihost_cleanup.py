"""tests/multihost/hosts.sh leaves nothing behind (issue 17): after SIGINT, after SIGTERM, after a
failing command that left its mpirun running, and after a run killed with SIGKILL (the next run
removes what it left), no namespace host, no link and no process it made remains.

Each case starts a real 3-host run of `consensus clocks` (a daemon and a rank in every namespace,
mpirun here), waits until every rank runs, records every process, then ends it its way.
Needs root; exit 77 otherwise (like hosts.sh).
"""
import os
import signal
import subprocess
import sys
import time

import harness

HOSTS_SH = os.path.join(harness.HERE, "multihost", "hosts.sh")
HOSTS = ["csmh-h1", "csmh-h2", "csmh-h3"]
# a run that goes on until stopped: one rank per host, the file in hosts.sh's private directory
RUN = ('mpirun -np 3 --oversubscribe --hostfile "$MULTIHOST_HOSTFILE" --map-by node "$CONSENSUS_BIN" clocks '
       '--rates 5 --duration 3600 -q -o "$MULTIHOST_DIR/run.h5"')


def ours_left():
    """Namespaces and links with hosts.sh's names that exist now."""
    ns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout.split("\n")
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True).stdout.split("\n")
    return ([l.split()[0] for l in ns if l.startswith("csmh-")] +
            [l.split(":")[1].strip().split("@")[0] for l in links if ": csmh-" in l])


def start_time(pid):
    """The kernel's start time of pid (field 22 of /proc/PID/stat), or None if it is gone: a pid
    counts as alive only with the same start time (pids are reused)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[19]
    except (FileNotFoundError, ProcessLookupError):
        return None


def group_of(leader):
    """Every process in the process group `leader` leads (hosts.sh runs its command that way)."""
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[2]) == leader:
                        out.append(int(d))
            except (FileNotFoundError, ProcessLookupError):
                pass
    return out


def start(inner):
    env = harness.mpi_env()
    env.pop("OMPI_MCA_btl", None)  # hosts.sh sets the transport
    return subprocess.Popen([HOSTS_SH, "3", "bash", "-c", inner], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


def wait_running(p):
    """Waits until every host has a consensus rank; returns {pid: start time} of every process of
    the run: the daemons and ranks in the namespaces and the command's process group here."""
    for _ in range(int(harness.timeout(120) / 0.1)):
        assert p.poll() is None, f"hosts.sh ended early: {p.communicate()}"
        pids = {}
        for h in HOSTS:
            r = subprocess.run(["ip", "netns", "pids", h], capture_output=True, text=True)
            pids[h] = [int(x) for x in r.stdout.split()] if r.returncode == 0 else []
        comms = {h: [open(f"/proc/{x}/comm").read().strip() for x in pids[h] if start_time(x)] for h in HOSTS}
        if all("consensus" in comms[h] for h in HOSTS):
            with open(f"/proc/{p.pid}/task/{p.pid}/children") as f:
                kids = [int(k) for k in f.read().split()]
            assert len(kids) == 1, f"hosts.sh's children: {kids}"
            procs = [x for h in HOSTS for x in pids[h]] + group_of(kids[0])
            assert any(open(f"/proc/{x}/comm").read().strip() == "mpirun" for x in group_of(kids[0]))
            return {x: start_time(x) for x in procs if start_time(x)}
        time.sleep(0.1)
    raise AssertionError("the ranks never started on every host")


def check_nothing_left(procs):
    """No namespace or link of ours, and none of the run's processes (bounded wait: an orphaned
    mpirun needs a moment to see its daemons gone)."""
    for _ in range(int(harness.timeout(30) / 0.1)):
        alive = [x for x, t in procs.items() if start_time(x) == t]
        if not alive and not ours_left():
            return
        time.sleep(0.1)
    raise AssertionError(f"left behind: {ours_left()}, processes {alive}")


def finish(p):
    try:
        out, err = p.communicate(timeout=harness.timeout(120))
    except subprocess.TimeoutExpired:
        p.kill()
        raise AssertionError("hosts.sh did not end")
    return p.returncode, out, err


def test_signals():
    """SIGINT and SIGTERM to hosts.sh mid-run: it says so, exits 128 + N, removes everything."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        p = start(RUN)
        procs = wait_running(p)
        p.send_signal(sig)
        rc, _, err = finish(p)
        assert rc == 128 + sig, f"exit {rc} after {sig.name}\n{err}"
        assert f"interrupted by {sig.name}; removing the hosts" in err, err
        check_nothing_left(procs)


def test_failing_command():
    """A command that fails while its mpirun still runs: its status is passed on and the mpirun
    it left, the daemons and the ranks are all gone."""
    p = start(RUN + ' & until [ -s "$MULTIHOST_DIR/run.h5.partial" ]; do sleep 0.1; done; '
              'sleep 2; exit 3')
    procs = wait_running(p)
    rc, _, err = finish(p)
    assert rc == 3, f"exit {rc}\n{err}"
    check_nothing_left(procs)


def test_killed_run_cleaned_by_next():
    """hosts.sh killed with SIGKILL cannot clean up; the next run removes what it left (its
    namespaces, links and the processes in them), and then leaves nothing itself."""
    p = start(RUN)
    procs = wait_running(p)
    p.kill()
    p.wait()
    assert ours_left(), "SIGKILL should have left the hosts behind"
    q = subprocess.run([HOSTS_SH, "3", "true"], capture_output=True, text=True, timeout=harness.timeout(120))
    assert q.returncode == 0, q.stderr
    try:
        check_nothing_left(procs)
    finally:
        for x, t in procs.items():  # only the processes this test started
            if start_time(x) == t:
                os.kill(x, signal.SIGKILL)


if __name__ == "__main__":
    if os.geteuid() != 0:
        print("test_multihost_cleanup: SKIP: needs root (network namespaces)", file=sys.stderr)
        sys.exit(77)
    harness.main([test_signals, test_failing_command, test_killed_run_cleaned_by_next])
