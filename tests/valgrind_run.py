"""Runs the real binary under valgrind memcheck on every rank and fails on any error or leak.

Usage:  valgrind_run.py NP SUBCOMMAND [ARGS...]
        e.g. valgrind_run.py 3 replay tests/data/three_process.txt
             valgrind_run.py 4 byz -m 1
             valgrind_run.py 3 clocks --duration 2 --speedup 10

It runs `mpirun -np NP valgrind --error-exitcode=9 --leak-check=full
--suppressions=tests/valgrind/openmpi.supp consensus ARGS -o TMP/run.h5 -q` and checks: every
rank exits 0 (so mpirun does), valgrind reports no error and no definite leak on any rank (a
report makes that rank exit 9), and the run file was published with complete = 1. The
suppression file covers Open MPI / hwloc / PMIx / libevent / HDF5 noise only; see its header.

Exit status: 0 clean; 1 an error, a leak or a failed run (valgrind's report is printed);
77 SKIP when valgrind is missing (ctest:
SKIP_RETURN_CODE 77).
"""
import os
import shutil
import subprocess
import sys

import h5py

import harness

SUPP = os.path.join(harness.HERE, "valgrind", "openmpi.supp")


def main(argv):
    if len(argv) < 3:
        print(__doc__)
        return 2
    np_, args = int(argv[1]), argv[2:]
    if not shutil.which("valgrind"):
        print("SKIP: valgrind is not installed")
        return 77
    d = harness.tmpdir()
    out_path = os.path.join(d, "run.h5")
    env = harness.mpi_env()
    # keep Open MPI's plugins mapped at exit so their frames have names the suppressions match
    env["OMPI_MCA_mca_base_component_disable_dlclose"] = "1"
    vg = ["valgrind", "-q", "--error-exitcode=9", "--leak-check=full", "--show-leak-kinds=definite",
          "--errors-for-leak-kinds=definite", "--num-callers=40", f"--suppressions={SUPP}"]
    cmd = [harness.MPIEXEC, harness.NP_FLAG, str(np_)] + harness.PREFLAGS + vg + [harness.BIN] + args + \
          ["-o", out_path, "-q"]
    print(" ".join(cmd), flush=True)
    scale = float(os.environ.get("CONSENSUS_TIMEOUT_SCALE", "1"))  # a loaded machine (tests/CMakeLists.txt)
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=1800 * scale, env=env)
    reports = [l for l in p.stderr.splitlines() if l.startswith("==")]
    ok = p.returncode == 0 and not reports
    if ok:
        with h5py.File(out_path, "r") as f:
            ok = int(f.attrs["complete"]) == 1
            if not ok:
                print("the run file is not complete")
    if not ok:
        print(f"exit {p.returncode}\n--- stdout\n{p.stdout}\n--- stderr\n{p.stderr}")
        shutil.rmtree(d, ignore_errors=True)
        return 1
    print(f"valgrind memcheck clean on {np_} ranks: consensus {' '.join(args)}")
    shutil.rmtree(d, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
