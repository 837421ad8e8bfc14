"""A real SLURM cluster on this machine runs the real job scripts in jobs/; their files are checked.

tests/slurm/cluster.sh starts munged, slurmctld and slurmd under a temporary directory (installing
the Debian packages if missing) and stops exactly those daemons again, whatever happens here.
Needs root: without it the test prints SKIP and exits 77 (ctest shows it as skipped).
Every part is a real check: byz, clocks, replay and bench are all built.
"""
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time

import h5py
import numpy as np

import harness

REPO = harness.SOURCE
JOBS = os.path.join(REPO, "jobs")
CLUSTER = os.path.join(REPO, "tests", "slurm", "cluster.sh")
SKIP = 77
DONE = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "PREEMPTED", "BOOT_FAIL",
        "DEADLINE"}


class Cluster:
    """The running cluster: submits from a scratch directory (so results/ lands there)."""

    def __init__(self, top):
        self.top = top
        self.submit_dir = os.path.join(top, "submit")
        os.makedirs(self.submit_dir)
        self.env = dict(os.environ, SLURM_CONF=os.path.join(top, "slurm.conf"), CONSENSUS_HOME=REPO,
                        CONSENSUS_BIN=os.path.abspath(harness.BIN))
        # the job scripts decide alone what Open MPI needs (root, grace period): none of the
        # test harness's Open MPI settings may leak into the jobs
        for k in list(self.env):
            if k.startswith("OMPI_"):
                del self.env[k]
        # except one: the test node claims 8 CPUs on a 2-core machine, so its jobs are really
        # oversubscribed, and Open MPI (told nothing) busy-polls. Measured: a SIGTERM'd run then
        # took 4-10 s instead of 0.06 s to close its file, longer than KillWait. mpirun sets this
        # itself when it knows it oversubscribes; under SLURM nobody knows but us.
        self.env["OMPI_MCA_mpi_yield_when_idle"] = "1"

    def cmd(self, args, check=True):
        p = subprocess.run(args, capture_output=True, text=True, env=self.env, cwd=self.submit_dir, timeout=harness.timeout(60))
        if check and p.returncode != 0:
            raise AssertionError(f"{shlex.join(args)}: exit {p.returncode}\n{p.stdout}{p.stderr}")
        return p.stdout

    def sbatch(self, script, args=(), opts=(), env=None):
        """Submits jobs/SCRIPT; returns the job id. Output goes to submit/<job>_<task>.out."""
        saved = self.env
        self.env = dict(saved, **(env or {}))
        try:
            out = self.cmd(["sbatch", "--parsable", "-o", "%A_%a.out", *opts, os.path.join(JOBS, script), *args])
        finally:
            self.env = saved
        return out.strip().split(";")[0]

    def states(self, job):
        """{task id or None: (state, exit code)} of a job or of every task of an array."""
        out = self.cmd(["scontrol", "-o", "show", "job", job])
        tasks = {}
        for line in out.splitlines():
            f = dict(re.findall(r"(\w+)=(\S*)", line))
            task = f.get("ArrayTaskId")
            if task is not None and not task.isdigit():
                tasks[task] = ("PENDING", None)  # a range of array tasks not started yet
                continue
            tasks[int(task) if task else None] = (f["JobState"], f["ExitCode"])
        return tasks

    def wait(self, job, timeout=150, until=DONE):
        deadline = time.monotonic() + harness.timeout(timeout)
        while True:
            st = self.states(job)
            if all(s in until for s, _ in st.values()):
                return st
            if time.monotonic() > deadline:
                raise AssertionError(f"job {job} still {st} after {timeout} s\n{self.cmd(['squeue'], False)}")
            time.sleep(0.2)

    def output(self, job, task=None):
        path = os.path.join(self.submit_dir, f"{job}_{4294967294 if task is None else task}.out")
        if not os.path.exists(path):  # a plain job's %a is 4294967294 (NO_VAL); accept either spelling
            path = os.path.join(self.submit_dir, f"{job}_{'' if task is None else task}.out")
        with open(path) as f:
            return f.read()

    def result(self, job, name):
        return os.path.join(self.submit_dir, "results", job, name)


def expect_completed(cluster, states, job, task=None):
    state, code = states[task]
    assert state == "COMPLETED" and code == "0:0", \
        f"job {job} task {task}: {state} {code}\n{cluster.output(job, task)}"


