#!/bin/bash
# Submits a sweep the way a cluster user runs one: a job array, then a collect job that depends on
# it (--dependency=afterok), so results/<array job id>/sweep.csv appears when the last task ends.
#
#   jobs/sweep.sh [sbatch options for the array] jobs/SCRIPT.sbatch [options for the runs]
#   jobs/sweep.sh --array=0-89 jobs/byz-sweep.sbatch --trials 20
#   BYZ_N="4 7" BYZ_M=1 BYZ_TRAITORS="1 2" BYZ_STRATEGY="flip silent" jobs/sweep.sh -n 7 --array=0-7 jobs/byz-sweep.sbatch
#
# Prints the two job ids ("array 1234 collect 1235") and where the table will be. Run it from the
# directory the results should go under (results/ there), like sbatch. Variables as for the
# scripts (CONSENSUS_HOME, CONSENSUS_RESULTS, ...); COLLECT_PER=trial gives one row per byz trial.
# For jobs/cs262-study.sbatch the collect job also writes the study (COLLECT_STUDY=1):
# results/<array>/study/study.csv, fits.csv and the figures (postprocess/cs262_study.py).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
opts=()
while [ $# -gt 0 ] && [[ "$1" != *.sbatch ]]; do opts+=("$1"); shift; done
[ $# -gt 0 ] || { echo "usage: jobs/sweep.sh [sbatch options] jobs/SCRIPT.sbatch [run options]" >&2; exit 2; }
script=$1
shift
export CONSENSUS_HOME=${CONSENSUS_HOME:-$(dirname "$here")}
case "${script##*/}" in cs262-study.sbatch) export COLLECT_STUDY=${COLLECT_STUDY:-1} ;; esac
array=$(sbatch --parsable "${opts[@]}" "$script" "$@")
array=${array%%;*}
collect=$(sbatch --parsable --dependency=afterok:"$array" -o "${COLLECT_OUTPUT:-collect-%j.out}" \
  "$here/collect.sbatch" "$array")
collect=${collect%%;*}
echo "array $array collect $collect: ${CONSENSUS_RESULTS:-results}/$array/sweep.csv when every task has succeeded"
[ "${COLLECT_STUDY:-0}" != 1 ] || echo "and the study: ${CONSENSUS_RESULTS:-results}/$array/study/study.csv, fits.csv, study.png"
