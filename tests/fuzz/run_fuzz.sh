#!/bin/sh
# Builds one fuzz target with clang (libFuzzer + ASan + UBSan) in BUILD_DIR and fuzzes it for a
# bounded time from the checked-in seed corpus. Usage: run_fuzz.sh TARGET BUILD_DIR [SECONDS]
#   TARGET   wire, replay, byz or sm
# New inputs go to BUILD_DIR/corpus-TARGET (never into the source tree); a crasher is written
# to BUILD_DIR/crash-* and the script fails: copy it into tests/fuzz/corpus/TARGET/ once fixed,
# and the regression test (fuzz_corpus_TARGET) replays it in every build from then on.
# Exit status 77 (ctest: skipped) when clang or libFuzzer is not available.
set -eu
target=$1
build=$2
seconds=${3:-10}
here=$(cd "$(dirname "$0")" && pwd)
cc=${FUZZ_CC:-clang}
if ! command -v "$cc" >/dev/null 2>&1; then
  echo "SKIP: $cc not found (the fuzz targets need clang with libFuzzer)"
  exit 77
fi
mkdir -p "$build"
# Configured every time (cheap when nothing changed), so a target added since the last run exists.
if ! CC=$cc cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$build/configure.log" 2>&1; then
  cat "$build/configure.log"
  echo "SKIP: cannot configure the fuzz targets with $cc"
  exit 77
fi
cmake --build "$build" --target "fuzz_$target" -j2 >"$build/build-$target.log" 2>&1 || { cat "$build/build-$target.log"; exit 1; }
work="$build/corpus-$target"
mkdir -p "$work"
cd "$build"
# -error_exitcode=1: libFuzzer's own default for a crash is 77, which ctest reads as "skipped" (the
# code this script uses when clang is missing), so a crash once passed as a skip.
# -timeout catches loops (a single input taking > 5 s), -rss_limit_mb runaway allocation,
# -max_len keeps inputs small enough to explore quickly; -runs bounds the work on a fast machine.
exec "./fuzz_$target" -error_exitcode=1 -max_total_time="$seconds" -runs=2000000 -timeout=5 -rss_limit_mb=1024 -max_len=4096 \
  -print_final_stats=1 "$work" "$here/corpus/$target"