def attrs(path):
    with h5py.File(path, "r") as f:
        return {k: (v.decode() if isinstance(v, bytes) else v) for k, v in f.attrs.items()}


def check_replay(cluster, job, launcher):
    st = cluster.wait(job)
    expect_completed(cluster, st, job)
    out = cluster.output(job)
    assert f": {launcher} -n 3 " in out, out
    path = cluster.result(job, "replay.h5")
    run = harness.check_schema(path)
    assert run["n"] == 3 and run["ranks"]["n_events"].tolist() == [5, 6, 5]
    assert not os.path.exists(path + ".partial")
    print(f"ok replay job through {launcher}: {path}")


def check_byz(cluster, job):
    st = cluster.wait(job)
    expect_completed(cluster, st, job)
    path = cluster.result(job, "byz.h5")
    run = harness.check_schema(path)
    assert run["n"] == 4 and harness.attr_str(run["attrs"]["subcommand"]) == "byz"
    with h5py.File(path, "r") as f:
        decision, ic1, ic2 = f["byz/decision"][...], f["byz/ic1"][...], f["byz/ic2"][...]
    # OM(1) on 4 generals with one traitor (rank 2): every trial reaches agreement
    assert decision.shape == (3, 4) and np.all(ic1 == 1) and np.all(ic2 == 1), (decision, ic1, ic2)
    loyal = [1, 3]
    assert np.all(decision[:, loyal] == 1), decision  # the loyal commander ordered attack
    print(f"ok byz job: {path}")


def check_sweep(cluster, job):
    st = cluster.wait(job)
    # task 2 is beyond the 2-configuration grid: it must fail and say so
    assert st[2][0] == "FAILED", st
    assert "task 2 is beyond the 2 configurations (--array=0-1)" in cluster.output(job, 2)
    print("ok byz sweep: a task beyond the grid fails with the --array to use")
    for task, strategy in [(0, "flip"), (1, "silent")]:
        out = cluster.output(job, task)
        assert f"-n 4 {cluster.env['CONSENSUS_BIN']} byz -m 1 -t 1 --strategy {strategy} " in out, out
        expect_completed(cluster, st, job, task)
        path = cluster.result(job, f"{task}.h5")
        run = harness.check_schema(path)
        assert run["n"] == 4 and f"--strategy {strategy}" in harness.attr_str(run["attrs"]["command_line"])
        with h5py.File(path, "r") as f:
            assert f["byz/decision"].shape == (2, 4) and int(f["byz"].attrs["m"]) == 1
        print(f"ok byz sweep task {task}: {path}")


def check_cs262(cluster, job):
    st = cluster.wait(job)
    assert sorted(st) == list(range(7)), st
    for task in range(7):
        expect_completed(cluster, st, job, task)
        path = cluster.result(job, f"{task}.h5")
        run = harness.check_schema(path)
        a = run["attrs"]
        assert run["n"] == 3 and harness.attr_str(a["subcommand"]) == "clocks"
        assert len(run["events"]["rank"]) > 0
        rates = run["ranks"]["tick_rate"]
        hi = 6 if task < 5 else 3
        assert np.all((rates >= 1) & (rates <= hi) & (rates == np.round(rates))), (task, rates)
        if task < 5:
            assert int(a["seed"]) == task + 1
        print(f"ok cs262 task {task}: {path}")


def submit_sweep(cluster, array_opts, env):
    """jobs/sweep.sh from the submit directory: returns (array job id, collect job id)."""
    saved = cluster.env
    cluster.env = dict(saved, COLLECT_OUTPUT="%j_.out", **env)
    try:
        out = cluster.cmd([os.path.join(JOBS, "sweep.sh"), *array_opts, os.path.join(JOBS, "byz-sweep.sbatch"),
                           "--trials", "2"])
    finally:
        cluster.env = saved
    m = re.match(r"array (\d+) collect (\d+): results/(\d+)/sweep.csv when every task has succeeded", out)
    assert m and m.group(1) == m.group(3), out
    return m.group(1), m.group(2)


