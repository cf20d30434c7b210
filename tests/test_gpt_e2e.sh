# test_gpt_e2e.sh: a GPT (model.type = gpt) end to end through mnrun, real mpirun and real
# HDF5 files from `mnprep text` (byte level, vocabulary 256): a short run's metrics, bitwise
# resume after a real SIGTERM, snapshots refused for another model shape or other tokens,
# and text from `mngen` on the final snapshot.
#
# 1. Metrics (docs/metrics.md): every step record of a gpt carries tokens_per_s (> 0, the
#    global windows per second x context) and mfu (null on the CPU without a peak; with
#    compute.peak_tflops = 1 a number in (0, 1), in the summary too); every epoch record
#    train_perplexity = exp(train_loss) and val_perplexity = exp(val_loss); the progress
#    line shows "tok/s" (and "MFU" with a peak).
# 2. Bitwise resume (design.md property 4): stopped by a SIGTERM that a rank sends itself
#    at a chosen step (MN_TEST_SIGNAL_STEP, as in test_resume.sh) mid-epoch and on the last
#    step of an epoch, at world 1 and 2 (and at world 2 with accum_steps 2), the run exits
#    75 with a snapshot of the next step;
#    rerun, it resumes from that snapshot and ends with parameters and AdamW moments
#    bitwise equal to an uninterrupted run (h5diff of params/ and optim/).
# 3. A gpt's snapshot is refused (65, the difference named, no file changed) when the
#    config's model shape differs (width, heads) and when the token data does (the same
#    length with other bytes: the CRCs; a shorter file: the window count).
# 4. mngen: on the final snapshot it prints the prompt and N more bytes (exit 0); the same
#    seed gives the same bytes, another seed others; temperature 0 ignores the seed; a
#    missing snapshot exits 66, an MLP's 65, bad options 64 with a message.
# About 20 s on 2 busy cores: a 2-block model of width 32 on 3.7 KB of text.
. "$MN_SRC/tests/lib.sh"

mnrun="$MN_BIN/mnrun"
mninfo="$MN_BIN/mninfo"
mngen="$MN_BIN/mngen"

# Text with structure to learn: 150 short sentences, portable (no awk random numbers).
awk 'BEGIN { split("the cat|a dog|my friend|the old man|our teacher|a small bird", s, "|")
  split("sat on the mat|ran to the park|read a book|sang a song|ate the bread|saw the sea", v, "|")
  for (i = 0; i < 150; i++) printf "%s %s.\n", s[(i * 7 + int(i / 6)) % 6 + 1], v[(i * i + 3 * i) % 6 + 1] }' \
  >"$MN_TMP/text.txt"
"$MN_BIN/mnprep" text --out "$MN_TMP/x" "$MN_TMP/text.txt" >"$MN_TMP/prep.out" || fail "mnprep text"
# 3,442 training tokens: W = 215 windows of 17 tokens (context 16); batch 4: world 1 runs
# S1 = 53 steps an epoch, world 2 S2 = 26
ntok=$(sed -n 's/^wrote .*x-train\.h5 (\([0-9]*\) tokens).*/\1/p' "$MN_TMP/prep.out")
W=$(((${ntok:-1} - 1) / 16)) S1=$((W / 4)) S2=$((W / 8))
echo "$ntok training tokens: $W windows, $S1 steps an epoch at world 1, $S2 at world 2"
[ "$S2" -ge 20 ] || fail "too few windows ($W)"
cat >"$MN_TMP/g.conf" <<CONF
[model]
type = gpt
vocab = 256
context = 16
layers = 2
heads = 2
width = 32
[data]
train = $MN_TMP/x-train.h5
val = $MN_TMP/x-val.h5
batch_size = 4
block_size = 16
shuffle_blocks = 4
[optimizer]
kind = adamw
lr = 0.003
weight_decay = 0.01
clip_norm = 1.0
[schedule]
epochs = 2
lr_schedule = cosine
warmup_steps = 5
[log]
interval = 10
progress = plain
CONF

final() { "$mninfo" --latest "$1" 2>/dev/null; }
# position FILE KEY: a value from mninfo's "position" line (e.g. epoch, step)
position() { "$mninfo" "$1" | awk -v k="$2" '$1 == "position" { for (i = 2; i < NF; i++) if ($i == k) { v = $(i + 1); sub(",", "", v); print v } }'; }

