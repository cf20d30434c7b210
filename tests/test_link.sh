# test_link.sh: how the programs are linked to CUDA and NCCL, where the build has them
# (a build without CUDA: nothing to check, it says so and exits 77, skipped).
#
# Checked on mntrain and a test program (linked by the CUDA linker): one CUDA
# runtime, the shared libcudart (NEEDED, and no CUDA runtime function defined in the
# program itself, as the static one would); a RUNPATH naming the directories where
# libcudart and libnccl are found, so that a node without an ldconfig entry or
# LD_LIBRARY_PATH for them still runs the programs. Runs without a GPU.
. "$MN_SRC/tests/lib.sh"

progs=("$MN_BIN/mntrain" "$MN_BIN/test_comm")
if [ "${MN_HAVE_CUDA:-OFF}" != ON ]; then # from CMake: whether this build has the CUDA back end
  echo "SKIP: a build without CUDA: nothing to check"
  exit 77
fi

for p in "${progs[@]}"; do
  name=$(basename "$p")
  if nm "$p" 2>/dev/null | grep -qE ' T (cudaMalloc|cudaGetDeviceCount)$'; then
    fail "$name: defines the CUDA runtime itself (static cudart linked in)"
  else
    pass "$name: no static CUDA runtime inside"
  fi
  readelf -d "$p" | grep -q 'NEEDED.*libcudart\.so' && pass "$name: needs the shared libcudart" ||
    fail "$name: does not need the shared libcudart"
  runpath=$(readelf -d "$p" | sed -n 's/.*(RUNPATH).*\[\(.*\)\]/\1/p')
  dirs=$(tr ':' '\n' <<<"$runpath" | while read -r d; do [ -n "$d" ] && realpath -m "$d"; done)
  for lib in libcudart libnccl; do
    at=$(ldd "$p" | awk -v l="$lib" 'index($1, l) == 1 { print $3 }')
    [ -z "$at" ] && continue # (no NCCL in this build)
    dir=$(realpath -m "$(dirname "$at")")
    if grep -qxF "$dir" <<<"$dirs"; then
      pass "$name: RUNPATH has $lib's directory ($dir)"
    else
      fail "$name: RUNPATH '$runpath' lacks $lib's directory $dir"
    fi
  done
done

finish