def check_sweep_collect(cluster, array, collect):
    """The array ran, then (afterok) the collect job gathered its two runs into sweep.csv/.h5."""
    import pandas as pd
    st = cluster.wait(collect)
    expect_completed(cluster, st, collect)
    tasks = cluster.wait(array)
    for task in (0, 1):
        expect_completed(cluster, tasks, array, task)
    # the collect job started only after the last task ended (scontrol's times, to the second)
    def times(job):
        out = cluster.cmd(["scontrol", "-o", "show", "job", job])
        return [dict(re.findall(r"(\w+)=(\S*)", l)) for l in out.splitlines()]
    ended = max(t["EndTime"] for t in times(array))
    started = times(collect)[0]["StartTime"]
    assert started >= ended, f"collect started {started} before the array ended {ended}"
    table = pd.read_csv(cluster.result(array, "sweep.csv"))
    assert sorted(os.path.basename(f) for f in table["file"]) == ["0.h5", "1.h5"], table["file"]
    table = table.sort_values("file")
    assert table["n_ranks"].tolist() == [4, 4] and table["byz.m"].tolist() == [1, 1]
    assert table["strategies"].tolist() == ["flip", "silent"] and table["trials"].tolist() == [2, 2]
    assert table["complete"].tolist() == [1, 1] and table["subcommand"].tolist() == ["byz", "byz"]
    with h5py.File(cluster.result(array, "sweep.h5"), "r") as f:
        assert len(f["sweep/n_ranks"]) == 2 and f.attrs["format"] == b"consensus-sweep"
    print(f"ok sweep.sh: array {array}, then collect {collect} (afterok): sweep.csv and sweep.h5, 2 runs")


STUDY_GRID = {"STUDY_SEEDS": "2", "STUDY_RATES": "1-6 3-4", "STUDY_DURATION": "3", "STUDY_SPEEDUP": "3"}


def submit_study(cluster):
    """jobs/sweep.sh with the course study's array (4 tasks): returns (array job id, collect job id)."""
    saved = cluster.env
    cluster.env = dict(saved, COLLECT_OUTPUT="%j_.out", **STUDY_GRID)
    try:
        out = cluster.cmd([os.path.join(JOBS, "sweep.sh"), "--array=0-3", "-o", "%A_%a.out",
                           os.path.join(JOBS, "cs262-study.sbatch")])
    finally:
        cluster.env = saved
    m = re.match(r"array (\d+) collect (\d+): results/(\d+)/sweep.csv when every task has succeeded\n"
                 r"and the study: results/(\d+)/study/study.csv, fits.csv, study.png\n$", out)
    assert m and m.group(1) == m.group(3) == m.group(4), out
    return m.group(1), m.group(2)


def check_study(cluster, array, collect):
    """The study's array ran 4 clocks runs; then (afterok) the collect job wrote sweep.csv and the
    study: one row per run, the fits, the figure and the course figures of seeds 1 and 2."""
    import pandas as pd
    st = cluster.wait(collect)
    expect_completed(cluster, st, collect)
    tasks = cluster.wait(array)
    names = {0: "r1-6_p0.7_s1.h5", 1: "r1-6_p0.7_s2.h5", 2: "r3-4_p0.7_s1.h5", 3: "r3-4_p0.7_s2.h5"}
    for task, name in names.items():
        expect_completed(cluster, tasks, array, task)
        out = cluster.output(array, task)
        rates, seed = name[1:4], name[-4]
        assert (f"-n 3 {cluster.env['CONSENSUS_BIN']} clocks --rates {rates} --p-internal 0.7 --seed {seed} "
                f"--duration 3 --speedup 3 -q -o ") in out, out
        run = harness.check_schema(cluster.result(array, name))
        assert run["n"] == 3 and int(run["attrs"]["seed"]) == int(seed)
    study = pd.read_csv(cluster.result(array, os.path.join("study", "study.csv")))
    assert sorted(os.path.basename(f) for f in study["file"]) == sorted(names.values()), study["file"]
    for _, row in study.iterrows():
        with h5py.File(row["file"], "r") as f:
            assert row["max_drift"] == f["clocks/drift"][...].max()
            assert row["max_queue"] == f["clocks/max_queue"][...].max()
            assert row["rates"] == " ".join(f"{v:g}" for v in f["ranks/tick_rate"][...])
    assert study["setting"].tolist().count("1-6") == 2 and study["duration"].tolist() == [3.0] * 4
    study_dir = cluster.result(array, "study")
    assert sorted(os.listdir(study_dir)) == ["course-seed1.png", "course-seed2.png", "fits.csv", "study.csv",
                                             "study.png"], os.listdir(study_dir)
    assert len(pd.read_csv(cluster.result(array, "sweep.csv"))) == 4
    print(f"ok cs262-study through sweep.sh: array {array}, then collect {collect}: sweep.csv, "
          "study/study.csv (4 runs), fits.csv, study.png, course figures")


