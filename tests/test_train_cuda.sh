# test_train_cuda.sh: training on a GPU, end to end (real mnrun / mpirun, real HDF5 data
# and snapshots), against the CPU back end as the reference.
#
# Where no GPU is usable (no device, no driver, a driver too old for the toolkit, or a
# build without CUDA) it prints "SKIP: ..." with the reason and exits 77, which CTest
# reports as skipped: found by a tiny run with compute.device=gpu that exits 69 naming why.
# A driver too old is said as such: on such a machine every GPU test is skipped and
# compute.device=auto trains on the CPU (with a warning). Any other failure of that run is a
# failure, not a skip. The probe's "computing on" line also gives the default gradient path
# of this build: nccl where it has NCCL (2.14+), else staged or mpi-cuda. Where a GPU is
# usable it checks:
#   a. world 1 on the GPU (FP32, tf32 off) trains (exit 0, loss falls, gradients through
#      the default path) and ends close to the same run on the CPU: every final parameter
#      within TOL (absolute) of the CPU's, final loss within TOL;
#   b. compute.deterministic = true: two identical GPU runs end bitwise equal (/params and
#      /optim of the final snapshots);
#   c. a real SIGTERM at a chosen step on the GPU exits 75; the resumed GPU run ends
#      bitwise equal to the uninterrupted deterministic run of b;
#   d. comm.backend = nccl at world 1 with small buckets (7 per step) finishes, close to a;
#      comm.backend = mpi at world 1 takes staged or mpi-cuda, close to a; 2 ranks under
#      mpirun with comm.backend = mpi (the staged or CUDA-aware path; sharing the GPU where
#      there is one) end close to the CPU's 2-rank run; with 2 GPUs or more: 2 ranks with
#      NCCL close to the CPU's 2-rank run, and a rank SIGKILLed mid-run (comm.timeout_s =
#      20, 7 buckets a step, so that the survivor waits on several collectives at once)
#      makes mnrun exit 69 within DEAD_PEER_LIMIT_S seconds instead of hanging.
#   e. a tiny GPT (byte-level, on this repository's docs) trains on the GPU (FP32) with
#      the loss of each of its first GPT_STEPS steps within GPT_TOL (relative) of the same
#      run on the CPU, and its final parameters within TOL.
# MN_TEST_DEV=cpu dry-runs every check on the CPU (the paths expected are then host), to
# test this script where no GPU is.
# It does not measure speed (bench/gpu_step.sh does) nor test the kernels one by one
# (test_kernels_cuda.c does).
. "$MN_SRC/tests/lib.sh"

DEV=${MN_TEST_DEV:-gpu} # the device under test (cpu: a dry run of the checks)
# the gradient paths expected: with the default backend (set from the probe below), with
# comm.backend=nccl, with comm.backend=mpi; and the backend asked for as "nccl"
if [ "$DEV" = cpu ]; then
  NCCL=mpi PATH_NCCL=host PATH_MPI=host
else
  NCCL=nccl PATH_NCCL=nccl PATH_MPI="staged|mpi-cuda"
fi
# Tolerance of the GPU-CPU comparisons: max absolute difference of any final parameter
# (the weights are of order 0.01-0.5; rounding alone leaves about 1e-6 after these runs),
# and of the final loss (about 0.7).
TOL=1e-3
DEAD_PEER_LIMIT_S=60

mnrun="$MN_BIN/mnrun"
mntrain="$MN_BIN/mntrain"
mninfo="$MN_BIN/mninfo"

# 4,096 samples, batch 32: 128 steps per epoch at world 1, 64 at world 2; 2 epochs.
"$MN_BIN/mnprep" teacher --out "$MN_TMP/t" --samples 4096 --val 512 --dim 64 --classes 4 \
  --seed 7 >/dev/null || { echo "FAIL: mnprep teacher" >&2; exit 1; }
cat >"$MN_TMP/t.conf" <<CONF
[model]
layers = 64,128,64,4
[data]
train = $MN_TMP/t-train.h5
val = $MN_TMP/t-val.h5
batch_size = 32
block_size = 64
[optimizer]
lr = 0.05
momentum = 0.9
weight_decay = 0.0001
[schedule]
epochs = 2
lr_schedule = cosine
warmup_steps = 20
[log]
interval = 16
progress = plain
CONF

