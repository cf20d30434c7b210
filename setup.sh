#!/usr/bin/env bash
# setup.sh: install the Debian packages mn builds against (only those missing), then
# configure and build into build/. Works as root or through sudo. Idempotent: a second run
# installs nothing and rebuilds only what changed.
#
#   ./setup.sh                 install what is missing, configure, build
#   MN_WERROR=1 ./setup.sh     the same with -Werror (what CI uses)
#   MN_BUILD_TYPE=Debug ./setup.sh
set -euo pipefail
cd "$(dirname "$0")"

pkgs=(
  pkg-config cmake make gcc
  openmpi-bin libopenmpi-dev        # mpirun and MPI for the ranks
  libhdf5-dev hdf5-tools            # datasets and snapshots; h5dump/h5diff for checks
  libopenblas-dev                   # CBLAS GEMMs of the CPU backend
  libinih-dev                       # train.conf parsing
  libcjson-dev                      # JSON headers of safetensors files (export, import)
  zlib1g-dev                        # CRC-32 of snapshot tensors; mnprep reads .csv.gz
  libcsv-dev                        # mnprep csv: RFC 4180 quoting and delimiters
  libzip-dev                        # mnprep npy: .npz archives
  libhwloc-dev libibverbs-dev       # topology (launcher)
  slurm-wlm munge                   # srun engine; tests/test_slurm.sh runs a real Slurm
  iproute2                          # tests/test_netns.sh: network namespaces as nodes
  gnuplot-nox                       # mnbench's plot (without it: table and JSON only)
  python3                           # tests: readers of mn's outputs written from their specs
)

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "setup: not root and no sudo; install: ${missing[*]}" >&2; exit 1; }
    sudo=(sudo)
  fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

cmake -S . -B build -DCMAKE_BUILD_TYPE="${MN_BUILD_TYPE:-Release}" \
  -DMN_WERROR="${MN_WERROR:-OFF}" >/dev/null
cmake --build build -j "$(nproc)"
