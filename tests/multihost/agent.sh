#!/usr/bin/env bash
# Open MPI's remote-launch agent (plm_rsh_agent) for the namespace hosts of hosts.sh: runs a
# command "on" HOST as ssh would, i.e. inside HOST's network namespace, in a UTS namespace of its
# own whose hostname is HOST.
#
#   agent.sh HOST WORD...     (Open MPI calls it like `ssh HOST WORD...`)
#
# The hosts share this machine's cores; each gets one core of its own, host k core (k-1) mod
# nproc (taskset), so that a host's ranks see how many cores they really have between them: two
# ranks on a host share one core and wait politely (mpienv_oversubscribed), instead of spinning
# as if each had a core while every host's ranks compete for the same two.
#
# Like ssh, it joins the words with spaces and gives them to the shell (Open MPI sends
# `PATH=...; export PATH; ... orted -mca ...` this way). Only hosts made by hosts.sh are accepted.
set -euo pipefail
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

[ $# -ge 2 ] || { echo "agent.sh: usage: agent.sh HOST COMMAND..." >&2; exit 255; }
host=$1
shift
case "$host" in
  csmh-h[0-9]) ;;
  *) echo "agent.sh: $host is not a multihost namespace host" >&2; exit 255 ;;
esac
[ -e "/run/netns/$host" ] || { echo "agent.sh: no network namespace $host" >&2; exit 255; }
k=${host#csmh-h}
cpu=$(( (k - 1) % $(nproc) ))
# ssh hands its remote command no terminal and this end's stdin; Open MPI's daemon needs neither.
exec taskset -c "$cpu" nsenter --net="/run/netns/$host" -- unshare --uts -- \
  /bin/sh -c 'hostname "$1" && exec /bin/sh -c "$2"' agent "$host" "$*" </dev/null
