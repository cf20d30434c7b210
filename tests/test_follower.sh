# test_follower.sh: when one rank fails, the others say they stopped with it, and nothing
# left over from compute.device = auto's GPU probe becomes anyone's reason.
#
# Two ranks under mnrun at compute.device = auto (on a machine without a usable GPU the
# probe fails and both compute on the CPU; in a build with CUDA that probe leaves a CUDA
# error behind, "CUDA driver version is insufficient ..."). Rank 0 alone then fails: its
# snapshot.dir is a regular file. Checked: exit 74 with rank 0's own reason; rank 1 is
# reported as having stopped with rank 0, in mnrun's summary and in its own report; no
# CUDA text anywhere in what mnrun prints. On a machine with a usable GPU the probe
# succeeds and the test still holds.
. "$MN_SRC/tests/lib.sh"

"$MN_BIN/mnprep" teacher --out "$MN_TMP/t" --samples 1024 --val 0 --dim 16 --classes 4 \
  --seed 3 >/dev/null || { echo "FAIL: mnprep teacher" >&2; exit 1; }
: >"$MN_TMP/afile"
cat >"$MN_TMP/t.conf" <<CONF
[model]
layers = 16,32,4
[data]
train = $MN_TMP/t-train.h5
batch_size = 32
[schedule]
epochs = 1
[snapshot]
dir = $MN_TMP/afile/snapshots
CONF

expect_exit 74 "rank 0 cannot use its snapshot.dir" "$MN_BIN/mnrun" -np 2 "$MN_TMP/t.conf" \
  --set compute.device=auto
expect_err "rank 0 on host .* failed \(exit 74.*Not a directory" "rank 0 says why"
expect_err "1 other rank stopped with" "rank 1 is reported as a follower"
# (case-sensitive: the scratch path may hold "cuda" in the name of a build directory)
cuda_text="CUDA|NVIDIA|cuda[A-Z]|driver version"
if grep -qE "$cuda_text" "$MN_TMP/err"; then
  fail "a CUDA text in the failure's report: $(grep -E "$cuda_text" "$MN_TMP/err" | head -n 2)"
else
  pass "no CUDA text in mnrun's report"
fi

# mntrain under mpirun directly (no mnrun, no report directory): rank 1's own last error
# line, if any, must not be the probe's either
expect_exit 74 "the same under mpirun" mpirun -np 2 --oversubscribe "$MN_BIN/mntrain" \
  "$MN_TMP/t.conf" --set compute.device=auto
if grep -qE "$cuda_text" "$MN_TMP/err"; then
  fail "a CUDA text under mpirun: $(grep -E "$cuda_text" "$MN_TMP/err" | head -n 2)"
else
  pass "no CUDA text under mpirun"
fi

finish