# ---- 1. uninterrupted references, and their metrics --------------------------------------
expect_exit 0 "gpt reference on 1 rank" "$mnrun" -np 1 "$MN_TMP/g.conf" \
  --set snapshot.dir="$MN_TMP/ref1" --metrics "$MN_TMP/m1.jsonl"
cp "$MN_TMP/out" "$MN_TMP/ref1.out"
expect_exit 0 "gpt reference on 2 ranks, compute.peak_tflops = 1" "$mnrun" -np 2 "$MN_TMP/g.conf" \
  --set snapshot.dir="$MN_TMP/ref2" --metrics "$MN_TMP/m2.jsonl" --set compute.peak_tflops=1
cp "$MN_TMP/out" "$MN_TMP/ref2.out"
ref1=$(final "$MN_TMP/ref1") ref2=$(final "$MN_TMP/ref2")
[ "$(position "$ref1" step)" = $((2 * S1)) ] && [ "$(position "$ref2" step)" = $((2 * S2)) ] &&
  pass "the references end at steps $((2 * S1)) (world 1) and $((2 * S2)) (world 2)" ||
  fail "reference final snapshots: '$ref1' '$ref2'"
h5ls -r "$ref1" | grep -q "^/optim/adamw/v/h.1.attn.c_attn.weight " &&
  pass "the snapshot holds the AdamW moments (optim/adamw/v/h.1.attn.c_attn.weight)" ||
  fail "no optim/adamw/v/h.1.attn.c_attn.weight in $ref1"

# step_check FILE MFU: every step record has tokens_per_s > 0, equal to samples_per_s x 16,
# and an mfu that is null (MFU = null) or a number in (0, 1) (MFU = number)
step_check() {
  local n=0 bad=0 line tps sps mfu
  while IFS= read -r line; do
    n=$((n + 1))
    tps=$(echo "$line" | grep -o '"tokens_per_s":[^,}]*' | cut -d: -f2)
    sps=$(echo "$line" | grep -o '"samples_per_s":[^,}]*' | cut -d: -f2)
    mfu=$(echo "$line" | grep -o '"mfu":[^,}]*' | cut -d: -f2)
    check_float "${tps:-0} > 0 && (${tps:-0} - ${sps:-0} * 16) ^ 2 <= (1e-6 * ${tps:-0}) ^ 2" ||
      { bad=$((bad + 1)); echo "  step record: tokens_per_s '$tps', samples_per_s '$sps'" >&2; }
    if [ "$2" = null ]; then
      [ "$mfu" = null ] || { bad=$((bad + 1)); echo "  step record: mfu '$mfu', want null" >&2; }
    else
      case "$mfu" in "" | null) bad=$((bad + 1)); echo "  step record: mfu '$mfu'" >&2 ;;
      *) check_float "$mfu > 0 && $mfu < 1" || { bad=$((bad + 1)); echo "  mfu $mfu" >&2; } ;;
      esac
    fi
  done < <(grep '"event":"step"' "$1")
  [ "$n" -ge 5 ] && [ "$bad" = 0 ] && pass "$(basename "$1"): $n step records with tokens_per_s = samples_per_s x context > 0 and mfu $2" ||
    fail "$(basename "$1"): $n step records, $bad bad"
}
step_check "$MN_TMP/m1.jsonl" null
step_check "$MN_TMP/m2.jsonl" number
mfu=$(json_field "$MN_TMP/m2.jsonl" summary mfu)
tps=$(json_field "$MN_TMP/m2.jsonl" summary tokens_per_s)
check_float "${mfu:-0} > 0 && ${mfu:-0} < 1 && ${tps:-0} > 0" &&
  pass "summary with peak_tflops 1: tokens_per_s $tps, mfu $mfu" ||
  fail "summary: tokens_per_s '$tps', mfu '$mfu'"
[ "$(json_field "$MN_TMP/m1.jsonl" summary mfu)" = null ] && pass "summary without a peak: mfu null" ||
  fail "summary without a peak: mfu $(json_field "$MN_TMP/m1.jsonl" summary mfu)"

