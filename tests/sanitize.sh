#!/bin/sh
# Builds the project with AddressSanitizer + UndefinedBehaviorSanitizer (CONSENSUS_ASAN=ON) in its
# own build directory and runs there the unit tests, the MPI tests in C and the runs of the real
# binary that reach every module in C: every wire mode and strategy of byz (the EIG tree and the
# codec), replay, the fault layer, hostile input, and the stress test.
# Usage: tests/sanitize.sh [BUILD_DIR [CTEST_ARGS...]]   (default: build-asan beside the source tree)
#
# Leak reports: LeakSanitizer runs, but Open MPI, its plugins, hwloc, PMIx, libevent and HDF5
# keep allocations alive until exit by design; tests/sanitizers/lsan.supp suppresses those
# libraries only (each entry names a library, never one of our files), so a leak in consensus
# code still fails the run. The slow unwinder (fast_unwind_on_malloc=0) is needed: Open MPI is
# built without frame pointers, and only full stacks reach the frames that name its libraries.
# UBSan stops at the first report (-fno-sanitize-recover).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
src=$(dirname "$here")
build=${1:-$src/build-asan}
[ $# -gt 0 ] && shift
cmake -S "$src" -B "$build" -DCONSENSUS_ASAN=ON -DCONSENSUS_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j2
ASAN_OPTIONS="detect_leaks=1:fast_unwind_on_malloc=0:abort_on_error=0:exitcode=86:strict_string_checks=1:detect_stack_use_after_return=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
LSAN_OPTIONS="suppressions=$here/sanitizers/lsan.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
# Keep Open MPI plugins loaded at exit, so leak reports from them name their library.
OMPI_MCA_mca_base_component_disable_dlclose=1
export OMPI_MCA_mca_base_component_disable_dlclose
UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
export ASAN_OPTIONS LSAN_OPTIONS UBSAN_OPTIONS
cd "$build"
# The analysis scripts are Python, and the other runs repeat these paths: under ASan they add
# minutes, not coverage (SM's signatures are checked by valgrind_sm in the normal build). The
# stress test (loaded cores, high rates, multicasts) once found a use-after-free: it runs here too.
ctest -L unit --output-on-failure -j1 "$@"
ctest -R '^(test_node|test_round_last|test_after_done|test_multicast|test_slots|test_steady)_np[0-9]+$|^(test_byz|test_faults|test_replay|test_hostile|test_stress)$' \
  --output-on-failure -j1 "$@"
