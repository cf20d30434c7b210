# test_link.sh: how the programs are linked to CUDA and NCCL, where the build has them
# (a build without CUDA: nothing to check, it says so and exits 77, skipped).
#
# Checked on mntrain, a test program and libmn.so, which links CUDA for them: one CUDA
# runtime, the shared libcudart (NEEDED by libmn.so, loaded by the programs through it, and
# no CUDA runtime function defined in any of them, as the static one would); a RUNPATH, in
# whichever of them needs libcudart or libnccl, naming the directory where it is found, so
# that a node without an ldconfig entry or LD_LIBRARY_PATH for them still runs the
# programs. Runs without a GPU.
. "$MN_SRC/tests/lib.sh"

lib="$MN_BIN/../lib/libmn.so"
progs=("$MN_BIN/mntrain" "$MN_BIN/test_comm" "$lib")
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
  if [ "$p" = "$lib" ]; then
    readelf -d "$p" | grep -q 'NEEDED.*libcudart\.so' && pass "$name: needs the shared libcudart" ||
      fail "$name: does not need the shared libcudart"
  else
    n=$(ldd "$p" | grep -c 'libcudart\.so.* => /')
    [ "$n" -eq 1 ] && pass "$name: loads one shared libcudart" ||
      fail "$name: loads $n shared libcudart (ldd: $(ldd "$p" | grep libcudart))"
  fi
  runpath=$(readelf -d "$p" | sed -n 's/.*(RUNPATH).*\[\(.*\)\]/\1/p')
  dirs=$(tr ':' '\n' <<<"$runpath" | while read -r d; do [ -n "$d" ] && realpath -m "$d"; done)
  missing=$(ldd "$p" | grep 'not found')
  [ -z "$missing" ] && pass "$name: every library found" || fail "$name: $missing"
  for dep in libcudart libnccl; do
    # (the RUNPATH of the object that needs it is the one the loader reads)
    readelf -d "$p" | grep -q "NEEDED.*\\[$dep\\.so" || continue
    at=$(ldd "$p" | awk -v l="$dep" 'index($1, l) == 1 { print $3 }')
    [ -z "$at" ] && continue # (no NCCL in this build)
    dir=$(realpath -m "$(dirname "$at")")
    if grep -qxF "$dir" <<<"$dirs"; then
      pass "$name: RUNPATH has $dep's directory ($dir)"
    else
      fail "$name: RUNPATH '$runpath' lacks $dep's directory $dir"
    fi
  done
done

finish