# every epoch record: perplexities = exp(losses), to the 9 digits of the file
for m in m1 m2; do
  n=0 bad=0
  while IFS= read -r line; do
    n=$((n + 1))
    v() { echo "$line" | grep -o "\"$1\":[^,}]*" | cut -d: -f2; }
    tl=$(v train_loss) vl=$(v val_loss) tp=$(v train_perplexity) vp=$(v val_perplexity)
    check_float "${tl:-0} > 0 && ${vl:-0} > 0 && (${tp:-0} - exp(${tl:-0})) ^ 2 <= (1e-6 * ${tp:-0}) ^ 2 &&
                 (${vp:-0} - exp(${vl:-0})) ^ 2 <= (1e-6 * ${vp:-0}) ^ 2" ||
      { bad=$((bad + 1)); echo "  $m epoch record: $line" >&2; }
  done < <(grep '"event":"epoch"' "$MN_TMP/$m.jsonl")
  [ "$n" = 2 ] && [ "$bad" = 0 ] &&
    pass "$m: 2 epoch records with train_perplexity = exp(train_loss), val_perplexity = exp(val_loss)" ||
    fail "$m: $n epoch records, $bad without the perplexities"
done
first=$(json_field "$MN_TMP/m1.jsonl" summary first_loss)
last=$(json_field "$MN_TMP/m1.jsonl" summary final_loss)
check_float "$last < 0.6 * $first" && pass "the loss falls: $first -> $last" ||
  fail "the loss did not fall: $first -> $last"

grep -qE "^epoch 2 step $S1/$S1  loss [0-9.]+  lr [0-9.e-]+  [0-9]+ tok/s  ETA" "$MN_TMP/ref1.out" &&
  pass "progress line: tok/s" || fail "progress line without tok/s: $(tail -n 3 "$MN_TMP/ref1.out")"
grep -qE "^epoch 2 step $S2/$S2  loss [0-9.]+  lr [0-9.e-]+  [0-9]+ tok/s  MFU [0-9.]+%  ETA" "$MN_TMP/ref2.out" &&
  pass "progress line with a peak: tok/s  MFU" ||
  fail "progress line without MFU: $(tail -n 3 "$MN_TMP/ref2.out")"
grep -qE '^epoch 1 done: train loss [0-9.]+  val loss [0-9.]+  val perplexity [0-9.]+' "$MN_TMP/ref1.out" &&
  pass "epoch line: val perplexity" || fail "epoch line: $(grep 'done:' "$MN_TMP/ref1.out")"

# ---- 2. bitwise resume after a SIGTERM ------------------------------------------------------
# same_state A B DESC: parameters and AdamW moments of two snapshots are bitwise equal.
same_state() {
  if h5diff -q "$1" "$2" /params /params && h5diff -q "$1" "$2" /optim /optim; then
    pass "$3: bitwise equal to the uninterrupted run"
  else
    fail "$3: $1 and $2 differ"
    h5diff -r "$1" "$2" /params /params 2>&1 | head -n 5 >&2
  fi
}

