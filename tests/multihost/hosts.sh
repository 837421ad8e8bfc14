#!/usr/bin/env bash
# Runs one command while K "hosts" (Linux network + UTS namespaces on a private bridge) are up and
# Open MPI is pointed at them over TCP, then removes every namespace, link and process it made.
#
#   tests/multihost/hosts.sh K COMMAND [ARGS...]
#
# Each host csmh-h1 … csmh-hK is a network namespace with its own veth (`mh0`, 198.51.100.1k/24)
# on the bridge csmh-br (198.51.100.1/24 in this namespace, where mpirun runs). No host has a
# default route and nothing forwards from the bridge, so no packet can leave the machine. Each
# Open MPI daemon starts in a UTS namespace of its own named like its host (agent.sh), so
# gethostname() differs per host. The file system is shared: that is the point (one shared FS).
#
# COMMAND runs with these set (and exits with its status):
#   MULTIHOST_HOSTS      the host names, space-separated (also the namespace names)
#   MULTIHOST_HOSTFILE   an Open MPI hostfile, `HOST slots=MULTIHOST_SLOTS` per host (default 1: one core each, see agent.sh)
#   MULTIHOST_DIR        a private directory, removed afterwards
#   OMPI_MCA_*           the launch agent and TCP settings below (README "Running across machines")
#
# Why 198.51.100.0/24 (TEST-NET-2) and not 192.0.2.0/24: this machine's own eth0 is on 192.0.2.0/24.
# Any range already routed here is refused, so the bridge never shadows a real network.
#
# Exit status: COMMAND's; 77 if this cannot run here (not root, no namespaces), with the reason.
# Runs are serialised by a lock (/run/lock/consensus-multihost.lock). SIGINT, SIGTERM, SIGHUP,
# a failing COMMAND and a failure here all end in one teardown (trap on EXIT). Only SIGKILL skips
# it; what such a run left (our names only) is removed under the lock by the next run.
set -euo pipefail
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PREFIX=csmh
BRIDGE=$PREFIX-br
NET=198.51.100
LOCK=/run/lock/consensus-multihost.lock
# the process group of the running COMMAND and its start time, for the next run if this one is
# killed with SIGKILL (an mpirun whose daemons are all gone waits for them for ever)
GROUP_FILE=/run/lock/consensus-multihost.group

skip() { echo "multihost: SKIP: $*" >&2; exit 77; }
die() { echo "multihost: $*" >&2; exit 1; }

