# test_quickstart.sh: the quickstart as README gives it, at 4 ranks (the "done" check of the
# foundation): `mnrun -np 4 examples/quickstart.conf --metrics m.jsonl` exits 0 with a
# summary whose loss fell and whose validation accuracy passes the stated threshold.
# Then the "done" check of the snapshot work: the same command, sent SIGTERM mid-run,
# exits 75 with a snapshot; run again, it resumes and finishes; and h5diff finds no
# difference between its final parameters and those of the uninterrupted run.
# Then the "done" check of the model core (issue 13): the quickstart with AdamW, gradient
# accumulation and clipping, `mnrun -np 2 examples/quickstart.conf --set
# optimizer.kind=adamw --set optimizer.lr=0.001 --set optimizer.accum_steps=2 --set
# optimizer.clip_norm=1`, trains to the same threshold, its loss falls as much, and every
# step record of its metrics carries a finite gradient norm.
. "$MN_SRC/tests/lib.sh"

# Threshold: 3 epochs of examples/quickstart.conf on the default teacher data reach about
# 86% at world 2 and 4 (chance: 10%); we require 80% and a loss below a quarter of the first.
THRESHOLD=0.80

cd "$MN_TMP" || exit 1
"$MN_BIN/mnprep" teacher --out data/quickstart >/dev/null || fail "mnprep teacher"
expect_exit 0 "mnrun -np 4 examples/quickstart.conf" \
  "$MN_BIN/mnrun" -np 4 "$MN_SRC/examples/quickstart.conf" --metrics m.jsonl
cat "$MN_TMP/out"
first=$(json_field m.jsonl summary first_loss)
final=$(json_field m.jsonl summary final_loss)
acc=$(json_field m.jsonl summary val_accuracy)
world=$(json_field m.jsonl summary world)
[ "$world" = 4 ] || fail "summary world $world"
check_float "$final < 0.25 * $first" || fail "loss did not fall enough: $first -> $final"
check_float "$acc >= $THRESHOLD" || fail "val accuracy $acc < $THRESHOLD"
tail -n 1 m.jsonl | grep -q '^{"event":"summary"' || fail "the last line is not the summary"
ref=$("$MN_BIN/mninfo" --latest snapshots/quickstart) || fail "no snapshot of the uninterrupted run"

# Stopped by a real SIGTERM to mnrun once training is under way (the progress line of
# step 50), then resumed by the same command.
mkdir stop && cd stop || exit 1
ln -s ../data data
"$MN_BIN/mnrun" -np 4 "$MN_SRC/examples/quickstart.conf" >out 2>err &
pid=$!
for _ in $(seq 600); do grep -q "step 50/" out 2>/dev/null && break; sleep 0.1; done
t0=$(date +%s.%N)
kill -TERM "$pid"
# and a second SIGTERM straight to the ranks while they stop and rank 0 writes the
# snapshot: it must change nothing (the snapshot is finished, the exit is still 75)
sleep 0.05
for p in $(pgrep -x mntrain); do # the ranks only: mpirun's own command line matches too
  # this tree's only: other checkouts on the machine may run the quickstart too
  grep -qF "$MN_SRC/examples/quickstart.conf" "/proc/$p/cmdline" 2>/dev/null && kill -TERM "$p"
done
wait "$pid"
rc=$?
t1=$(date +%s.%N)
[ "$rc" = 75 ] && pass "SIGTERM mid-run: exit 75" || { fail "SIGTERM mid-run: exit $rc"; cat err >&2; }
stop=$("$MN_BIN/mninfo" --latest snapshots/quickstart 2>/dev/null)
"$MN_BIN/mninfo" "$stop" | grep -q "^reason *stop" && pass "a stop snapshot: $stop" ||
  fail "no stop snapshot (newest: '$stop')"
echo "signal to exit: $(awk "BEGIN { printf \"%.2f\", $t1 - $t0 }") s (mnrun: $(grep -o 'ended [0-9.]* s' err))"
# a bound, not a timing: a stop must not wait for the end of the epoch or hang (generous,
# for a loaded machine with 4 ranks on 2 cores)
check_float "$t1 - $t0 < 60" || fail "the stop took more than 60 s"
expect_exit 0 "the same command again resumes and finishes" \
  "$MN_BIN/mnrun" -np 4 "$MN_SRC/examples/quickstart.conf"
expect_err "resuming from snapshots/quickstart/step-" "it resumed from the stop snapshot"
final=$("$MN_BIN/mninfo" --latest snapshots/quickstart)
if h5diff "$ref" "$final" /params /params; then
  pass "h5diff: the resumed run's final parameters equal the uninterrupted run's"
else
  fail "h5diff: $ref and $final differ"
fi

# The model core's quickstart, in a directory of its own (the quickstart's snapshot.dir
# there holds none of the SGD runs' snapshots, which an AdamW run would refuse). About 86%
# at world 2 too.
mkdir "$MN_TMP/adamw" && cd "$MN_TMP/adamw" || exit 1
ln -s ../data data
expect_exit 0 "mnrun -np 2 examples/quickstart.conf with adamw, accum_steps 2, clip_norm 1" \
  "$MN_BIN/mnrun" -np 2 "$MN_SRC/examples/quickstart.conf" --set optimizer.kind=adamw \
  --set optimizer.lr=0.001 --set optimizer.accum_steps=2 --set optimizer.clip_norm=1 \
  --metrics m.jsonl
tail -n 3 "$MN_TMP/out"
first=$(json_field m.jsonl summary first_loss)
final=$(json_field m.jsonl summary final_loss)
acc=$(json_field m.jsonl summary val_accuracy)
steps=$(json_field m.jsonl summary steps)
# 60,000 samples, 2 ranks x 2 micro-batches x 128: 117 steps per epoch
[ "$steps" = 351 ] && pass "adamw: 351 steps of 512 samples" || fail "adamw: $steps steps, want 351"
check_float "$final < 0.25 * $first" && pass "adamw: loss fell from $first to $final" ||
  fail "adamw: loss did not fall enough: $first -> $final"
check_float "$acc >= $THRESHOLD" && pass "adamw: val accuracy $acc >= $THRESHOLD" ||
  fail "adamw: val accuracy $acc < $THRESHOLD"
nstep=$(grep -c '"event":"step"' m.jsonl)
nfinite=$(grep '"event":"step"' m.jsonl | grep -cE '"grad_norm":[0-9][0-9.]*([eE][-+]?[0-9]+)?[,}]')
gn=$(grep -m 1 '"event":"step"' m.jsonl | grep -o '"grad_norm":[^,}]*' | cut -d: -f2)
[ "$nstep" -gt 0 ] && [ "$nfinite" = "$nstep" ] &&
  pass "adamw: all $nstep step records carry a finite grad_norm (the first: $gn)" ||
  fail "adamw: $nfinite of $nstep step records carry a finite grad_norm: $(grep '"event":"step"' m.jsonl | head -n 2)"
finish