# stop_resume NP STEP NAME [REF ARGS...]: SIGTERM at the start of step STEP on every rank;
# expect 75 and a snapshot of step STEP + 1; resume; compare with the run in $MN_TMP/REF
# (default ref<NP>). ARGS: more mnrun arguments for both runs (those of the reference).
stop_resume() {
  local np=$1 step=$2 name=$3 dir="$MN_TMP/$3" snap ref=${4:-ref$1}
  shift $(($# < 4 ? $# : 4))
  expect_exit 75 "$name: SIGTERM at step $step exits 75" \
    env MN_TEST_SIGNAL_STEP="$step" "$mnrun" -np "$np" "$MN_TMP/g.conf" --set snapshot.dir="$dir" "$@"
  snap=$(final "$dir")
  cp "$snap" "$dir-stopped" 2>/dev/null
  if [ "$(position "$snap" step)" != $((step + 1)) ]; then
    fail "$name: newest snapshot '$snap' is not of step $((step + 1))"
    return
  fi
  pass "$name: stopped with the snapshot $(basename "$snap")"
  expect_exit 0 "$name: the rerun finishes" "$mnrun" -np "$np" "$MN_TMP/g.conf" \
    --set snapshot.dir="$dir" "$@"
  expect_err "resuming from .*step-0*$((step + 1))\.h5" "$name: resumed from that snapshot"
  same_state "$(final "$MN_TMP/$ref")" "$(final "$dir")" "$name"
}
stop_resume 1 30 w1-mid
stop_resume 1 $((S1 - 1)) w1-boundary # the last step of epoch 1
stop_resume 2 13 w2-mid
stop_resume 2 $((S2 - 1)) w2-boundary
# with gradient accumulation (2 micro-batches of 4 a step: S2 / 2 steps an epoch at world 2)
expect_exit 0 "gpt reference on 2 ranks, accum_steps 2" "$mnrun" -np 2 "$MN_TMP/g.conf" \
  --set snapshot.dir="$MN_TMP/refacc" --set optimizer.accum_steps=2
stop_resume 2 7 w2-accum refacc --set optimizer.accum_steps=2
b="$MN_TMP/w2-boundary-stopped"
[ "$(position "$b" epoch)" = 1 ] && [ "$(position "$b" epoch_pos)" = 0 ] &&
  pass "the boundary snapshot is at epoch 1, position 0" || fail "boundary snapshot position ($b)"

# ---- 3. refused: another model shape, other tokens -------------------------------------------
tr 'a-z' 'A-Z' <"$MN_TMP/text.txt" >"$MN_TMP/upper.txt" # same length, other bytes
head -c 3000 "$MN_TMP/text.txt" >"$MN_TMP/short.txt"
"$MN_BIN/mnprep" text --out "$MN_TMP/u" "$MN_TMP/upper.txt" >/dev/null &&
  "$MN_BIN/mnprep" text --out "$MN_TMP/s" "$MN_TMP/short.txt" >/dev/null || fail "mnprep text (2)"
before=$(md5sum "$MN_TMP"/ref2/*.h5)
expect_exit 65 "another width with --resume require" "$mnrun" -np 2 "$MN_TMP/g.conf" \
  --set snapshot.dir="$MN_TMP/ref2" --resume require --set model.width=48
expect_err "another model shape: model.width is 32 in the snapshot, 48 here" "the width is named"
expect_exit 65 "other heads with --resume auto" "$mnrun" -np 2 "$MN_TMP/g.conf" \
  --set snapshot.dir="$MN_TMP/ref2" --set model.heads=4
expect_err "skipping snapshot .*: another model shape: model.heads is 2 in the snapshot, 4 here" \
  "the heads are named"
expect_err "none can be resumed" "auto does not start afresh over them"
expect_exit 65 "tokens of the same length, other bytes" "$mnrun" -np 2 "$MN_TMP/g.conf" \
  --set snapshot.dir="$MN_TMP/ref2" --set data.train="$MN_TMP/u-train.h5" --set data.val="$MN_TMP/u-val.h5"
expect_err "skipping snapshot .*: another training set: the labels differ" "the other tokens are named"
expect_exit 65 "a shorter token file" "$mnrun" -np 2 "$MN_TMP/g.conf" \
  --set snapshot.dir="$MN_TMP/ref2" --set data.train="$MN_TMP/s-train.h5" --resume require
expect_err "another training set: $W .* in the snapshot, $(((2700 - 1) / 16)) " "the window counts are named"
[ "$(md5sum "$MN_TMP"/ref2/*.h5)" = "$before" ] && pass "the refused snapshots are untouched" ||
  fail "a refused resume changed a snapshot"

# ---- 4. mngen ---------------------------------------------------------------------------
prompt="the cat "
# gen NAME ARGS...: mngen on ref1's final snapshot with the prompt, output in $MN_TMP/NAME
gen() {
  local name=$1
  shift
  "$mngen" "$ref1" --prompt "$prompt" "$@" >"$MN_TMP/$name" 2>"$MN_TMP/err"
}
gen g1 --tokens 40 --seed 1 && pass "mngen exits 0" || { fail "mngen: exit $?"; cat "$MN_TMP/err" >&2; }
[ "$(head -c ${#prompt} "$MN_TMP/g1")" = "$prompt" ] && pass "the output starts with the prompt" ||
  fail "output: $(head -c 60 "$MN_TMP/g1")"
[ "$(wc -c <"$MN_TMP/g1")" = $((${#prompt} + 40 + 1)) ] && [ "$(tail -c 1 "$MN_TMP/g1" | od -An -c | tr -d ' ')" = '\n' ] &&
  pass "then 40 bytes and a newline: $(head -n 2 "$MN_TMP/g1" | tr '\n' '|')" ||
  fail "$(wc -c <"$MN_TMP/g1") bytes, want ${#prompt} + 40 + 1"
[ -s "$MN_TMP/err" ] && fail "mngen wrote to stderr: $(cat "$MN_TMP/err")"
gen g1b --tokens 40 --seed 1
cmp -s "$MN_TMP/g1" "$MN_TMP/g1b" && pass "the same seed gives the same text" || fail "seed 1 twice differs"
gen g2 --tokens 40 --seed 2
cmp -s "$MN_TMP/g1" "$MN_TMP/g2" && fail "seeds 1 and 2 give the same text" || pass "another seed, other text"
gen z1 --tokens 40 --temperature 0 --seed 1
gen z2 --tokens 40 --temperature 0 --seed 2
cmp -s "$MN_TMP/z1" "$MN_TMP/z2" && [ "$(wc -c <"$MN_TMP/z1")" = $((${#prompt} + 41)) ] &&
  pass "temperature 0 ignores the seed: $(head -n 1 "$MN_TMP/z1")" || fail "temperature 0 depends on the seed"
gen k1 --tokens 40 --top-k 1 --seed 3
cmp -s "$MN_TMP/z1" "$MN_TMP/k1" && pass "top-k 1 is the most likely token, as temperature 0" ||
  fail "top-k 1 differs from temperature 0"
"$mngen" "$MN_TMP/ref1" --prompt "$prompt" --tokens 40 --seed 1 >"$MN_TMP/gd" 2>/dev/null
cmp -s "$MN_TMP/g1" "$MN_TMP/gd" && pass "a directory means its newest snapshot" ||
  fail "mngen DIR differs from mngen on its final snapshot"

expect_exit 66 "mngen on a missing snapshot" "$mngen" "$MN_TMP/nope.h5"
expect_err "nope\.h5" "the missing file is named"
mkdir -p "$MN_TMP/empty"
expect_exit 66 "mngen on a directory without snapshots" "$mngen" "$MN_TMP/empty"
"$MN_BIN/mnprep" teacher --out "$MN_TMP/t" --samples 200 --val 0 --dim 8 --classes 3 >/dev/null ||
  fail "mnprep teacher"
printf '[model]\nlayers = 8,16,3\n[data]\ntrain = %s\nbatch_size = 20\n[schedule]\nepochs = 1\n[log]\nprogress = off\n[snapshot]\ndir = %s\n' \
  "$MN_TMP/t-train.h5" "$MN_TMP/mlp" >"$MN_TMP/mlp.conf"
"$MN_BIN/mntrain" "$MN_TMP/mlp.conf" >/dev/null 2>&1 || fail "mntrain (mlp)"
expect_exit 65 "mngen on an MLP's snapshot" "$mngen" "$MN_TMP/mlp"
expect_err "a model of type mlp; mngen continues a gpt's text" "the model type is named"
# bad_option DESC PATTERN ARGS...: 64, and stderr matches PATTERN
bad_option() {
  local desc=$1 pattern=$2
  shift 2
  expect_exit 64 "mngen $desc" "$mngen" "$@"
  expect_err "$pattern" "mngen $desc: the message"
}
bad_option "without a snapshot" "give one snapshot" --tokens 5
bad_option "with two snapshots" "give one snapshot" "$ref1" "$ref1"
bad_option "--tokens -1" "--tokens: '-1' is not an integer" "$ref1" --tokens -1
bad_option "--temperature abc" "--temperature: 'abc' is not" "$ref1" --temperature abc
bad_option "--top-k x" "--top-k: 'x' is not" "$ref1" --top-k x
# integers: a count or a seed with a fraction or an exponent is refused, not cut ("2.5" was
# 2 tokens, and "--seed 1e3" seed 1); every uint64 is a seed
bad_option "--tokens 2.5" "--tokens: '2\.5' is not an integer" "$ref1" --tokens 2.5
bad_option "--top-k 1.5" "--top-k: '1\.5' is not an integer" "$ref1" --top-k 1.5
bad_option "--seed 1e3" "--seed: '1e3' is not an integer" "$ref1" --seed 1e3
bad_option "--seed -1" "--seed: '-1' is not an integer" "$ref1" --seed -1
expect_exit 0 "mngen --seed 2^64 - 1" "$mngen" "$ref1" --seed 18446744073709551615 --tokens 5
bad_option "--temprature (a typo)" "unknown option '--temprature' \(did you mean --temperature\?\)" \
  "$ref1" --temprature 1
[ ! -s "$MN_TMP/out" ] && pass "nothing on stdout after a bad option" || fail "stdout: $(head -c 80 "$MN_TMP/out")"

finish
