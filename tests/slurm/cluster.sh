#!/usr/bin/env bash
# A throw-away SLURM cluster on this one machine (munged + slurmctld + slurmd), for tests.
#
#   tests/slurm/cluster.sh start DIR [OWNER_PID]   install if missing, configure, start, wait for an idle node
#   tests/slurm/cluster.sh stop DIR                cancel its jobs, stop the daemons it started (by PID)
#   tests/slurm/cluster.sh status DIR              print the node and the queue
#   eval "$(tests/slurm/cluster.sh env DIR)"       point sbatch/squeue/scontrol at it (SLURM_CONF)
#
# Everything lives under DIR (config, munge key and socket, state, spool, logs, PID files), so the
# machine's own /etc/slurm and /etc/munge are never touched. Needs root (the daemons run as root and
# munged as the munge user). Exit status of start: 0 up, 3 not possible here (not root, no apt),
# 1 failed (the logs under DIR/log say why). If OWNER_PID is given, a watchdog stops the cluster
# when that process is gone, so even a test killed with SIGKILL leaves no daemons behind.
#
# Facts this relies on (SLURM 22.05, Debian 12, no systemd): the daemons fork and write PID files;
# proctrack/linuxproc and task/none need no cgroups; a node declared with more CPUs than the
# machine has needs SlurmdParameters=config_overrides (else it drains with "Low CPUs");
# batch_sched_delay=0 starts batch jobs at once instead of ~3 s later.
set -uo pipefail
# The daemons (munged, slurmctld, slurmd) and runuser live in the sbin directories, which a
# non-login or scrubbed environment may leave off PATH.
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

PACKAGES="slurmctld slurmd slurm-client munge"
NODE=$(hostname -s)
CPUS=8
KILL_WAIT=5
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

die() { echo "cluster: $*" >&2; exit 1; }
cannot() { echo "cluster: SKIP: $*" >&2; exit 3; }

# 1. The Debian packages, installed only if missing (apt-get update first if apt does not know them).
install_packages() {
  local missing="" p
  for p in $PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
  done
  [ -z "$missing" ] && return 0
  command -v apt-get >/dev/null || cannot "SLURM is not installed and there is no apt-get"
  echo "cluster: installing$missing"
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-cache policy $missing 2>/dev/null | grep -q "Candidate: [0-9]"; then
    apt-get update -qq </dev/null >/dev/null || die "apt-get update failed"
  fi
  apt-get install -y -qq --no-install-recommends $missing </dev/null >"$DIR/log/apt.log" 2>&1 \
    || { cat "$DIR/log/apt.log" >&2; die "apt-get install$missing failed"; }
}

free_port() {
  /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Records the PID of a daemon we started, read from the PID file it writes when it forks.
record_pid() {  # NAME PIDFILE
  local i
  for i in $(seq 1 100); do
    if [ -s "$2" ] && kill -0 "$(cat "$2")" 2>/dev/null; then
      cp "$2" "$DIR/pids/$1"; return 0
    fi
    sleep 0.1
  done
  return 1
}

write_config() {
  local host ctld_port slurmd_port
  host=$(hostname -s)
  ctld_port=$(free_port); slurmd_port=$(free_port)
  while [ "$slurmd_port" = "$ctld_port" ]; do slurmd_port=$(free_port); done
  cat >"$DIR/slurm.conf" <<CONF
# Written by tests/slurm/cluster.sh: a one-node cluster for tests, everything under $DIR.
ClusterName=consensus-test
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
AuthType=auth/munge
AuthInfo=socket=$DIR/munge/munge.socket
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/run/slurmctld.pid
SlurmdPidFile=$DIR/run/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=pmix
SchedulerParameters=batch_sched_delay=0
SlurmdParameters=config_overrides
KillWait=$KILL_WAIT
ReturnToService=2
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
InactiveLimit=0
MinJobAge=600
NodeName=$NODE NodeHostname=$host NodeAddr=127.0.0.1 CPUs=$CPUS State=UNKNOWN
PartitionName=debug Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
CONF
}

node_state() { SLURM_CONF="$DIR/slurm.conf" sinfo -h -n "$NODE" -o %T 2>/dev/null | head -1; }

start() {
  [ "$(id -u)" -eq 0 ] || cannot "a SLURM cluster needs root (run as root, or skip: ctest -LE slurm)"
  [ -e "$DIR/pids" ] && die "$DIR already holds a cluster (stop it first)"
  mkdir -p "$DIR" && chmod 0755 "$DIR" || die "cannot create $DIR"
  mkdir -p "$DIR/log" "$DIR/run" "$DIR/state" "$DIR/spool" "$DIR/pids" "$DIR/munge" || die "cannot create $DIR/*"
  trap 'stop >/dev/null 2>&1' EXIT   # a failed start leaves nothing running
  install_packages
  # 2. munge with its own key and socket, run as the munge user (no systemd here).
  id munge >/dev/null 2>&1 || die "the munge package created no munge user"
  dd if=/dev/urandom of="$DIR/munge/munge.key" bs=1024 count=1 status=none || die "cannot write a munge key"
  chown -R munge:munge "$DIR/munge" && chmod 0700 "$DIR/munge" && chmod 0400 "$DIR/munge/munge.key"
  chmod 0755 "$DIR/munge"   # clients (slurmctld, slurmd, sbatch) must reach the socket
  write_config
  export SLURM_CONF="$DIR/slurm.conf" CONSENSUS_SLURM_DIR="$DIR"
  runuser -u munge -- /usr/sbin/munged --socket="$DIR/munge/munge.socket" --key-file="$DIR/munge/munge.key" \
    --pid-file="$DIR/munge/munged.pid" --log-file="$DIR/munge/munged.log" --seed-file="$DIR/munge/munged.seed" \
    </dev/null >"$DIR/log/munged.out" 2>&1 || { cat "$DIR/log/munged.out" "$DIR/munge/munged.log" >&2 2>/dev/null; die "munged did not start"; }
  record_pid munged "$DIR/munge/munged.pid" || die "munged wrote no PID file"
  # 3. The controller, then the node daemon; both fork and write their PID files.
  /usr/sbin/slurmctld -f "$SLURM_CONF" </dev/null >"$DIR/log/slurmctld.out" 2>&1 || die "slurmctld did not start (see $DIR/log)"
  record_pid slurmctld "$DIR/run/slurmctld.pid" || { tail "$DIR/log/slurmctld.log" >&2; die "slurmctld did not stay up"; }
  /usr/sbin/slurmd -f "$SLURM_CONF" -N "$NODE" </dev/null >"$DIR/log/slurmd.out" 2>&1 || die "slurmd did not start (see $DIR/log)"
  record_pid slurmd "$DIR/run/slurmd.pid" || { tail "$DIR/log/slurmd.log" >&2; die "slurmd did not stay up"; }
  # 4. A watchdog that tears down when the owner is gone.
  if [ -n "${OWNER:-}" ]; then
    setsid "$HERE/cluster.sh" watch "$DIR" "$OWNER" </dev/null >>"$DIR/log/watchdog.log" 2>&1 &
    echo $! >"$DIR/pids/watchdog"
  fi
  # 5. Wait until the node is idle (it registers within a second or two).
  local i state=""
  for i in $(seq 1 300); do
    state=$(node_state)
    case "$state" in idle) trap - EXIT; echo "cluster: up in $DIR (node $NODE idle)"; return 0 ;; esac
    sleep 0.1
  done
  tail -5 "$DIR/log/slurmctld.log" "$DIR/log/slurmd.log" >&2
  die "node $NODE is '$state', not idle, after 30 s"
}