# ---- can this machine compute on a GPU at all? --------------------------------------------
"$mnrun" -np 1 "$MN_TMP/t.conf" --set compute.device=$DEV --set schedule.max_steps=2 \
  --set snapshot.enabled=false >"$MN_TMP/probe.out" 2>"$MN_TMP/probe.err"
rc=$?
no_gpu="no usable CUDA device|no CUDA device is visible|has no CUDA|no NVIDIA driver is installed|the NVIDIA driver is too old|placed this rank without a GPU"
if [ $rc -eq 69 ] && grep -qE "$no_gpu" "$MN_TMP/probe.err"; then
  why=$(grep -m1 -oE "($no_gpu).*" "$MN_TMP/probe.err")
  if grep -q "driver is too old" <<<"$why"; then
    echo "SKIP: the NVIDIA driver is too old for this build's CUDA toolkit, so every GPU test" \
      "is skipped and compute.device=auto trains on the CPU: $why"
  else
    echo "SKIP: no usable GPU here (compute.device=gpu exits 69: $why)"
  fi
  exit 77
fi
if [ $rc -ne 0 ]; then
  echo "FAIL: probe run with compute.device=$DEV: exit $rc (not the no-GPU exit 69)" >&2
  sed 's/^/  | /' "$MN_TMP/probe.err" >&2
  exit 1
fi
pass "a GPU is usable: $(grep -m1 -o 'computing on [^;]*' "$MN_TMP/probe.err")"
# the default path of this build: nccl with NCCL, else what comm.backend=mpi takes
PATH_DEFAULT=$(grep -m1 -oE 'gradients through [a-z-]+' "$MN_TMP/probe.err" | awk '{ print $3 }')
case "$PATH_DEFAULT" in
nccl | staged | mpi-cuda | host) ;;
*) fail "probe: no 'gradients through' line"; PATH_DEFAULT=nccl ;;
esac
have_nccl=1
if [ "$DEV" != cpu ] && [ "$PATH_DEFAULT" != nccl ]; then
  have_nccl=0
  echo "note: this build takes $PATH_DEFAULT by default (no NCCL 2.14+): the NCCL checks are not run"
fi
# GPUs this test may use: nvidia-smi's list, cut to CUDA_VISIBLE_DEVICES' entries when set
ngpus=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU ')
if [ -n "${CUDA_VISIBLE_DEVICES+x}" ]; then
  nvis=$(tr ',' '\n' <<<"$CUDA_VISIBLE_DEVICES" | grep -c .)
  [ "$nvis" -lt "$ngpus" ] && ngpus=$nvis
fi
[ "$DEV" = cpu ] && ngpus=2 # the dry run takes the 2-rank branch on CPU ranks
echo "GPUs usable here (nvidia-smi -L, CUDA_VISIBLE_DEVICES): $ngpus"

# ---- helpers --------------------------------------------------------------------------------

# run NAME EXPECT DESC LAUNCHER...: a run writing snapshots to $MN_TMP/NAME, metrics to
# $MN_TMP/NAME.jsonl, stderr kept in $MN_TMP/NAME.err; the launcher and its arguments
# come last, without the config (appended), e.g. run g1 0 "..." "$mnrun" -np 1 --set ...
run() {
  local name=$1 want=$2 desc=$3
  shift 3
  expect_exit "$want" "$desc" "$@" --set snapshot.dir="$MN_TMP/$name" \
    --metrics "$MN_TMP/$name.jsonl" "$MN_TMP/t.conf"
  cp "$MN_TMP/err" "$MN_TMP/$name.err"
}
# mnrun's order: the config first, then the options (mntrain takes them in any order)
mn() { "$mnrun" -np "$1" "$MN_TMP/t.conf" "${@:2}"; }
run_mn() { # run_mn NAME EXPECT DESC NP [--set K=V]...
  local name=$1 want=$2 desc=$3 np=$4
  shift 4
  expect_exit "$want" "$desc" mn "$np" --set snapshot.dir="$MN_TMP/$name" \
    --metrics "$MN_TMP/$name.jsonl" "$@"
  cp "$MN_TMP/err" "$MN_TMP/$name.err"
}

final() { "$mninfo" --latest "$MN_TMP/$1" 2>/dev/null; }
summary() { json_field "$MN_TMP/$1.jsonl" summary "$2"; }

