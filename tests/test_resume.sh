# test_resume.sh: preemption-safe stop and resume through mnrun, with real mpirun, real
# signals and real HDF5 snapshots (design.md properties 3 and 4).
#
# A run stopped by SIGTERM and resumed must end with bitwise the same parameters and
# momentum as an uninterrupted run (h5diff finds no difference): at world 1 and world 4,
# stopped during the very first step, mid-epoch, and exactly at an epoch boundary. The
# signal is a real SIGTERM that the rank sends itself at a chosen step
# (MN_TEST_SIGNAL_STEP, runtime/process/mn_preempt.h), so that the step is known; a SIGTERM sent
# to mnrun from outside is tested in test_quickstart.sh. Also: a signal to one rank stops
# every rank after the same step; damaged snapshots are skipped for older ones; a world-4
# snapshot resumes on 2 ranks; other model shapes and missing snapshots give the
# documented exit codes and change nothing on disk.
. "$MN_SRC/tests/lib.sh"

mnrun="$MN_BIN/mnrun"
mninfo="$MN_BIN/mninfo"

# 2,400 samples, batch 8: world 1 runs 300 steps per epoch, world 4 runs 75.
"$MN_BIN/mnprep" teacher --out "$MN_TMP/t" --samples 2400 --val 400 --dim 32 --classes 4 \
  --seed 5 >/dev/null || fail "mnprep teacher"
cat >"$MN_TMP/t.conf" <<CONF
[model]
layers = 32,48,24,4
[data]
train = $MN_TMP/t-train.h5
val = $MN_TMP/t-val.h5
batch_size = 8
block_size = 64
shuffle_blocks = 4
[optimizer]
lr = 0.05
momentum = 0.9
weight_decay = 0.0001
[schedule]
epochs = 2
lr_schedule = cosine
warmup_steps = 25
[log]
interval = 100
progress = plain
CONF

# same_state A B DESC: parameters and momentum of two snapshots are bitwise equal.
same_state() {
  if h5diff -q "$1" "$2" /params /params && h5diff -q "$1" "$2" /optim /optim; then
    pass "$3: bitwise equal to the uninterrupted run"
  else
    fail "$3: $1 and $2 differ"
    h5diff -r "$1" "$2" /params /params 2>&1 | head -n 5 >&2
  fi
}

# field FILE KEY: a value from mninfo's "position" line (e.g. epoch, step)
position() { "$mninfo" "$1" | awk -v k="$2" '$1 == "position" { for (i = 2; i < NF; i++) if ($i == k) { v = $(i + 1); sub(",", "", v); print v } }'; }

# Uninterrupted references.
for np in 1 2 4; do
  expect_exit 0 "reference run on $np rank(s)" "$mnrun" -np $np "$MN_TMP/t.conf" \
    --set snapshot.dir="$MN_TMP/ref$np"
done
final() { "$mninfo" --latest "$1" 2>/dev/null; }
for np in 1 2 4; do [ -n "$(final "$MN_TMP/ref$np")" ] || fail "no final snapshot in ref$np"; done

# stopped_holder DIR: wait (up to 30 s) until the rank 0 that holds DIR's lock has stopped
# itself (SIGSTOP through MN_TEST_SIGNAL); print its pid (as the lock file names it).
stopped_holder() {
  local pid=""
  for _ in $(seq 600); do
    pid=$(sed -n 's/^host .*, pid \([0-9]*\), since .*/\1/p' "$1/.mn-lock" 2>/dev/null)
    [ -n "$pid" ] && [ "$(ps -o stat= -p "$pid" 2>/dev/null | cut -c1)" = T ] && break
    sleep 0.05
  done
  echo "$pid"
}

