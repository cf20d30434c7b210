# test_metrics_io.sh: a metrics file that cannot be written (docs/metrics.md): the first
# failed write is warned about at once, naming the file and the reason; training goes on
# to its end (the final snapshot is written); the run exits 74; the file keeps only complete
# records. /dev/full (ENOSPC on every write) at world 1 and 2; a full 64 KiB tmpfs where this
# runs as root and may mount one (else that part says SKIP).
. "$MN_SRC/tests/lib.sh"
T=$MN_TMP
small_run 2000 0 6
cat >>"$T/t.conf" <<CONF
[log]
progress = off
interval = 1
CONF

for np in 1 2; do
  expect_exit 74 "metrics on /dev/full at np $np" "$MN_BIN/mnrun" -np "$np" "$T/t.conf" \
    --metrics /dev/full --set snapshot.dir="$T/snap$np"
  expect_err "warning: /dev/full: cannot write the metrics file: No space left on device" \
    "np $np: the failed write is warned about, with the reason"
  [ "$(grep -n "warning: /dev/full" "$T/err" | head -n 1 | cut -d: -f1)" -lt \
    "$(grep -n "failed (exit 74" "$T/err" | head -n 1 | cut -d: -f1)" ] &&
    pass "np $np: warned before the end" || fail "np $np: the warning is not before the end"
  latest=$("$MN_BIN/mninfo" --latest "$T/snap$np" 2>/dev/null)
  "$MN_BIN/mninfo" "$latest" 2>/dev/null | grep -q "^reason *final" &&
    pass "np $np: training went on to its final snapshot" || fail "np $np: no final snapshot"
done

# a file system that fills up mid-run: the file ends with a complete record, no summary
mnt="$T/small"
mkdir -p "$mnt"
if [ "$(id -u)" = 0 ] && mount -t tmpfs -o size=64k tmpfs "$mnt" 2>/dev/null; then
  trap 'umount "$mnt" 2>/dev/null' EXIT
  expect_exit 74 "metrics on a full tmpfs" "$MN_BIN/mnrun" -np 2 "$T/t.conf" \
    --metrics "$mnt/m.jsonl" --set snapshot.dir="$T/snapfull" --set schedule.epochs=30
  expect_err "warning: .*small/m.jsonl: cannot write the metrics file: No space left on device" \
    "full tmpfs: warned with the file and the reason"
  n=$(wc -l <"$mnt/m.jsonl")
  [ "$n" -gt 100 ] && pass "full tmpfs: $n records kept" || fail "full tmpfs: only $n records"
  [ -z "$(tail -c 1 "$mnt/m.jsonl")" ] && pass "full tmpfs: the file ends with a whole line" ||
    fail "full tmpfs: the file ends mid-record"
  grep -vcE '^\{"event":"[a-z]+".*\}$' "$mnt/m.jsonl" | grep -qx 0 &&
    pass "full tmpfs: every line is a complete record" || fail "full tmpfs: a cut record"
  grep -q '"event":"summary"' "$mnt/m.jsonl" && fail "full tmpfs: a summary fitted after all"
  umount "$mnt" && trap - EXIT
else
  echo "SKIP: a full tmpfs (needs root and mount -t tmpfs)"
fi
finish