def check_sweep_collect_waits(cluster, array, collect):
    """A failed task: afterok is never satisfied, the collect job never runs (then cancelled)."""
    cluster.wait(array)
    deadline = time.monotonic() + harness.timeout(30)
    while True:
        out = cluster.cmd(["scontrol", "-o", "show", "job", collect])
        f = dict(re.findall(r"(\w+)=(\S*)", out))
        if f["JobState"] == "PENDING" and f["Reason"] == "DependencyNeverSatisfied":
            break
        assert f["JobState"] == "PENDING" and time.monotonic() < deadline, out
        time.sleep(0.2)
    cluster.cmd(["scancel", collect])
    assert not os.path.exists(cluster.result(array, "sweep.csv"))
    print(f"ok sweep.sh with a failing task: collect {collect} never ran (DependencyNeverSatisfied)")


def processes_naming(text):
    """PIDs of the processes whose command line contains text (from /proc: procps may be missing)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if text.encode() in f.read():
                    found.append(int(pid))
        except OSError:
            pass
    return found


def check_scancel(cluster, launcher, script, args, name, opts=()):
    """A long run cancelled mid-way leaves FILE (renamed) with complete = 0 and a whole trace."""
    job = cluster.sbatch(script, args, opts, env={"CONSENSUS_LAUNCHER": launcher})
    path = cluster.result(job, name)
    what = f"scancel of a {script} job through {launcher}"
    # 1. Wait until the run has opened its file (then its signal handlers are in place), plus
    #    a couple of seconds of ticks and flushes.
    deadline, seen = time.monotonic() + 120, None
    while time.monotonic() < deadline:
        st = cluster.states(job)
        if st[None][0] in DONE or (seen and time.monotonic() > seen + 2):
            break
        if seen is None and os.path.exists(path + ".partial"):
            seen = time.monotonic()
        time.sleep(0.1)
    assert st[None][0] == "RUNNING" and seen, f"{script} job {job}: {st}, file seen: {seen}\n{cluster.output(job)}"
    # 2. Cancel: SIGTERM to every rank (and to the launcher), SIGKILL after KillWait.
    cluster.cmd(["scancel", job])
    st = cluster.wait(job)
    assert st[None][0] == "CANCELLED", st
    out = cluster.output(job)
    # 3. The file was closed and renamed, marked incomplete, with every event up to the signal.
    assert os.path.exists(path), f"{path} missing after scancel\n{out}"
    assert not os.path.exists(path + ".partial")
    a = attrs(path)
    assert int(a["complete"]) == 0 and int(a["stopped_by_signal"]) == 1, a
    run = harness.check_schema(path, complete=0)  # per rank: seq contiguous from 0, clocks consistent
    ev = run["events"]
    assert len(ev["rank"]) > 0, "no events recorded before the signal"
    # 4. The ranks were in the job's process tree, so nothing of the job outlives it.
    #    (the controller may report the job ended a moment before its last process is reaped;
    #    SLURM's SIGKILL comes KillWait = 5 s after the SIGTERM, so allow that and a little more)
    deadline = time.monotonic() + 8
    while (left := processes_naming(path)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not left, f"processes of job {job} outlived it: {left}"
    print(f"ok {what}: complete=0, stopped_by_signal=1, {len(ev['rank'])} events, seq contiguous per rank")
    return run


def check_sweep_grid():
    """The #SBATCH --array line of byz-sweep.sbatch matches its default grid."""
    out = subprocess.run(["bash", os.path.join(JOBS, "byz-sweep.sbatch"), "--list"], capture_output=True, text=True,
                         env={k: v for k, v in os.environ.items() if not k.startswith("BYZ_")}, check=True).stdout
    want = re.search(r"--array=(\S+) ", out.splitlines()[-1]).group(1)
    with open(os.path.join(JOBS, "byz-sweep.sbatch")) as f:
        have = re.search(r"^#SBATCH --array=(\S+)$", f.read(), re.M).group(1)
    assert want == have == "0-89", (want, have)
    print("ok byz-sweep.sbatch: #SBATCH --array matches its 90-configuration default grid")