# One run per snapshot directory (issue 11, item 2): run A holds snapshot.dir; a second
# run B on it is refused at once, on every rank, with exit 73 naming the holder (host, pid,
# since when), before it reads or writes anything there; A then finishes bitwise as the
# reference. A stops itself (SIGSTOP at step 50, MN_TEST_SIGNAL) so that B surely meets it
# mid-run; the lock file names A's rank 0, which is then continued.
lock="$MN_TMP/lock"
env MN_TEST_SIGNAL_STEP=50 MN_TEST_SIGNAL="$(kill -l STOP)" MN_TEST_SIGNAL_RANK=0 "$mnrun" -np 1 \
  --fail-timeout 0 "$MN_TMP/t.conf" --set snapshot.dir="$lock" --set snapshot.every_steps=20 \
  >"$MN_TMP/a.out" 2>"$MN_TMP/a.err" &
a=$!
holder=$(stopped_holder "$lock")
before=$(md5sum "$lock"/step-*.h5 2>/dev/null)
expect_exit 73 "a second run on a snapshot.dir in use is refused" "$mnrun" -np 2 "$MN_TMP/t.conf" \
  --set snapshot.dir="$lock" --set snapshot.every_steps=20
expect_err "$lock: snapshot directory in use by another run: host $(hostname), pid $holder, since [0-9-]+ [0-9:]+ UTC" \
  "the holder is named (host, pid, since)"
grep -q "^epoch .* step " "$MN_TMP/out" && fail "the refused run trained" || pass "the refused run trained no step"
grep -q "resuming from" "$MN_TMP/err" && fail "the refused run read the directory" ||
  pass "the refused run resumed nothing"
[ "$(md5sum "$lock"/step-*.h5 2>/dev/null)" = "$before" ] && pass "the holder's snapshots are untouched" ||
  fail "the refused run changed the holder's snapshots"
[ -n "$holder" ] || fail "no lock file names the holder"
descendants() { local p; for p in $(pgrep -P "$1"); do echo "$p"; descendants "$p"; done; }
for p in ${holder:-$(descendants "$a")}; do kill -CONT "$p" 2>/dev/null; done
wait "$a"
rc=$?
[ $rc -eq 0 ] && pass "the holder finishes (exit 0)" || { fail "the holder exited $rc"; cat "$MN_TMP/a.err" >&2; }
"$mninfo" --verify "$lock"/step-*.h5 >/dev/null && pass "the holder's snapshots are valid" ||
  fail "the holder's snapshots: $("$mninfo" --verify "$lock"/step-*.h5 2>&1)"
same_state "$(final "$MN_TMP/ref1")" "$(final "$lock")" "the holder, after a refused second run"
ls -a "$lock" | grep -q '\.tmp\.' && fail "temporary files left in $lock" || pass "no temporary file left"

