# test_link.sh: how the programs are linked to CUDA and NCCL, where the build has them
# (a build without CUDA: nothing to check, it says so and exits 77, skipped).
#
# The CUDA back end is libmn_cuda.so, which libmn opens when a GPU is asked for
# (runtime/device/cuda_loader.c): libmn.so, mntrain and a test program need no CUDA library
# (a CPU-only program neither links nor loads one); libmn_cuda.so needs the shared libcudart
# (one CUDA runtime, no CUDA runtime function defined in it, as the static one would), has a
# RUNPATH naming the directories where libcudart and libnccl are found (a node without an
# ldconfig entry or LD_LIBRARY_PATH for them still runs), finds every library it needs and
# exports nothing but its entry point. And mntrain, asked for a GPU, opens it: its answer
# is the back end's (no driver here), not the loader's. Runs without a GPU.
. "$MN_SRC/tests/lib.sh"

if [ "${MN_HAVE_CUDA:-OFF}" != ON ]; then # from CMake: whether this build has the CUDA back end
  echo "SKIP: a build without CUDA: nothing to check"
  exit 77
fi
lib="$MN_BIN/../lib/libmn.so"
backend="$MN_BIN/../lib/libmn_cuda.so"

for p in "$MN_BIN/mntrain" "$MN_BIN/test_comm" "$lib" "$backend"; do
  name=$(basename "$p")
  if nm "$p" 2>/dev/null | grep -qE ' T (cudaMalloc|cudaGetDeviceCount)$'; then
    fail "$name: defines the CUDA runtime itself (static cudart linked in)"
  else
    pass "$name: no static CUDA runtime inside"
  fi
  missing=$(ldd "$p" | grep 'not found')
  [ -z "$missing" ] && pass "$name: every library found" || fail "$name: $missing"
  cuda=$(ldd "$p" | grep -oE '(libcuda|libcudart|libcublas|libnccl)[^ ]*' | tr '\n' ' ')
  if [ "$p" != "$backend" ]; then
    [ -z "$cuda" ] && pass "$name: no CUDA library" || fail "$name: loads $cuda"
  fi
done

readelf -d "$backend" | grep -q 'NEEDED.*libcudart\.so' && pass "libmn_cuda.so needs the shared libcudart" ||
  fail "libmn_cuda.so does not need the shared libcudart"
runpath=$(readelf -d "$backend" | sed -n 's/.*(RUNPATH).*\[\(.*\)\]/\1/p')
dirs=$(tr ':' '\n' <<<"$runpath" | while read -r d; do [ -n "$d" ] && realpath -m "$d"; done)
for dep in libcudart libnccl; do
  at=$(ldd "$backend" | awk -v l="$dep" 'index($1, l) == 1 { print $3 }')
  [ -z "$at" ] && continue # (no NCCL in this build)
  dir=$(realpath -m "$(dirname "$at")")
  if grep -qxF "$dir" <<<"$dirs"; then
    pass "libmn_cuda.so: RUNPATH has $dep's directory ($dir)"
  else
    fail "libmn_cuda.so: RUNPATH '$runpath' lacks $dep's directory $dir"
  fi
done
exported=$(nm -D --defined-only "$backend" | awk '$2 ~ /^[TDBR]$/ && $3 !~ /^_/ { print $3 }' | tr '\n' ' ')
[ "$exported" = "mn_cuda_backend " ] && pass "libmn_cuda.so exports only mn_cuda_backend" ||
  fail "libmn_cuda.so exports: $exported"

# mntrain asked for a GPU: the back end answers (from beside libmn), not the loader
small_run 40 0 1
expect_exit 69 "mntrain --set compute.device=gpu (no GPU here)" "$MN_BIN/mntrain" \
  --set compute.device=gpu --set log.level=debug "$MN_TMP/t.conf"
expect_err "CUDA back end: .*/libmn_cuda\.so" "it opened libmn_cuda.so"
grep -q "cannot be loaded" "$MN_TMP/err" && fail "the loader's answer: $(grep 'cannot be loaded' "$MN_TMP/err")"
# and one that cannot be opened is named, with the reason
expect_exit 69 "the same with MN_CUDA_LIBRARY=/nonexistent" env MN_CUDA_LIBRARY=/nonexistent/libmn_cuda.so \
  "$MN_BIN/mntrain" --set compute.device=gpu "$MN_TMP/t.conf"
expect_err "CUDA back end \(libmn_cuda\.so\) cannot be loaded: /nonexistent/libmn_cuda\.so" \
  "it says why the back end is not there"

finish
