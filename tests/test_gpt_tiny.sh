# test_gpt_tiny.sh: examples/gpt-tiny.conf as README gives it, shortened (the "done" check
# of the GPT issue, within a test's time): `mnprep text` on the license texts every Debian
# machine has, then `mnrun -np 2 examples/gpt-tiny.conf` for MAX_STEPS steps: exit 0, a
# loss that fell well below the uniform guess ln 256, tokens/s in the metrics, and `mngen`
# on the final snapshot prints the prompt and its continuation. Then the same run sent a
# real SIGTERM mid-run exits 75 with a snapshot, the same command resumes it, and its final
# snapshot is bitwise the uninterrupted run's (h5diff: parameters and AdamW's m and v).
# The full example (its stated validation loss, README) is a run of minutes: not a test.
. "$MN_SRC/tests/lib.sh"

MAX_STEPS=60
LICENSES=/usr/share/common-licenses
[ -d "$LICENSES" ] || { echo "skipped: no $LICENSES on this machine"; exit 77; }

cd "$MN_TMP" || exit 1
"$MN_BIN/mnprep" text --out data/licenses "$LICENSES/*" >prep.out || fail "mnprep text"
grep -q "byte-level" prep.out || fail "mnprep text: $(cat prep.out)"
conf="$MN_SRC/examples/gpt-tiny.conf"
sets=(--set "schedule.max_steps=$MAX_STEPS" --set log.interval=10)

expect_exit 0 "mnrun -np 2 examples/gpt-tiny.conf ($MAX_STEPS steps)" \
  "$MN_BIN/mnrun" -np 2 "$conf" "${sets[@]}" --metrics m.jsonl
first=$(json_field m.jsonl summary first_loss)
final=$(json_field m.jsonl summary final_loss)
tps=$(json_field m.jsonl summary tokens_per_s)
# ln 256 = 5.545: the first step guesses uniformly; 60 steps learn the byte statistics
check_float "$first > 5.0 && $first < 6.0" || fail "first loss $first, not about ln 256"
check_float "$final < 3.2" || fail "loss did not fall enough: $first -> $final"
check_float "$tps > 0" || fail "summary tokens_per_s $tps"
pass "loss $first -> $final, $tps tokens/s"
ref=$("$MN_BIN/mninfo" --latest snapshots/gpt-tiny) || fail "no snapshot of the run"

out=$("$MN_BIN/mngen" snapshots/gpt-tiny --prompt "This License" --tokens 80 --seed 3 2>&1)
rc=$?
[ "$rc" = 0 ] || fail "mngen: exit $rc: $out"
case "$out" in
"This License"?*) pass "mngen continues the prompt: ${out:0:60}..." ;;
*) fail "mngen output does not start with the prompt: $out" ;;
esac
# 12 bytes of prompt, 80 generated, a newline (bytes, not characters: the model may draw
# any byte)
n=$("$MN_BIN/mngen" snapshots/gpt-tiny --prompt "This License" --tokens 80 --seed 3 | wc -c)
[ "$n" = 93 ] || fail "mngen printed $n bytes, expected 93"

# A real SIGTERM to mnrun mid-run, then the same command again
mkdir stop && cd stop || exit 1
ln -s ../data data
"$MN_BIN/mnrun" -np 2 "$conf" "${sets[@]}" >out 2>err &
pid=$!
for _ in $(seq 1200); do grep -q "step 20/" out 2>/dev/null && break; sleep 0.1; done
kill -TERM "$pid"
wait "$pid"
rc=$?
[ "$rc" = 75 ] && pass "SIGTERM mid-run: exit 75" || { fail "SIGTERM mid-run: exit $rc"; cat err >&2; }
expect_exit 0 "the same command resumes and finishes" "$MN_BIN/mnrun" -np 2 "$conf" "${sets[@]}"
expect_err "resuming from snapshots/gpt-tiny/step-" "it resumed from the stop snapshot"
got=$("$MN_BIN/mninfo" --latest snapshots/gpt-tiny) || fail "no final snapshot after the resume"
for group in params optim; do
  h5diff -q "$ref" "$got" "/$group" "/$group" >/dev/null ||
    fail "/$group of the resumed run differs from the uninterrupted run's"
done
pass "resumed run bitwise equal to the uninterrupted one (h5diff)"
finish
