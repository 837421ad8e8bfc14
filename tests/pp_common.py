"""Helpers for the postprocess/ tests: run a script, check an image, check bad-input handling,
and run a subcommand of the real binary."""
import os
import subprocess
import sys

import h5py
import numpy as np

import harness

PP = os.path.join(harness.SOURCE, "postprocess")
PYTHON = sys.executable


def script(name, args, expect_rc=0):
    """Runs postprocess/NAME with ARGS under this Python; checks the exit status; returns (out, err)."""
    cmd = [PYTHON, os.path.join(PP, name)] + [str(a) for a in args]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=harness.timeout(300))
    if p.returncode != expect_rc:
        raise AssertionError(f"{' '.join(cmd)}\nexit {p.returncode}, expected {expect_rc}\n"
                             f"--- stdout\n{p.stdout}\n--- stderr\n{p.stderr}")
    return p.stdout, p.stderr


def check_png(path, min_bytes=8000):
    """A real, non-blank PNG image of non-trivial size; returns (height, width)."""
    import matplotlib.image
    assert os.path.exists(path), f"{path} missing"
    with open(path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    size = os.path.getsize(path)
    assert size >= min_bytes, f"{path}: only {size} bytes"
    img = matplotlib.image.imread(path)
    assert img.shape[0] >= 100 and img.shape[1] >= 100, f"{path}: {img.shape}"
    assert float(np.std(img[..., :3])) > 0.02, f"{path} is blank"
    return img.shape[:2]


def check_help(name, needle):
    out, _ = script(name, ["--help"])
    assert out.startswith("usage:") and needle in out and "-o OUT" in out, out


def check_bad_inputs(name, extra=(), wrong_group_file=None, group=None):
    """Missing file, non-HDF5 file, HDF5 of another format or version, a run without the
    needed group: one line on stderr, exit 2, no traceback."""
    d = harness.tmpdir()
    out = os.path.join(d, "out")
    text = os.path.join(d, "notes.txt")
    with open(text, "w") as f:
        f.write("not a run file\n")
    other = os.path.join(d, "other.h5")
    with h5py.File(other, "w") as f:
        f.attrs["format"] = np.bytes_("someone-else")
        f["x"] = np.arange(3)
    bare = os.path.join(d, "bare.h5")
    with h5py.File(bare, "w") as f:
        f["x"] = np.arange(3)
    v2 = os.path.join(d, "v2.h5")
    with h5py.File(v2, "w") as f:
        f.attrs["format"] = np.bytes_("consensus-run")
        f.attrs["format_version"] = 2
    cases = [(os.path.join(d, "missing.h5"), "no such file"),
             (text, "not an HDF5 file"),
             (other, "format 'someone-else', not a consensus-run file"),
             (bare, "no 'format' attribute"),
             (v2, "format_version 2 is not supported"),
             (d, "is a directory")]
    if wrong_group_file:
        cases.append((wrong_group_file, f"has no /{group} group"))
    for path, needle in cases:
        _, err = script(name, [path, "-o", out] + list(extra), expect_rc=2)
        lines = [l for l in err.splitlines() if l.strip()]
        assert len(lines) == 1, f"{name} {path}: expected one line, got {lines!r}"
        assert needle in lines[0] and lines[0].startswith(name + ": "), f"{name}: {needle!r} not in {lines[0]!r}"
        assert "Traceback" not in err


def real_or_skip(np_, args, what):
    """Runs the real binary (every subcommand is built: a failure raises); returns True."""
    cmd = [harness.MPIEXEC, harness.NP_FLAG, str(np_)] + harness.PREFLAGS + [harness.BIN] + [str(a) for a in args]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=harness.timeout(300), env=harness.mpi_env())
    if p.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)}\nexit {p.returncode}\n--- stdout\n{p.stdout}\n--- stderr\n{p.stderr}")
    return True