# on_device NAME PATH DESC: the run computed on the device under test, gradients through PATH
on_device() {
  local line
  line=$(grep -m1 -o 'computing on .*' "$MN_TMP/$1.err")
  if [ -z "$line" ]; then
    fail "$3: no 'computing on' line"
  elif [ "$DEV" = cpu ] && ! grep -qE "^computing on cpu[ ;]" <<<"$line"; then
    fail "$3: $line (want the CPU)"
  elif [ "$DEV" != cpu ] && grep -qE "^computing on cpu[ ;]" <<<"$line"; then
    fail "$3: $line (want a GPU)"
  elif ! grep -qE "gradients through ($2)\$" <<<"$line"; then
    fail "$3: $line (want gradients through $2)"
  else
    pass "$3: $line"
  fi
}

# loss_falls NAME DESC: the final loss is below half the first
loss_falls() {
  local first final
  first=$(summary "$1" first_loss) final=$(summary "$1" final_loss)
  if [ -n "$first" ] && [ -n "$final" ] && check_float "$final < 0.5 * $first"; then
    pass "$2: loss $first -> $final"
  else
    fail "$2: loss did not fall: '$first' -> '$final'"
  fi
}

# tensors SNAPSHOT: the names of the parameter tensors (W0 b0 ...), from mninfo's table
tensors() { "$mninfo" "$1" | awk '$1 ~ /^params\// { sub("params/", "", $1); print $1 }'; }

# max_param_diff A B: the largest |a - b| over every parameter of two snapshots (empty
# when they cannot be compared). The per-tensor attributes (CRC-32) are left out.
max_param_diff() {
  local n names
  names=$(tensors "$1")
  [ -n "$names" ] && [ "$names" = "$(tensors "$2")" ] || return 1
  for n in $names; do
    h5diff -r --exclude-attribute "/params/$n" "$1" "$2" "/params/$n" "/params/$n"
    [ $? -le 1 ] || return 1
  done | awk '$1 ~ /^\[/ { d = $NF < 0 ? -$NF : $NF; if (d > m) m = d } END { printf "%g\n", m + 0 }'
}

# close NAME REF DESC: final parameters and final loss of run NAME within TOL of run REF's
close() {
  local a b d la lb
  a=$(final "$1") b=$(final "$2")
  if [ -z "$a" ] || [ -z "$b" ]; then
    fail "$3: missing final snapshot ('$a', '$b')"
    return
  fi
  d=$(max_param_diff "$a" "$b")
  if [ -z "$d" ]; then
    fail "$3: cannot compare $a and $b"
  elif check_float "$d < $TOL"; then
    pass "$3: max |param difference| $d < $TOL"
  else
    fail "$3: max |param difference| $d >= $TOL ($a vs $b)"
  fi
  la=$(summary "$1" final_loss) lb=$(summary "$2" final_loss)
  if [ -n "$la" ] && [ -n "$lb" ] && check_float "($la - $lb) < $TOL && ($lb - $la) < $TOL"; then
    pass "$3: final loss $la vs $lb"
  else
    fail "$3: final loss '$la' vs '$lb' differ by $TOL or more"
  fi
}

# same NAME REF DESC: final snapshots of two runs bitwise equal in /params and /optim
same() {
  local a b
  a=$(final "$1") b=$(final "$2")
  if [ -n "$a" ] && [ -n "$b" ] && h5diff -q "$a" "$b" /params /params &&
    h5diff -q "$a" "$b" /optim /optim; then
    pass "$3: bitwise equal"
  else
    fail "$3: '$a' and '$b' differ"
    [ -n "$a" ] && [ -n "$b" ] && h5diff -r "$a" "$b" /params /params 2>&1 | head -n 5 >&2
  fi
}

# position SNAPSHOT KEY: a value from mninfo's "position" line (epoch, step, ...)
position() {
  "$mninfo" "$1" | awk -v k="$2" '$1 == "position" { for (i = 2; i < NF; i++) if ($i == k) {
    v = $(i + 1); sub(",", "", v); print v } }'
}

gpu=(--set compute.device=$DEV --set compute.tf32=false)
det=("${gpu[@]}" --set compute.deterministic=true)
cpu=(--set compute.device=cpu)