# Is PID still the daemon NAME we started (and not a recycled PID)?
is_ours() {  # NAME PID
  local comm
  comm=$(cat "/proc/$2/comm" 2>/dev/null) || return 1
  case "$1" in
    watchdog) [ "$comm" = cluster.sh ] || [ "$comm" = bash ] ;;
    *) [ "$comm" = "$1" ] ;;
  esac
}

stop_pid() {  # NAME: SIGTERM, up to 10 s, then SIGKILL
  local f="$DIR/pids/$1" pid i
  [ -s "$f" ] || return 0
  pid=$(cat "$f")
  if is_ours "$1" "$pid"; then
    kill -TERM "$pid" 2>/dev/null
    for i in $(seq 1 100); do is_ours "$1" "$pid" || break; sleep 0.1; done
    is_ours "$1" "$pid" && { echo "cluster: $1 ($pid) ignored SIGTERM, killing it" >&2; kill -KILL "$pid" 2>/dev/null; }
  fi
  rm -f "$f"
}

stop() {
  [ -d "$DIR/pids" ] || return 0
  export SLURM_CONF="$DIR/slurm.conf"
  local i jobs pid
  # 1. Cancel what still runs, so no job step outlives its slurmd, and wait for the queue to drain.
  if [ -s "$DIR/pids/slurmctld" ] && is_ours slurmctld "$(cat "$DIR/pids/slurmctld")"; then
    jobs=$(squeue -h -o %A 2>/dev/null | tr '\n' ' ')
    if [ -n "${jobs// /}" ]; then
      scancel $jobs 2>/dev/null
      for i in $(seq 1 $(( (KILL_WAIT + 10) * 10 ))); do
        [ -z "$(squeue -h -o %A 2>/dev/null)" ] && break; sleep 0.1
      done
    fi
  fi
  # 2. The daemons, in reverse order of starting; the watchdog last (unless it is the one stopping).
  stop_pid slurmd; stop_pid slurmctld; stop_pid munged
  if [ "${WATCHDOG_SELF:-0}" = 1 ]; then rm -f "$DIR/pids/watchdog"; else stop_pid watchdog; fi
  # 3. Job step daemons (slurmstepd) started by our slurmd inherit CONSENSUS_SLURM_DIR=DIR.
  for pid in $(cd /proc && ls -d [0-9]* 2>/dev/null); do   # no pgrep: procps may be missing
    [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = slurmstepd ] || continue
    if tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | grep -qx "CONSENSUS_SLURM_DIR=$DIR"; then
      echo "cluster: killing leftover slurmstepd $pid" >&2; kill -KILL "$pid" 2>/dev/null
    fi
  done
  rmdir "$DIR/pids" 2>/dev/null
  echo "cluster: stopped ($DIR)"
}

watch() {
  while kill -0 "$OWNER" 2>/dev/null; do sleep 1; done
  echo "cluster: owner $OWNER is gone, stopping"
  WATCHDOG_SELF=1 stop
}

status() {
  export SLURM_CONF="$DIR/slurm.conf"
  local n
  for n in munged slurmctld slurmd watchdog; do
    if [ -s "$DIR/pids/$n" ] && is_ours "$n" "$(cat "$DIR/pids/$n")"; then echo "$n: running ($(cat "$DIR/pids/$n"))"
    else echo "$n: not running"; fi
  done
  sinfo -N 2>/dev/null; squeue 2>/dev/null
}

[ $# -ge 2 ] || { sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
CMD=$1
DIR=$(realpath -m "$2")
OWNER=${3:-}
case "$CMD" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  watch) watch ;;
  env) echo "export SLURM_CONF=$DIR/slurm.conf" ;;
  *) echo "cluster: unknown command '$CMD' (start, stop, status, env)" >&2; exit 2 ;;
esac
