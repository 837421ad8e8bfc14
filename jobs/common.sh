# Shared by the batch scripts in jobs/: find the program, make results/<job id>/, launch the ranks.
#
# A batch script sources this file and calls consensus_launch NP ARGS... as its last command.
# Variables (all optional, passed through by sbatch from the submitting shell):
#   CONSENSUS_LAUNCHER  how the ranks are started, as a command that takes "-n NP PROGRAM ARGS":
#                       "srun --mpi=pmix" (default: Debian's Open MPI talks PMIx only; pmi2 and
#                       none fail in MPI_Init) or "mpirun" (Open MPI's own launcher, which reads
#                       the allocation). `srun --mpi=list` shows what a cluster's SLURM offers.
#   CONSENSUS_HOME      the repository (default: the directory sbatch was run from)
#   CONSENSUS_BIN       the program (default: $CONSENSUS_HOME/build/consensus, else consensus on PATH)
#   CONSENSUS_RESULTS   where results/<job id>/ goes (default: $SLURM_SUBMIT_DIR/results)
# The launcher is exec'ed, so the ranks stay in the job's process tree: SLURM tracks them, signals
# them (SIGTERM, then SIGKILL after KillWait) and never lets them outlive the job.

consensus_fail() { echo "consensus job: $*" >&2; exit 2; }

[ -n "${SLURM_JOB_ID:-}" ] || consensus_fail "not inside a SLURM job: submit with sbatch (see the header of the script)"
CONSENSUS_HOME=${CONSENSUS_HOME:-$SLURM_SUBMIT_DIR}
CONSENSUS_LAUNCHER=${CONSENSUS_LAUNCHER:-srun --mpi=pmix}
if [ -z "${CONSENSUS_BIN:-}" ]; then
  if [ -x "$CONSENSUS_HOME/build/consensus" ]; then CONSENSUS_BIN=$CONSENSUS_HOME/build/consensus
  else CONSENSUS_BIN=$(command -v consensus) || consensus_fail "no program: build it (. ./setup.sh) or set CONSENSUS_BIN"
  fi
fi
[ -x "$CONSENSUS_BIN" ] || consensus_fail "$CONSENSUS_BIN is not an executable program (set CONSENSUS_BIN)"
# An array's tasks share one directory, named after the array's job id.
CONSENSUS_JOB=${SLURM_ARRAY_JOB_ID:-$SLURM_JOB_ID}
CONSENSUS_OUT=${CONSENSUS_RESULTS:-$SLURM_SUBMIT_DIR/results}/$CONSENSUS_JOB
mkdir -p "$CONSENSUS_OUT" || consensus_fail "cannot create $CONSENSUS_OUT"

# consensus_launch NP ARGS...: replaces the batch shell with LAUNCHER -n NP consensus ARGS.
consensus_launch() {
  local np=$1 launcher
  shift
  read -r -a launcher <<<"$CONSENSUS_LAUNCHER"
  [ "$np" -le "${SLURM_NTASKS:-$np}" ] || consensus_fail "$np ranks do not fit in this job's $SLURM_NTASKS tasks (sbatch -n $np)"
  case "${launcher[0]##*/}" in
    mpirun|mpiexec|orterun)
      # Open MPI's mpirun refuses to run as root unless told; ranks started by srun are not
      # checked (measured with SLURM 22.05 and Open MPI 4.1.4), so srun needs nothing here.
      if [ "$(id -u)" -eq 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
      # When SLURM ends the job, mpirun gets SIGTERM with its ranks and kills them with SIGKILL
      # odls_base_sigkill_timeout seconds later: 1 s by default, measured too soon for a rank to
      # write its file. 10 s gives them the time (SLURM's own SIGKILL comes after KillWait, 30 s
      # by default). The price: when a rank fails (exit status != 0), mpirun waits about twice
      # this long before it gives up (measured: 1 s -> 1.4 s, 5 s -> 9.4 s), so keep it modest.
      export OMPI_MCA_odls_base_sigkill_timeout=${OMPI_MCA_odls_base_sigkill_timeout:-10}
      ;;
  esac
  echo "consensus job $SLURM_JOB_ID${SLURM_ARRAY_TASK_ID:+ (array $CONSENSUS_JOB task $SLURM_ARRAY_TASK_ID)} on $(hostname -s): ${launcher[*]} -n $np $CONSENSUS_BIN $*"
  exec "${launcher[@]}" -n "$np" "$CONSENSUS_BIN" "$@"
}
