"""Rank 0's progress line: shown in place on a terminal (mpirun run inside a pseudo-terminal, made
with Python's pty module) once a run lasts over 2 s, and erased before the summary; never in a
pipe unless --progress asks (then whole lines); -q silences it on a terminal; a short run shows
none; the file is the same contract either way (check.py)."""
import os
import pty
import re
import select
import signal
import subprocess
import time

import harness
import pp_common as pp

LINE = re.compile(r"consensus clocks: model (\d+\.\d) of 4 s \(\d+%\), ends in \d+ s, wall (\d+\.\d) s; "
                  r"rank 0: (\d+) events, (\d+) messages sent, (\d+) received")


def mpirun_cmd(args):
    return [harness.MPIEXEC, harness.NP_FLAG, "3"] + harness.PREFLAGS + [harness.BIN] + [str(a) for a in args]


def in_terminal(args):
    """Runs mpirun with a pseudo-terminal as its stdin, stdout and stderr; returns (status, text)."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: mpirun on the terminal
        os.environ.update(harness.mpi_env())
        os.execvp(harness.MPIEXEC, mpirun_cmd(args))
    out, deadline = b"", time.monotonic() + harness.timeout(120)
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 1.0)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO: the terminal's other side closed
            break
        if not chunk:
            break
        out += chunk
    else:
        os.kill(pid, signal.SIGKILL)
        raise AssertionError(f"mpirun in a terminal did not end: {out[-2000:]!r}")
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), out.decode("utf-8", "replace")


def in_pipe(args):
    p = subprocess.run(mpirun_cmd(args), capture_output=True, text=True, env=harness.mpi_env(),
                       timeout=harness.timeout(120))
    assert p.returncode == 0, p.stderr
    return p.stdout, p.stderr


def main():
    d = harness.tmpdir()
    long_run = ["clocks", "--rates", "5", "--duration", "4"]  # 4 wall seconds, 20 ticks per rank
    # 1. A terminal: the line is rewritten in place, with the model time rising, then erased.
    path = os.path.join(d, "tty.h5")
    rc, text = in_terminal(long_run + ["-o", path])
    assert rc == 0, text
    updates = text.split("\r\x1b[K")
    lines = [LINE.match(u) for u in updates[1:-1]]
    assert len(lines) >= 2 and all(lines), f"progress updates: {updates!r}"
    models = [float(m.group(1)) for m in lines]
    assert models == sorted(models) and models[0] >= 2.0 and models[-1] <= 4.0, models
    assert all(int(m.group(3)) <= 20 for m in lines) and "\n" not in "".join(updates[1:-1])
    # the last erase comes before the summary, which starts on a clean line
    assert updates[-1].startswith("clocks: 3 ranks, 4 model s") and f"wrote {path}" in updates[-1], updates[-1]
    print(f"ok terminal: {len(lines)} updates in place (model {models[0]} .. {models[-1]} s), erased before the "
          "summary")
    # 2. -q on a terminal: no progress line
    rc, text = in_terminal(long_run + ["-q", "-o", os.path.join(d, "quiet.h5")])
    assert rc == 0 and "consensus clocks: model" not in text and "\x1b[K" not in text, text
    # 3. A short run on a terminal shows none
    rc, text = in_terminal(["clocks", "--rates", "5", "--duration", "1", "-o", os.path.join(d, "short.h5")])
    assert rc == 0 and "consensus clocks: model" not in text, text
    print("ok terminal: -q silences it, and a run under 2 s shows none")
    # 4. A pipe: nothing unless --progress; with it whole lines (the first after 2 s, the last "done")
    _, err = in_pipe(long_run + ["-o", os.path.join(d, "pipe.h5")])
    assert "consensus clocks: model" not in err, err
    _, err = in_pipe(long_run + ["--progress", "-q", "-o", os.path.join(d, "log.h5")])
    lines = err.splitlines()
    assert len(lines) == 2 and "\r" not in err and "\x1b" not in err, err
    assert LINE.match(lines[0]) and float(LINE.match(lines[0]).group(2)) >= 2.0, lines
    assert LINE.match(lines[1]) and lines[1].endswith(" (done)"), lines
    print("ok pipe: silent unless --progress, then whole lines (also with -q)")
    # 5. The files are whole runs either way
    out = subprocess.run([pp.PYTHON, os.path.join(pp.PP, "check.py"), path, os.path.join(d, "log.h5")],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    # 6. byz (no duration): --progress accepted; a run that short prints nothing
    _, err = in_pipe(["byz", "-m", "1", "--progress", "-q", "-o", os.path.join(d, "byz.h5")])
    assert err == "", err


if __name__ == "__main__":
    main()