# stop_resume NP STEP RANK NAME [REF ARGS...]: signal rank RANK (-1: all) at the start of
# step STEP (-1: during set-up); expect exit 75 and a snapshot of step STEP + 1 (STEP -1:
# step 1); resume; compare with the reference run in $MN_TMP/REF (default ref<NP>). ARGS:
# more mnrun arguments for both runs (those of the reference).
stop_resume() {
  local np=$1 step=$2 rank=$3 name=$4 dir="$MN_TMP/$4" want ref=${5:-ref$1}
  shift $(($# < 5 ? $# : 5))
  want=$((step < 0 ? 1 : step + 1))
  local rank_env=()
  [ "$rank" -ge 0 ] && rank_env=(MN_TEST_SIGNAL_RANK="$rank")
  expect_exit 75 "$name: SIGTERM at step $step exits 75" \
    env MN_TEST_SIGNAL_STEP="$step" "${rank_env[@]}" "$mnrun" -np "$np" "$MN_TMP/t.conf" \
    --set snapshot.dir="$dir" "$@"
  local snap
  snap=$("$mninfo" --latest "$dir" 2>/dev/null)
  if [ "$(position "$snap" step)" != "$want" ]; then
    fail "$name: newest snapshot '$snap' is not of step $want"
    return
  fi
  pass "$name: stopped after step $((want - 1)) with snapshot $(basename "$snap")"
  expect_exit 0 "$name: resumed run finishes" "$mnrun" -np "$np" "$MN_TMP/t.conf" \
    --set snapshot.dir="$dir" "$@"
  expect_err "resuming from .*step-0*$want\.h5" "$name: resumed from that snapshot"
  same_state "$(final "$MN_TMP/$ref")" "$(final "$dir")" "$name"
}

stop_resume 1 -1 -1 w1-setup
stop_resume 1 0 -1 w1-first
stop_resume 1 137 -1 w1-mid
stop_resume 1 299 -1 w1-boundary # the last step of epoch 0: the stop falls on the boundary
stop_resume 4 0 -1 w4-first
stop_resume 4 40 2 w4-one-rank # the signal reaches rank 2 only
stop_resume 4 74 -1 w4-boundary

# The boundary stop is at epoch 1, position 0 of its order.
b="$MN_TMP/w4-boundary/step-000000075.h5"
[ "$(position "$b" epoch)" = 1 ] && [ "$(position "$b" epoch_pos)" = 0 ] &&
  pass "boundary snapshot is at epoch 1, position 0" || fail "boundary snapshot position ($b)"

# AdamW with gradient accumulation and clipping (issue 13): its snapshot holds the moments
# m and v (optim/adamw/m/..., optim/adamw/v/...) and the step count that the bias
# correction uses; resumed, the run ends bitwise as the uninterrupted one. The stop is
# agreed once per optimizer step, at the step's single allreduce, so a resume is exact at
# step granularity: a stop signal inside an accumulation window takes effect at the
# window's end (the step runs all its micro-batches and updates; the snapshot is of the
# next step). MN_TEST_SIGNAL_STEP counts optimizer steps.
# 2,400 samples, world 2, 2 micro-batches of 8: 75 steps per epoch, 150 in all.
adamw=(--set optimizer.kind=adamw --set optimizer.lr=0.003 --set optimizer.accum_steps=2
  --set optimizer.clip_norm=1)
expect_exit 0 "adamw reference on 2 ranks (accum_steps 2, clip_norm 1)" "$mnrun" -np 2 \
  "$MN_TMP/t.conf" --set snapshot.dir="$MN_TMP/adamref" "${adamw[@]}"
adam_final=$(final "$MN_TMP/adamref")
h5ls -r "$adam_final" | grep -q "^/optim/adamw/v/0.weight " &&
  pass "the adamw snapshot holds optim/adamw/v/0.weight" ||
  fail "no optim/adamw/v/0.weight in $adam_final: $(h5ls -r "$adam_final" | grep optim | head -3)"
[ "$(position "$adam_final" step)" = 150 ] && pass "adamw reference: 150 steps of 2 x 2 x 8" ||
  fail "adamw reference ends at step $(position "$adam_final" step), want 150"
stop_resume 2 40 -1 adamw-mid adamref "${adamw[@]}"
stop_resume 2 74 1 adamw-boundary adamref "${adamw[@]}" # rank 1 only, the epoch's last step
# A SIGTERM to mnrun that reaches a rank inside a step: rank 0 stops itself (SIGSTOP) at
# the start of step 30, so that rank 1 goes into step 30 and waits at its allreduce; then
# mnrun gets SIGTERM and rank 0 is continued. Rank 1 agreed "no stop" for step 30 before
# the signal came; rank 0 (its signal pending while stopped) raises it at step 30 itself:
# every rank finishes step 30 and stops, with the snapshot of step 31.
adamterm="$MN_TMP/adamterm"
env MN_TEST_SIGNAL_STEP=30 MN_TEST_SIGNAL="$(kill -l STOP)" MN_TEST_SIGNAL_RANK=0 "$mnrun" -np 2 \
  --fail-timeout 0 "$MN_TMP/t.conf" --set snapshot.dir="$adamterm" "${adamw[@]}" \
  >"$MN_TMP/adamterm.out" 2>"$MN_TMP/adamterm.err" &
pid=$!
holder=$(stopped_holder "$adamterm")
sleep 0.5 # rank 1 into step 30
kill -TERM "$pid"
sleep 0.2
[ -n "$holder" ] && kill -CONT "$holder" || fail "adamw: rank 0 never stopped at step 30"
wait "$pid"
rc=$?
[ $rc -eq 75 ] && pass "adamw: SIGTERM during step 30 exits 75" ||
  { fail "adamw: SIGTERM during step 30: exit $rc"; sed 's/^/  | /' "$MN_TMP/adamterm.err" >&2; }
grep -q "all ranks stop after step 30" "$MN_TMP/adamterm.err" && pass "adamw: all ranks stop after step 30" ||
  fail "adamw: no agreement on step 30: $(grep -o 'all ranks stop after step [0-9]*' "$MN_TMP/adamterm.err")"
expect_exit 0 "adamw: resumed after the SIGTERM" "$mnrun" -np 2 "$MN_TMP/t.conf" \
  --set snapshot.dir="$adamterm" "${adamw[@]}"
expect_err "resuming from .*step-0*31\.h5" "adamw: resumed from the step-31 snapshot"
same_state "$adam_final" "$(final "$adamterm")" "adamw, SIGTERM during a step"

# A snapshot of one optimizer kind is not resumed by a run of the other: its state is not
# the state the run keeps. Refused under require (65), skipped under auto (65: none can be
# resumed), the message naming both kinds; no file changed.
before=$(md5sum "$MN_TMP"/ref2/*.h5 "$MN_TMP"/adamref/*.h5)
expect_exit 65 "an sgd snapshot, --resume require, kind adamw" "$mnrun" -np 2 "$MN_TMP/t.conf" \
  --set snapshot.dir="$MN_TMP/ref2" --resume require "${adamw[@]}"
expect_err "step-0*300\.h5: it holds the state of optimizer.kind = sgd, and this run uses adamw" \
  "the refusal names both kinds"
expect_exit 65 "an sgd snapshot, --resume auto, kind adamw" "$mnrun" -np 2 "$MN_TMP/t.conf" \
  --set snapshot.dir="$MN_TMP/ref2" "${adamw[@]}"
expect_err "skipping snapshot .*step-0*300\.h5: it holds the state of optimizer.kind = sgd, and this run uses adamw" \
  "auto skips it, naming both kinds"
expect_err "none can be resumed" "auto does not start afresh over it"
expect_exit 65 "an adamw snapshot, --resume require, kind sgd" "$mnrun" -np 2 "$MN_TMP/t.conf" \
  --set snapshot.dir="$MN_TMP/adamref" --resume require
expect_err "it holds the state of optimizer.kind = adamw, and this run uses sgd" \
  "the reverse refusal names both kinds"
[ "$(md5sum "$MN_TMP"/ref2/*.h5 "$MN_TMP"/adamref/*.h5)" = "$before" ] &&
  pass "the refused snapshots are untouched" || fail "a refused resume changed a snapshot"

# A signal to one rank only: every rank reports exit 75 (mnrun says nobody failed).
env MN_TEST_SIGNAL_STEP=10 MN_TEST_SIGNAL_RANK=3 "$mnrun" -np 4 "$MN_TMP/t.conf" \
  --set snapshot.dir="$MN_TMP/one" >"$MN_TMP/one.out" 2>"$MN_TMP/one.err"
rc=$?
[ $rc -eq 75 ] && pass "signal to rank 3 only: exit 75" || fail "signal to rank 3 only: exit $rc"
grep -q "failed" "$MN_TMP/one.err" && fail "a rank was reported failed after a stop"
grep -q "all ranks stop after step 10" "$MN_TMP/one.err" && pass "all ranks agreed on step 10" ||
  fail "no agreement on step 10"

# Damaged snapshots are skipped, with path and reason, for the previous valid one: stop
# at step 130 with snapshots every 20 steps, truncate the newest and corrupt the next,
# resume from step 100, still end bitwise equal.
expect_exit 75 "periodic snapshots, stop at step 130" env MN_TEST_SIGNAL_STEP=130 "$mnrun" -np 2 \
  "$MN_TMP/t.conf" --set snapshot.dir="$MN_TMP/dmg" --set snapshot.every_steps=20 \
  --set snapshot.keep=4
n131="$MN_TMP/dmg/step-000000131.h5" n120="$MN_TMP/dmg/step-000000120.h5"
if [ -f "$n131" ] && [ -f "$n120" ]; then
  truncate -s $(($(stat -c %s "$n131") / 2)) "$n131"
  # overwrite 4 KiB in the middle of the file: it lands in the tensor data
  size=$(stat -c %s "$n120")
  head -c 4096 /dev/urandom | dd of="$n120" bs=1 seek=$((size / 2)) conv=notrunc status=none
  before=$(md5sum "$MN_TMP"/dmg/*.h5)
  expect_exit 0 "resume over a truncated and a corrupted snapshot" "$mnrun" -np 2 \
    "$MN_TMP/t.conf" --set snapshot.dir="$MN_TMP/dmg" --set snapshot.every_steps=20 \
    --set snapshot.keep=4
  expect_err "skipping snapshot .*step-000000131\.h5" "the truncated one is named"
  expect_err "skipping snapshot .*step-000000120\.h5: .*(damaged|CRC|checksum)" \
    "the corrupted one is named with the reason"
  expect_err "resuming from .*step-000000100\.h5" "resumed from the last valid one"
  same_state "$(final "$MN_TMP/ref2")" "$(final "$MN_TMP/dmg")" "resume past damaged snapshots"
  # the truncated file is left as it was (never pruned: it is not a snapshot to count);
  # the damaged step 120 was replaced by the resumed run's own (then pruned): every other
  # file there is valid
  echo "$before" | grep -q "$(md5sum "$n131")" && pass "the truncated file is left alone" ||
    fail "the truncated $n131 was changed"
  others=$(ls "$MN_TMP"/dmg/step-*.h5 | grep -v step-000000131)
  "$mninfo" --verify $others >/dev/null && pass "the other $(echo $others | wc -w) files are valid" ||
    fail "a damaged snapshot remains: $("$mninfo" --verify $others 2>&1)"
else
  fail "no snapshots of steps 131 and 120 in dmg/"
fi

# Killed while writing: a snapshot every step (the writer is nearly always busy), and two
# SIGTERMs to mnrun back to back (the second SIGKILLs the job at once), three times over,
# each run resuming from what the last one left. Every snapshot left behind is valid, and
# the final resume ends bitwise as the reference.
for round in 1 2 3; do
  "$mnrun" -np 2 "$MN_TMP/t.conf" --set snapshot.dir="$MN_TMP/kill" --set snapshot.every_steps=1 \
    --set log.interval=10 >"$MN_TMP/kill.out" 2>"$MN_TMP/kill.err" &
  pid=$!
  for _ in $(seq 500); do [ "$(grep -c "step " "$MN_TMP/kill.out")" -ge 3 ] && break; sleep 0.01; done
  kill -TERM "$pid"
  kill -TERM "$pid"
  wait "$pid"
  rc=$?
  echo "round $round: killed at $(grep "step " "$MN_TMP/kill.out" | tail -n 1 | cut -c1-24), exit $rc," \
    "$(ls -a "$MN_TMP/kill" | grep -c step-) files (temporary ones included)"
  "$mninfo" --verify "$MN_TMP"/kill/step-*.h5 >"$MN_TMP/verify.out" 2>&1 &&
    pass "round $round: every snapshot left by the kill is valid" ||
    { fail "round $round: a damaged snapshot after the kill"; cat "$MN_TMP/verify.out" >&2; }
done
expect_exit 0 "resume after the kills" "$mnrun" -np 2 "$MN_TMP/t.conf" --set snapshot.dir="$MN_TMP/kill"
same_state "$(final "$MN_TMP/ref2")" "$(final "$MN_TMP/kill")" "resume after kills during writes"

# A world-4 snapshot resumes on 2 ranks at the same sample: 41 steps of 32 samples are
# 1,312 samples, step 82 of world 2 (global batch 16, 150 steps per epoch, 300 in all).
expect_exit 75 "world-4 run stopped at step 40" env MN_TEST_SIGNAL_STEP=40 "$mnrun" -np 4 \
  "$MN_TMP/t.conf" --set snapshot.dir="$MN_TMP/w4to2"
expect_exit 0 "world-4 snapshot resumed on 2 ranks" "$mnrun" -np 2 "$MN_TMP/t.conf" \
  --set snapshot.dir="$MN_TMP/w4to2" --metrics "$MN_TMP/w4to2.jsonl"
expect_err "global batch of 32 \(4 x 8\), this one 16 \(2 x 8\)" "the world change is reported"
end=$(json_field "$MN_TMP/w4to2.jsonl" summary end_step)
acc=$(json_field "$MN_TMP/w4to2.jsonl" summary val_accuracy)
start=$(json_field "$MN_TMP/w4to2.jsonl" summary start_step)
[ "$start" = 82 ] && pass "world 2 starts at step 82" || fail "start step $start, want 82"
[ "$end" = 300 ] && pass "world 2 ends at its own last step (300)" || fail "end step $end, want 300"
check_float "$acc > 0.5" && pass "accuracy after the world change: $acc" || fail "accuracy $acc"

# Another model shape: require exits 65, auto refuses too (never starts afresh silently),
# and neither changes a file.
before=$(md5sum "$MN_TMP"/ref4/*.h5)
expect_exit 65 "another model shape with --resume require" "$mnrun" -np 2 "$MN_TMP/t.conf" \
  --set model.layers=32,40,4 --set snapshot.dir="$MN_TMP/ref4" --resume require
expect_err "model.layers is 32,48,24,4 in the snapshot, 32,40,4 here" "the shape mismatch is named"
expect_exit 65 "another model shape with --resume auto" "$mnrun" -np 2 "$MN_TMP/t.conf" \
  --set model.layers=32,40,4 --set snapshot.dir="$MN_TMP/ref4"
expect_err "none can be resumed" "auto refuses to start afresh over them"
[ "$(md5sum "$MN_TMP"/ref4/*.h5)" = "$before" ] && pass "the snapshots are untouched" ||
  fail "snapshots changed by a refused resume"

# Regenerated features (issue 11, item 9): the same labels, N and D, the features scaled
# (a new normalisation). A resume compares a CRC of the features of 16 fixed rows and
# refuses, as it does other labels; the original file resumes.
awk 'BEGIN { srand(7); for (i = 0; i < 480; i++) { printf "%d", i % 3
  for (j = 0; j < 8; j++) printf ",%.4f", (i % 3) * 0.5 + rand(); printf "\n" } }' >"$MN_TMP/f.csv"
awk -F, -v OFS=, '{ for (j = 2; j <= NF; j++) $j = sprintf("%.4f", $j * 2) } 1' "$MN_TMP/f.csv" \
  >"$MN_TMP/f2.csv"
"$MN_BIN/mnprep" csv --in "$MN_TMP/f.csv" --out "$MN_TMP/f.h5" >/dev/null &&
  "$MN_BIN/mnprep" csv --in "$MN_TMP/f2.csv" --out "$MN_TMP/f2.h5" >/dev/null || fail "mnprep csv"
printf '[model]\nlayers = 8,16,3\n[data]\ntrain = %s\nbatch_size = 8\n[schedule]\nepochs = 2\n[log]\nprogress = off\n' \
  "$MN_TMP/f.h5" >"$MN_TMP/f.conf"
expect_exit 75 "features: a run stopped at step 10" env MN_TEST_SIGNAL_STEP=10 "$mnrun" -np 1 \
  "$MN_TMP/f.conf" --set snapshot.dir="$MN_TMP/feat"
"$mninfo" --json "$(final "$MN_TMP/feat")" | grep -q '"data_feature_crc":"0x' &&
  pass "the snapshot records the features' CRC" || fail "no data_feature_crc in mninfo --json"
expect_exit 65 "resume over regenerated features" "$mnrun" -np 1 "$MN_TMP/f.conf" \
  --set data.train="$MN_TMP/f2.h5" --set snapshot.dir="$MN_TMP/feat"
expect_err "skipping snapshot .*step-000000011\.h5: another training set: the features differ" \
  "the features are named as the difference"
expect_exit 0 "resume over the same features" "$mnrun" -np 1 "$MN_TMP/f.conf" \
  --set snapshot.dir="$MN_TMP/feat"
expect_err "resuming from .*step-000000011\.h5" "resumed from the step-11 snapshot"

# require without a snapshot: 66; never: old snapshots are set aside, the run starts afresh.
expect_exit 66 "--resume require without a snapshot" "$mnrun" -np 2 "$MN_TMP/t.conf" \
  --set snapshot.dir="$MN_TMP/empty" --resume require
expect_err "no snapshot to resume from" "the missing snapshot is named"
cp -r "$MN_TMP/ref2" "$MN_TMP/again"
expect_exit 0 "--resume never over old snapshots" "$mnrun" -np 2 "$MN_TMP/t.conf" \
  --set snapshot.dir="$MN_TMP/again" --resume never
expect_err "moved 2 old snapshot\(s\) to .*replaced-" "the old snapshots are set aside"
same_state "$(final "$MN_TMP/ref2")" "$(final "$MN_TMP/again")" "a fresh run after set-aside"
[ "$(ls -d "$MN_TMP"/again/replaced-*/step-*.h5 | wc -l)" = 2 ] && pass "2 set-aside files kept" ||
  fail "set-aside files missing"

# Run again on a finished snapshot: nothing to do, exit 0, nothing written.
expect_exit 0 "resume of a finished run" "$mnrun" -np 2 "$MN_TMP/t.conf" \
  --set snapshot.dir="$MN_TMP/ref2"
expect_err "already finished at step 300" "says there is nothing to do"

# mninfo's exit codes and outputs on what the runs above left.
expect_exit 0 "mninfo on a valid snapshot" "$mninfo" "$(final "$MN_TMP/ref4")"
grep -q "^  params/0.weight *48x32 .* ok$" "$MN_TMP/out" && pass "mninfo lists params/0.weight 48x32 ok" ||
  fail "mninfo's tensor table: $(cat "$MN_TMP/out")"
expect_exit 65 "mninfo on a truncated snapshot" "$mninfo" "$n131"
expect_err "step-000000131\.h5" "the truncated file is named"
expect_exit 66 "mninfo on a missing file" "$mninfo" "$MN_TMP/nope.h5"
expect_exit 66 "mninfo --latest on an empty directory" "$mninfo" --latest "$MN_TMP/empty"
expect_exit 64 "mninfo without arguments" "$mninfo"
expect_exit 65 "mninfo --verify with one bad file" "$mninfo" --verify "$(final "$MN_TMP/ref4")" "$n131"
grep -q ": ok$" "$MN_TMP/out" && grep -q "step-000000131.h5: invalid: " "$MN_TMP/out" &&
  pass "--verify says which is which" || fail "--verify output: $(cat "$MN_TMP/out")"
expect_exit 0 "mninfo --json" "$mninfo" --json "$(final "$MN_TMP/ref4")"
grep -q '"step":150,' "$MN_TMP/out" && grep -q '"finished":true' "$MN_TMP/out" &&
  pass "--json gives step 150, finished" || fail "--json output: $(cat "$MN_TMP/out")"

finish