def run_all(cluster):
    # 1. A trivial job proves the cluster schedules and runs batch scripts.
    cluster.cmd(["sbatch", "--parsable", "-o", "%j.out", "--wrap", "true"])
    # 2. Submit everything at once (the node has 8 CPUs), then check each job in turn.
    replay = os.path.join(REPO, "tests", "data", "three_process.txt")
    jobs = {
        "replay-srun": cluster.sbatch("replay.sbatch", [replay, "-q"], ["-n", "3"]),
        "replay-mpirun": cluster.sbatch("replay.sbatch", [replay, "-q"], ["-n", "3"],
                                        env={"CONSENSUS_LAUNCHER": "mpirun"}),
        "byz": cluster.sbatch("byz.sbatch", ["-m", "1", "--traitors", "2", "--strategy", "flip", "--trials", "3"],
                              ["-n", "4"]),
        "sweep": cluster.sbatch("byz-sweep.sbatch", ["--trials", "2"], ["-n", "4", "--array=0-2"],
                                env={"BYZ_N": "4", "BYZ_M": "1", "BYZ_TRAITORS": "1", "BYZ_STRATEGY": "flip silent"}),
        "cs262": cluster.sbatch("cs262.sbatch", ["--duration", "3", "--speedup", "3"]),
    }
    grid = {"BYZ_N": "4", "BYZ_M": "1", "BYZ_TRAITORS": "1", "BYZ_STRATEGY": "flip silent"}
    sweep = submit_sweep(cluster, ["-n", "4", "--array=0-1", "-o", "%A_%a.out"], grid)
    failing = submit_sweep(cluster, ["-n", "4", "--array=0-2", "-o", "%A_%a.out"], grid)
    study = submit_study(cluster)
    check_replay(cluster, jobs["replay-srun"], "srun --mpi=pmix")
    check_replay(cluster, jobs["replay-mpirun"], "mpirun")
    check_byz(cluster, jobs["byz"])
    check_sweep(cluster, jobs["sweep"])
    check_cs262(cluster, jobs["cs262"])
    check_sweep_collect(cluster, *sweep)
    check_sweep_collect_waits(cluster, *failing)
    check_study(cluster, *study)
    # 3. Signals: scancel long runs, through both launchers. A replay at 1 tick per second runs
    #    for about 10 s (16 events), long enough to be cut short; a clocks run for an hour.
    for launcher in ("srun --mpi=pmix", "mpirun"):
        run = check_scancel(cluster, launcher, "replay.sbatch", [replay, "--rates", "1", "-q"], "replay.h5", ["-n", "3"])
        assert len(run["events"]["rank"]) < 16, "the replay ran to its end before the signal"
        check_scancel(cluster, launcher, "clocks.sbatch", ["--rates", "4-8", "--duration", "3600", "--speedup", "1",
                                                           "--flush-every", "0.5"], "clocks.h5")


def main():
    check_sweep_grid()
    if os.geteuid() != 0:
        print("SKIP test_slurm: starting a SLURM cluster needs root (ctest -LE slurm leaves it out)")
        return SKIP
    top = harness.tmpdir()
    # ctest's timeout and ^C arrive as signals: turn them into an exception so the finally runs
    # (a SIGKILL cannot be caught: then the cluster's watchdog, tied to this PID, tears down)
    def on_signal(sig, _frame):
        raise SystemExit(f"test_slurm: signal {sig}, tearing the cluster down")
    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(s, on_signal)
    start = subprocess.run([CLUSTER, "start", top, str(os.getpid())], stdin=subprocess.DEVNULL)
    try:
        if start.returncode == 3:
            print("SKIP test_slurm: no SLURM cluster possible here (see above)")
            return SKIP
        assert start.returncode == 0, f"cluster.sh start failed ({start.returncode}); logs in {top}/log"
        run_all(Cluster(top))
    except BaseException:
        for log in ("slurmctld.log", "slurmd.log"):
            p = os.path.join(top, "log", log)
            if os.path.exists(p):
                with open(p) as f:
                    sys.stderr.write(f"--- last lines of {log}\n" + "".join(f.readlines()[-15:]))
        raise
    finally:
        subprocess.run([CLUSTER, "stop", top], stdin=subprocess.DEVNULL)
    shutil.rmtree(top, ignore_errors=True)  # kept only when something failed: its logs say why
    return 0


if __name__ == "__main__":
    sys.exit(main())
