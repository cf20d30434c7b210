# test_snapshot_disk.sh: snapshots on a full disk and on a snapshot.dir that cannot be
# written (issue 11, items 4 and 7), on a small tmpfs mounted for the test (root; exit 77,
# reported as skipped, where mount is not permitted).
#
# A disk that fills during the run: with snapshot.on_error = stop (the default) the run
# stops at the next step with exit 74 and the reason ("No space left on device"), never
# a crash (139); with continue it trains to the end, warning at each failed snapshot, and
# exits 74 for its final one. Either way every snapshot left is valid (mninfo --verify)
# and no temporary file is left. A snapshot.dir on a read-only or full file system is
# refused before the first step (74).
. "$MN_SRC/tests/lib.sh"

mnrun="$MN_BIN/mnrun"
mninfo="$MN_BIN/mninfo"
mnt="$MN_TMP/mnt"
mkdir -p "$mnt"
if ! mount -t tmpfs -o size=1m tmpfs "$mnt" 2>"$MN_TMP/mount.err"; then
  echo "SKIP: cannot mount a tmpfs here ($(head -n 1 "$MN_TMP/mount.err")); run as root"
  exit 77
fi
trap 'umount "$mnt" 2>/dev/null' EXIT

"$MN_BIN/mnprep" teacher --out "$MN_TMP/t" --samples 2400 --val 400 --dim 32 --classes 4 \
  --seed 5 >/dev/null || fail "mnprep teacher"
cat >"$MN_TMP/t.conf" <<CONF
[model]
layers = 32,48,24,4
[data]
train = $MN_TMP/t-train.h5
val = $MN_TMP/t-val.h5
batch_size = 8
[schedule]
epochs = 2
[snapshot]
every_steps = 20
keep = 0
[log]
interval = 50
progress = plain
CONF

# fill_to KB: leave about KB kilobytes free on the tmpfs
fill_to() {
  rm -rf "${mnt:?}"/*
  local avail
  avail=$(df -k --output=avail "$mnt" | tail -n 1)
  dd if=/dev/zero of="$mnt/fill" bs=1k count=$((avail - $1)) status=none
  mkdir -p "$mnt/s"
}

# no_crash DESC: the last run's stderr shows no crash of a rank
no_crash() {
  grep -qiE "segmentation|signal 11|exit 139|core dumped" "$MN_TMP/err" &&
    fail "$1: a rank crashed" || pass "$1: no crash"
}

# left_valid DESC: every snapshot left is valid, there is one at least, no temporary file
left_valid() {
  local files
  files=$(ls "$mnt"/s/step-*.h5 2>/dev/null)
  [ -n "$files" ] || { fail "$1: no snapshot left"; return; }
  "$mninfo" --verify $files >"$MN_TMP/verify.out" 2>&1 &&
    pass "$1: the $(echo $files | wc -w) snapshot(s) left are valid" ||
    { fail "$1: an invalid snapshot"; cat "$MN_TMP/verify.out" >&2; }
  ls -a "$mnt/s" | grep -qE '\.tmp\.|\.probe\.' && fail "$1: temporary files left" ||
    pass "$1: no temporary file left"
}

# The disk fills during the run; on_error = stop.
fill_to 200
expect_exit 74 "full disk, on_error = stop" "$mnrun" -np 2 "$MN_TMP/t.conf" \
  --set snapshot.dir="$mnt/s" --metrics "$MN_TMP/stop.jsonl"
expect_err "No space left on device" "the reason is in the message"
expect_err "stopping \(snapshot.on_error = stop\)" "the policy is named"
no_crash "on_error = stop"
end=$(json_field "$MN_TMP/stop.jsonl" summary end_step)
[ -n "$end" ] && [ "$end" -lt 300 ] && pass "stopped at step $end of 300" ||
  fail "did not stop early (end step '$end')"
left_valid "on_error = stop"

# The same with on_error = continue: to the end, a warning per failed snapshot, then 74.
fill_to 200
expect_exit 74 "full disk, on_error = continue" "$mnrun" -np 2 "$MN_TMP/t.conf" \
  --set snapshot.dir="$mnt/s" --set snapshot.on_error=continue --metrics "$MN_TMP/cont.jsonl"
expect_err "snapshot.on_error = continue: training goes on" "each failure is warned of"
expect_err "No space left on device" "the reason is in the message"
no_crash "on_error = continue"
end=$(json_field "$MN_TMP/cont.jsonl" summary end_step)
[ "$end" = 300 ] && pass "trained to the end (step 300)" || fail "end step '$end', want 300"
left_valid "on_error = continue"

# A full disk from the start, and a read-only one: refused before the first step.
fill_to 0
expect_exit 74 "snapshot.dir on a full file system" "$mnrun" -np 2 "$MN_TMP/t.conf" \
  --set snapshot.dir="$mnt/s"
expect_err "$mnt/s.*(No space left on device)" "the directory and the reason are named"
grep -q "step " "$MN_TMP/out" && fail "trained on a full disk" || pass "no step was trained"
no_crash "full from the start"
rm -f "$mnt/fill"
mount -o remount,ro "$mnt" || fail "remount read-only"
expect_exit 74 "snapshot.dir on a read-only file system" "$mnrun" -np 2 "$MN_TMP/t.conf" \
  --set snapshot.dir="$mnt/s"
expect_err "$mnt/s.*Read-only file system" "the directory and the reason are named"
grep -q "step " "$MN_TMP/out" && fail "trained on a read-only disk" || pass "no step was trained"
mount -o remount,rw "$mnt"

finish