# ---- a. world 1 on the GPU vs the CPU -------------------------------------------------------
run_mn cpu1 0 "CPU reference, world 1" 1 "${cpu[@]}"
run_mn g1 0 "world 1 on the GPU (FP32)" 1 "${gpu[@]}"
on_device g1 "$PATH_DEFAULT" "world 1 on the GPU"
loss_falls g1 "world 1 on the GPU"
[ "$(summary g1 steps)" = 256 ] || fail "world 1 on the GPU: $(summary g1 steps) steps, want 256"
close g1 cpu1 "world 1, GPU vs CPU"

# ---- b. deterministic mode: two runs, bitwise equal -----------------------------------------
run_mn det1 0 "deterministic GPU run 1" 1 "${det[@]}"
run_mn det2 0 "deterministic GPU run 2" 1 "${det[@]}"
on_device det1 "$PATH_DEFAULT" "deterministic run"
same det1 det2 "two deterministic GPU runs"
close det1 cpu1 "deterministic GPU vs CPU"

# ---- c. stop by a real SIGTERM at step 100, resume on the GPU -------------------------------
expect_exit 75 "SIGTERM at step 100 on the GPU exits 75" env MN_TEST_SIGNAL_STEP=100 \
  "$mnrun" -np 1 "$MN_TMP/t.conf" --set snapshot.dir="$MN_TMP/stop" "${det[@]}"
snap=$(final stop)
if [ -n "$snap" ] && [ "$(position "$snap" step)" = 101 ]; then
  pass "stopped with a snapshot of step 101"
else
  fail "newest snapshot after the stop: '$snap', want step 101"
fi
run_mn stop 0 "resumed on the GPU" 1 "${det[@]}"
expect_err "resuming from .*step-0*101\.h5" "resumed from the stop's snapshot"
on_device stop "$PATH_DEFAULT" "resumed run"
same stop det1 "stopped and resumed vs uninterrupted (deterministic GPU)"

# ---- d. the gradient paths ------------------------------------------------------------------
# small buckets: 0.01 MiB = 2,621 floats, 7 buckets for the 16,836 parameters (and the
# control slots): several collectives in flight per step, each waited for on its own
small=(--set comm.bucket_mb=0.01)
if [ $have_nccl = 1 ]; then
  run_mn nccl1 0 "comm.backend=$NCCL at world 1, 7 buckets" 1 "${gpu[@]}" --set comm.backend=$NCCL \
    "${small[@]}"
  on_device nccl1 "$PATH_NCCL" "$NCCL at world 1"
  loss_falls nccl1 "$NCCL at world 1"
  close nccl1 g1 "$NCCL at world 1 with 7 buckets vs the default GPU run"
fi

run_mn mpi1 0 "comm.backend=mpi at world 1" 1 "${gpu[@]}" --set comm.backend=mpi
on_device mpi1 "$PATH_MPI" "comm.backend=mpi at world 1"
close mpi1 g1 "comm.backend=mpi at world 1 vs the default GPU run"

# 2 ranks sharing the one GPU, MPI on device memory (CUDA-aware) or staged through the host;
# mpirun directly (mnrun places one rank per GPU, or a CPU job when there are fewer GPUs).
mpi2=(mpirun -np 2 --oversubscribe "$mntrain")
run cpu2 0 "CPU reference, world 2 (mpirun)" "${mpi2[@]}" "${cpu[@]}"
run mpi2 0 "2 ranks sharing one GPU, comm.backend=mpi" "${mpi2[@]}" "${gpu[@]}" \
  --set comm.backend=mpi
on_device mpi2 "$PATH_MPI" "2 ranks, MPI from the GPU"
loss_falls mpi2 "2 ranks, MPI from the GPU"
[ "$(summary mpi2 world)" = 2 ] || fail "2 ranks, MPI from the GPU: world $(summary mpi2 world)"
close mpi2 cpu2 "2 ranks sharing one GPU (MPI) vs the CPU's 2 ranks"

