# test_nonfinite.sh: a NaN or an Inf stops the run with exit 65 (docs/exit-codes.md) at the
# step where it appears, on every rank, and never reaches a snapshot.
#
# Divergence (optimizer.lr = 100), at world 1 and 2: exit 65 naming the step; the snapshots
# written before it stay (none pruned by a bad one), all valid, all finite (mninfo's norms),
# none past the step named (a snapshot at step S holds the state before step S). The same
# with optimizer.nonfinite = skip once the skips in a row run out. A NaN feature in the
# training file: exit 65 naming the file, the row and the feature (the loader checks every
# batch it reads).
. "$MN_SRC/tests/lib.sh"
T=$MN_TMP
small_run 2000 200 3
cat >>"$T/t.conf" <<CONF
[snapshot]
every_steps = 2
keep = 3
[log]
progress = off
CONF

for np in 1 2; do
  snaps="$T/snap$np"
  expect_exit 65 "lr=100 diverges at np $np" "$MN_BIN/mnrun" -np "$np" "$T/t.conf" \
    --set optimizer.lr=100 --set snapshot.dir="$snaps" --metrics "$T/m$np.jsonl"
  expect_err "step [0-9]+: the (loss is NaN or infinite|summed gradient holds)" \
    "np $np: the message names the step"
  bad=$(grep -oE "step [0-9]+: the" "$T/err" | head -n 1 | grep -oE "[0-9]+")
  [ "$(json_field "$T/m$np.jsonl" summary status)" = "non-finite values" ] ||
    fail "np $np: summary status is not 'non-finite values'"
  n=0
  for f in "$snaps"/*.h5; do
    [ -e "$f" ] || continue
    n=$((n + 1))
    "$MN_BIN/mninfo" --verify "$f" >/dev/null || fail "np $np: $f is not valid"
    "$MN_BIN/mninfo" "$f" >"$T/info" || fail "np $np: mninfo $f"
    grep -E "^  (params|optim)/" "$T/info" | grep -qiE "nan|inf" && fail "np $np: $f holds NaN/Inf"
    step=$(grep -oE "step [0-9]+" "$T/info" | head -n 1 | grep -oE "[0-9]+")
    [ -n "$bad" ] && [ "$step" -le "$bad" ] || fail "np $np: $f is at step $step, after $bad"
  done
  [ "$n" -ge 2 ] && pass "np $np: $n older snapshots kept, valid and finite" ||
    fail "np $np: $n snapshots left (the ones before the divergence were pruned or not written)"
done

# optimizer.nonfinite = skip: each rank skips the same non-finite updates, the summary
# counts them, and one more than nonfinite_max_skips in a row stops the run as above
expect_exit 65 "lr=100 with nonfinite = skip" "$MN_BIN/mnrun" -np 2 "$T/t.conf" \
  --set optimizer.lr=100 --set optimizer.nonfinite=skip --set optimizer.nonfinite_max_skips=3 \
  --set snapshot.dir="$T/snapskip" --metrics "$T/skip.jsonl"
[ "$(grep -c "its update is skipped on every rank" "$T/err")" = 3 ] &&
  pass "skip: 3 steps skipped, each warned about" || fail "skip: not 3 skip warnings"
expect_err "step ([0-9]+): .*stopped before the update, after 3 skipped in a row" \
  "skip: the 4th in a row stops the run"
[ "$(json_field "$T/skip.jsonl" summary skipped_steps)" = 3 ] &&
  pass "skip: the summary counts 3 skipped steps" || fail "skip: skipped_steps is not 3"
for f in "$T/snapskip"/*.h5; do
  "$MN_BIN/mninfo" "$f" | grep -E "^  (params|optim)/" | grep -qiE "nan|inf" &&
    fail "skip: $f holds NaN/Inf"
done

# a NaN in row 123, feature 5 of the training file: mnprep would refuse it, so the file is
# written with a marker value there (1234.5, the only one) and its bytes patched to a NaN
awk 'BEGIN { for (i = 0; i < 400; i++) { printf "%d", i % 3
  for (j = 0; j < 8; j++) printf ",%s", (i == 123 && j == 5) ? "1234.5" : sprintf("%.3f", ((i * 7 + j * 13) % 17) / 17.0 - 0.5)
  printf "\n" } }' >"$T/nan.csv"
"$MN_BIN/mnprep" csv --in "$T/nan.csv" --out "$T/nan.h5" >/dev/null || fail "mnprep csv"
perl -0777 -pi -e '$n = s/\x00\x50\x9a\x44/\x00\x00\xc0\x7f/g; END { exit($n != 1) }' "$T/nan.h5" ||
  fail "the marker is not in nan.h5 exactly once"
h5dump -d /x -s 123,5 -c 1,1 "$T/nan.h5" | grep -q "nan" || fail "nan.h5 has no NaN at [123, 5]"
sed -e 's/16,32,3/8,16,3/' -e "s#$T/t-train.h5#$T/nan.h5#" -e '/^val/d' "$T/t.conf" >"$T/nan.conf"
for np in 1 2; do
  expect_exit 65 "a NaN feature at np $np" "$MN_BIN/mnrun" -np "$np" "$T/nan.conf" \
    --set snapshot.dir="$T/nansnap$np"
  expect_err "nan.h5: /x row 123: NaN in feature 5" "np $np: file, row and feature named"
done
finish