[ $# -ge 2 ] || die "usage: hosts.sh K COMMAND [ARGS...]"
K=$1
shift
[[ "$K" =~ ^[1-9]$ ]] || die "K must be 1..9, not '$K'"
[ "$(id -u)" -eq 0 ] || skip "needs root (network namespaces, veth and a bridge); run as root"
for tool in ip nsenter unshare taskset flock hostname; do
  command -v "$tool" >/dev/null || skip "$tool is missing (Debian: iproute2, util-linux)"
done

HOSTS=""
for k in $(seq 1 "$K"); do HOSTS="$HOSTS $PREFIX-h$k"; done
HOSTS=${HOSTS# }
DIR=""
CHILD=""

start_time() {  # PID: the kernel's start time of PID (pids are reused), or nothing
  [ -r "/proc/$1/stat" ] && sed 's/.*) //' "/proc/$1/stat" | cut -d' ' -f20
}

# Every namespace, link and process of ours: by name, by namespace membership, and the process
# group recorded in GROUP_FILE if that process still is the one recorded. Safe to call more than
# once and on a half-built set.
teardown() {
  local ns pids i group started
  if [ -s "$GROUP_FILE" ]; then
    read -r group started <"$GROUP_FILE" || true
    if [ -n "$group" ] && [ "$(start_time "$group" || true)" = "$started" ]; then
      kill -KILL -- "-$group" 2>/dev/null || true
    fi
    rm -f "$GROUP_FILE"
  fi
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$PREFIX-h[0-9]$" || true); do
    # the processes in our namespaces are ours (daemons and ranks Open MPI started there)
    for i in $(seq 1 50); do
      pids=$(ip netns pids "$ns" 2>/dev/null || true)
      [ -z "$pids" ] && break
      kill -KILL $pids 2>/dev/null || true
      sleep 0.1
    done
    [ -z "$(ip netns pids "$ns" 2>/dev/null || true)" ] || echo "multihost: processes left in $ns: $pids" >&2
    ip netns del "$ns" 2>/dev/null || true
  done
  for i in $(seq 1 9); do
    ip link del "$PREFIX-v$i" 2>/dev/null || true
  done
  ip link del "$BRIDGE" 2>/dev/null || true
}

on_exit() {
  local rc=$?
  trap - EXIT INT TERM HUP
  if [ -n "$CHILD" ] && kill -0 -- "-$CHILD" 2>/dev/null; then
    # COMMAND runs in a process group of its own (setsid): stop what is left of that group (all
    # it started, e.g. an mpirun it left running when it failed), politely first
    kill -TERM -- "-$CHILD" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 -- "-$CHILD" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$CHILD" 2>/dev/null || true
  fi
  teardown
  [ -n "$DIR" ] && rm -rf "$DIR"
  exit "$rc"
}
on_signal() {
  echo "multihost: interrupted by SIG$1; removing the hosts" >&2
  exit $((128 + $2))
}

# 1. One set of hosts at a time on this machine; what a killed run left is removed first.
mkdir -p "$(dirname "$LOCK")"
exec 9>"$LOCK"
flock -w 1800 9 || die "another multihost run held $LOCK for 30 minutes"
trap on_exit EXIT
trap 'on_signal INT 2' INT
trap 'on_signal TERM 15' TERM
trap 'on_signal HUP 1' HUP
teardown

# 2. The bridge, in this namespace (mpirun's daemon listens here), on a range nothing else uses.
if ip -4 route show | grep -q "^$NET\.0/24\|^$NET\.\|via $NET\." || ip -4 addr show | grep -q "inet $NET\."; then
  die "$NET.0/24 is already in use on this machine (ip route); refusing to shadow it"
fi
ip netns add "$PREFIX-probe" 2>/dev/null || skip "cannot create a network namespace: $(ip netns add "$PREFIX-probe" 2>&1)"
ip netns del "$PREFIX-probe"
ip link add "$BRIDGE" type bridge
ip addr add "$NET.1/24" dev "$BRIDGE"
ip link set "$BRIDGE" up

# 3. The hosts: a namespace each, a veth pair into the bridge, an address, no default route.
k=0
for host in $HOSTS; do
  k=$((k + 1))
  ip netns add "$host"
  ip link add "$PREFIX-v$k" type veth peer name mh0 netns "$host"
  ip link set "$PREFIX-v$k" master "$BRIDGE" up
  ip -n "$host" addr add "$NET.$((10 + k))/24" dev mh0
  ip -n "$host" link set lo up
  ip -n "$host" link set mh0 up
done
# the bridge forwards nothing out: no host has a route beyond 198.51.100.0/24
for host in $HOSTS; do
  ! ip -n "$host" route show | grep -q default || die "$host has a default route"
done

# 4. The hostfile and Open MPI's settings (README "Running across machines" says why each).
DIR=$(mktemp -d /tmp/consensus-multihost.XXXXXX)
: >"$DIR/hostfile"
for host in $HOSTS; do echo "$host slots=${MULTIHOST_SLOTS:-1}" >>"$DIR/hostfile"; done
export MULTIHOST_HOSTS="$HOSTS" MULTIHOST_HOSTFILE="$DIR/hostfile" MULTIHOST_DIR="$DIR"
export OMPI_MCA_plm_rsh_agent="$HERE/agent.sh"
export OMPI_MCA_plm_rsh_no_tree_spawn=1
export OMPI_MCA_btl=tcp,self
export OMPI_MCA_btl_tcp_if_include="$NET.0/24"
export OMPI_MCA_oob_tcp_if_include="$NET.0/24"
# The hosts share this machine's cores, which Open MPI cannot see: without this a rank waiting in
# a collective busy-polls and starves the peer it waits for (6-rank byz: 21-23 s instead of 1 s).
export OMPI_MCA_mpi_yield_when_idle=1

# 5. The command, in its own process group so that an interrupt stops all of it, without the
# lock (a process it leaves behind must not hold up the next run).
setsid "$@" 9>&- &
CHILD=$!
echo "$CHILD $(start_time "$CHILD")" >"$GROUP_FILE"
set +e
wait "$CHILD"
rc=$?
set -e
exit "$rc"
