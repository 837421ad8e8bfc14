# consensus: install what a fresh Debian 12 needs, build, and make ./consensus runnable by mpirun.
#
#   . ./setup.sh          (sourced: also sets up this shell so `mpirun -np 7 ./consensus byz` works)
#   bash setup.sh         (installs and builds only; used by .ci/run)
#
# Sourcing exports, for this shell only, what Open MPI needs on a small machine: permission to
# start more ranks than there are cores, and (only when you are root) permission to run as root.
# Written without `set -e` and without `exit`, so a failure never closes the shell it is sourced in.

consensus_setup() {
  local top packages missing sudo_cmd build_dir
  top=$(cd "$(dirname "${BASH_SOURCE[0]:-$0}")" && pwd) || return 1
  build_dir="$top/build"
  # 1. Debian packages: compiler, CMake, Open MPI, parallel HDF5, libsodium (SM's signatures), and Debian's Python modules.
  packages="build-essential cmake pkg-config libopenmpi-dev openmpi-bin libhdf5-openmpi-dev hdf5-tools libsodium-dev
            python3 python3-h5py python3-numpy python3-matplotlib python3-pandas graphviz python3-graphviz
            python3-networkx python3-scipy"
  missing=""
  for p in $packages; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
  done
  if [ -n "$missing" ]; then
    if [ "$(id -u)" -eq 0 ]; then sudo_cmd=""; else sudo_cmd="sudo"; fi
    echo "setup: installing$missing"
    $sudo_cmd apt-get update -qq || return 1
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends $missing >/dev/null || return 1
  fi
  # 2. Configure and build (warnings are errors: the code must stay clean).
  cmake -S "$top" -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCONSENSUS_WERROR=ON >/dev/null || return 1
  cmake --build "$build_dir" -j"$(nproc)" >/dev/null || { cmake --build "$build_dir"; return 1; }
  ln -sf build/consensus "$top/consensus" || return 1
  echo "setup: built $top/consensus"
}

if consensus_setup; then
  # 3. For this shell: more ranks than cores, and root if that is who we are.
  export OMPI_MCA_rmaps_base_oversubscribe=1
  if [ "$(id -u)" -eq 0 ]; then
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
  fi
  true
else
  echo "setup: failed (see the messages above)" >&2
  false
fi