if [ "$ngpus" -ge 2 ] && [ $have_nccl = 1 ]; then
  run_mn nccl2 0 "2 ranks on 2 GPUs, comm.backend=$NCCL" 2 "${gpu[@]}" --set comm.backend=$NCCL
  on_device nccl2 "$PATH_NCCL" "2 ranks, $NCCL"
  close nccl2 cpu2 "2 ranks on 2 GPUs ($NCCL) vs the CPU's 2 ranks"

  # A dead peer: rank 1 SIGKILLs itself at step 40 of 640; rank 0 is then stuck in (or on
  # its way to) several collectives at once (7 buckets a step: the ones after the first
  # are waited for only by the GPU stream until mn_comm_grads_drain's deadline).
  # timeout(1) only keeps a hang from stalling the suite.
  t0=$(date +%s.%N)
  env MN_TEST_SIGNAL_STEP=40 MN_TEST_SIGNAL_RANK=1 MN_TEST_SIGNAL=KILL \
    timeout -k 10 $((DEAD_PEER_LIMIT_S * 3)) "$mnrun" -np 2 "$MN_TMP/t.conf" "${gpu[@]}" \
    --set comm.backend=$NCCL --set comm.timeout_s=20 "${small[@]}" --set schedule.epochs=10 \
    --set snapshot.dir="$MN_TMP/dead" >"$MN_TMP/dead.out" 2>"$MN_TMP/dead.err"
  rc=$?
  took=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
  if [ $rc -eq 69 ] && check_float "$took < $DEAD_PEER_LIMIT_S"; then
    pass "a SIGKILLed rank: mnrun exits 69 after $took s"
  else
    fail "a SIGKILLed rank: exit $rc after $took s (want 69 within $DEAD_PEER_LIMIT_S s)"
    sed 's/^/  | /' "$MN_TMP/dead.err" | tail -n 20 >&2
  fi
  grep -q "rank 1" "$MN_TMP/dead.err" && pass "the lost rank is named" ||
    fail "mnrun does not name rank 1: $(tail -n 3 "$MN_TMP/dead.err")"
  left=$(pgrep -f "snapshot.dir=$MN_TMP/dead" || true)
  if [ -n "$left" ]; then
    fail "processes of the dead-peer run still alive: $left"
    kill -KILL $left 2>/dev/null
  fi
else
  echo "note: fewer than 2 GPUs (or no NCCL): 2-rank NCCL and the dead-peer check not run"
fi

# ---- e. a tiny GPT: the first steps on the GPU against the CPU ----------------------------
GPT_STEPS=20
GPT_TOL=1e-4
"$MN_BIN/mnprep" text --out "$MN_TMP/docs" "$MN_SRC/docs/*.md" >/dev/null ||
  fail "mnprep text on docs/*.md"
cat >"$MN_TMP/gpt.conf" <<CONF
[model]
type = gpt
vocab = 256
context = 32
layers = 2
heads = 2
width = 64
[data]
train = $MN_TMP/docs-train.h5
batch_size = 8
[optimizer]
kind = adamw
lr = 0.001
clip_norm = 1.0
[schedule]
epochs = 1
max_steps = $GPT_STEPS
[log]
interval = 1
progress = plain
CONF
for dev in cpu $DEV; do
  expect_exit 0 "tiny GPT, $GPT_STEPS steps on $dev" "$mnrun" -np 1 "$MN_TMP/gpt.conf" \
    --set compute.device=$dev --set compute.tf32=false --set snapshot.dir="$MN_TMP/gpt-$dev" \
    --metrics "$MN_TMP/gpt-$dev.jsonl"
  grep '"event":"step"' "$MN_TMP/gpt-$dev.jsonl" | grep -o '"loss":[^,}]*' | cut -d: -f2 \
    >"$MN_TMP/gpt-$dev.loss"
done
if [ "$(wc -l <"$MN_TMP/gpt-cpu.loss")" = $GPT_STEPS ] &&
  paste "$MN_TMP/gpt-cpu.loss" "$MN_TMP/gpt-$DEV.loss" | awk -v tol=$GPT_TOL '
    { d = $1 - $2; if (d < 0) d = -d; if (!($2 != "" && d <= tol * $1)) bad++ } END { exit bad > 0 }'; then
  pass "tiny GPT: the losses of the first $GPT_STEPS steps on $DEV within $GPT_TOL of the CPU's"
else
  fail "tiny GPT: step losses on $DEV differ from the CPU's"
  paste "$MN_TMP/gpt-cpu.loss" "$MN_TMP/gpt-$DEV.loss" | head -n 5 >&2
fi
close gpt-$DEV gpt-cpu "tiny GPT, $DEV vs CPU"

finish
