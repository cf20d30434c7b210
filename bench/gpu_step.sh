#!/usr/bin/env bash
# bench/gpu_step.sh: mn's training step on one GPU, on an MLP wide enough to fill it, against
# PyTorch on the same GPU and against cuBLAS's own GEMM rate, with the fraction of time the
# GPU waits on input. A benchmark that prints figures, not a test: record them in
# docs/benchmarks.md.
#
#   bench/gpu_step.sh [STEPS] [WIDTH] [BATCH]   (default 200 steps, width 4096, batch 1024)
#
# Model: layers = WIDTH,WIDTH,WIDTH,WIDTH,10 (the input is WIDTH features, then 3 hidden
# layers of WIDTH, 10 classes: for 4096, 50.4 M parameters), batch BATCH on one rank, SGD
# with momentum, on a teacher dataset from mnprep (HDF5, 32 batches' worth, read again each
# epoch from the page cache by mn's loader thread), snapshots off. Each variant (FP32, then
# TF32) runs:
#   - mn (mnrun -np 1, compute.device = gpu, compute.tf32 = false / true) with a metrics
#     record every 10 steps; its step time is the steady state: elapsed time between the
#     first record at or after step WARMUP (20) and the last record, over the steps between;
#     compute_s, comm_s, io_wait_s and elapsed_s come from the summary (the whole run);
#   - bench/torch_mlp.py --device cuda on the same shapes (inputs already on the GPU, so
#     PyTorch pays neither I/O nor host-to-device copies; mn pays both), when torch with
#     CUDA is importable by MN_PYTHON (default python3); else the script says so;
#   - mn_gemm_rate: cuBLAS through mn's kernel table at the 3 GEMM shapes of one
#     WIDTH x WIDTH layer at batch BATCH.
# Figures: mn step ms, PyTorch step ms, their ratio (mn / PyTorch: below 1, mn is faster);
# achieved model FLOP/s = 6 x params x samples/s (forward 2, backward 4 FLOP per parameter
# per sample; mn skips the input gradient of the first layer, so the true count is a little
# lower: the "exact" column counts that) and its fraction of mn_gemm_rate's overall rate;
# input wait = io_wait_s / elapsed_s.
#
# Environment: MN_BUILD (build directory, default build), MN_PYTHON (a python with torch),
# MN_BENCH_DEVICE=cpu (a dry run of this script on the CPU: small defaults, 256 wide, batch
# 64, 40 steps, FP32 only; the figures then mean nothing for GPUs). Without a usable GPU it
# says so and exits 69 (EX_UNAVAILABLE) before measuring anything.
set -euo pipefail
cd "$(dirname "$0")/.."
device=${MN_BENCH_DEVICE:-gpu}
case $device in
gpu) steps=${1:-200} width=${2:-4096} batch=${3:-1024} variants="fp32 tf32" ;;
cpu) steps=${1:-40} width=${2:-256} batch=${3:-64} variants="fp32" ;;
*) echo "gpu_step.sh: MN_BENCH_DEVICE must be gpu or cpu, not '$device'" >&2 && exit 64 ;;
esac
warmup=20
interval=10
bin=${MN_BUILD:-build}/bin
py=${MN_PYTHON:-python3}
layers="$width,$width,$width,$width,10"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
for p in mnrun mntrain mnprep mn_gemm_rate; do
  [ -x "$bin/$p" ] || { echo "gpu_step.sh: $bin/$p is missing (build it, or set MN_BUILD)" >&2 && exit 66; }
done
((steps > warmup + interval)) || { echo "gpu_step.sh: STEPS must exceed $((warmup + interval))" >&2 && exit 64; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# ---- is there a GPU? ------------------------------------------------------------------------
gemm_flags=()
[ "$device" = cpu ] && gemm_flags=(--cpu)
rc=0
"$bin/mn_gemm_rate" "${gemm_flags[@]}" --width 64 --batch 64 --iters 1 --warmup 0 \
  >"$tmp/probe.out" 2>"$tmp/probe.err" || rc=$?
if [ $rc -ne 0 ]; then
  if [ $rc -eq 77 ]; then
    echo "gpu_step.sh: no usable GPU here: $(cat "$tmp/probe.err")" >&2
    echo "gpu_step.sh: nothing measured (MN_BENCH_DEVICE=cpu dry-runs the script on the CPU)" >&2
    exit 69
  fi
  echo "gpu_step.sh: mn_gemm_rate failed (exit $rc): $(cat "$tmp/probe.err")" >&2
  exit 70
fi

# ---- data and config ------------------------------------------------------------------------
samples=$((32 * batch))
"$bin/mnprep" teacher --out "$tmp/b" --samples "$samples" --val 0 --dim "$width" --classes 10 \
  --chunk "$batch" >/dev/null
cat >"$tmp/b.conf" <<CONF
[model]
layers = $layers
[data]
train = $tmp/b-train.h5
batch_size = $batch
block_size = $batch
[optimizer]
lr = 0.01
momentum = 0.9
weight_decay = 0.0001
[schedule]
epochs = 1000000
max_steps = $steps
[snapshot]
enabled = false
[log]
interval = $interval
progress = off
CONF
params=$(awk -v l="$layers" 'BEGIN { n = split(l, d, ","); p = 0
  for (i = 1; i < n; i++) p += d[i] * d[i + 1] + d[i + 1]; print p }')
# the GEMM FLOP per sample that mn's step does: 3 GEMMs of 2 x in x out per layer, but no
# input gradient for the first layer
gemm_flop=$(awk -v l="$layers" 'BEGIN { n = split(l, d, ","); f = 0
  for (i = 1; i < n; i++) f += 6 * d[i] * d[i + 1]; printf "%.0f\n", f - 2 * d[1] * d[2] }')

field() { grep '"event":"summary"' "$1" | tail -n 1 | grep -o "\"$2\":[^,}]*" | cut -d: -f2 | tr -d '"'; }

# steady_ms METRICS: ms per step between the first step record at or after $warmup and the last
steady_ms() {
  grep '"event":"step"' "$1" | awk -v w="$warmup" '
    { s = $0; sub(/.*"global_step":/, "", s); sub(/[,}].*/, "", s)
      e = $0; sub(/.*"elapsed_s":/, "", e); sub(/[,}].*/, "", e)
      if (s + 0 >= w) { if (n == 0) { s0 = s; e0 = e } s1 = s; e1 = e; n++ } }
    END { if (n < 2 || s1 == s0) exit 1; printf "%.3f\n", 1000 * (e1 - e0) / (s1 - s0) }'
}

have_torch=0
if [ "$device" = cpu ]; then
  "$py" -c 'import torch' 2>/dev/null && have_torch=1
  torch_why="torch is not importable with $py"
else
  "$py" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null &&
    have_torch=1
  torch_why="torch with CUDA is not importable with $py (pip install torch; MN_PYTHON=that python)"
fi
((have_torch)) || echo "pytorch: $torch_why: its column is left empty"

# ---- the runs -------------------------------------------------------------------------------
rows=()
for v in $variants; do
  tf=false
  tflag=()
  [ "$v" = tf32 ] && tf=true tflag=(--tf32)
  m="$tmp/m-$v.jsonl"
  "$bin/mnrun" -np 1 "$tmp/b.conf" --set compute.device="$device" --set compute.tf32=$tf \
    --metrics "$m" >"$tmp/mn-$v.out" 2>"$tmp/mn-$v.err" || {
    echo "gpu_step.sh: mn ($v) failed:" >&2
    tail -n 5 "$tmp/mn-$v.err" >&2
    exit 70
  }
  where=$(grep -m1 -o 'computing on [^;]*' "$tmp/mn-$v.err" || echo "computing on ?")
  mn_ms=$(steady_ms "$m") || { echo "gpu_step.sh: too few step records in $m" >&2 && exit 70; }

  torch_ms=-
  if ((have_torch)); then
    tdev=cuda
    [ "$device" = cpu ] && tdev=cpu
    if out=$("$py" bench/torch_mlp.py --device $tdev "${tflag[@]}" --layers "$layers" \
      --batch "$batch" --steps "$((steps - warmup))" --warmup "$warmup" --threads "$(nproc)" 2>"$tmp/torch.err"); then
      torch_ms=$(grep -o 'step_ms=[0-9.]*' <<<"$out" | cut -d= -f2)
      torch_version=$(grep -o 'version=[^ ]*' <<<"$out" | cut -d= -f2)
    else
      echo "pytorch ($v) failed: $(tail -n 1 "$tmp/torch.err")" >&2
    fi
  fi

  gemm_tf=()
  [ "$device" = gpu ] && gemm_tf=("${tflag[@]}")
  "$bin/mn_gemm_rate" "${gemm_flags[@]}" "${gemm_tf[@]}" --width "$width" --batch "$batch" \
    >"$tmp/gemm-$v.out"
  gemm=$(grep -o ' gflops=[0-9.]*' "$tmp/gemm-$v.out" | cut -d= -f2)

  rows+=("$(awk -v v="$v" -v ms="$mn_ms" -v tms="$torch_ms" -v p="$params" -v b="$batch" \
    -v g="$gemm" -v gf="$gemm_flop" -v c="$(field "$m" compute_s)" -v cm="$(field "$m" comm_s)" \
    -v io="$(field "$m" io_wait_s)" -v el="$(field "$m" elapsed_s)" 'BEGIN {
      sps = 1000 * b / ms; f = 6 * p * sps / 1e12
      ratio = tms == "-" ? "-" : sprintf("%.2f", ms / tms)
      printf "%-7s %8.2f %8s %6s %10.0f %10.2f %9.2f %7.1f%% %7.1f%% %9.2f %7.2f %9.3f %9.2f %7.2f%%\n",
        v, ms, tms, ratio, sps, f, g / 1000, 100 * f * 1000 / g, 100 * gf * sps / 1e9 / g,
        c, cm, io, el, 100 * io / el }')")
  echo "$v: mn $where; $(grep '^overall' "$tmp/gemm-$v.out")"
done

# ---- the table ------------------------------------------------------------------------------
echo
printf '%-7s %8s %8s %6s %10s %10s %9s %8s %8s %9s %7s %9s %9s %8s\n' variant mn_ms torch_ms \
  mn/pt samples/s model_TF/s gemm_TF/s of_gemm exact compute_s comm_s io_wait_s elapsed_s \
  io_wait
printf '%s\n' "${rows[@]}"
echo
echo "model: layers $layers ($params parameters), batch $batch, $steps steps; mn's step time from"
echo "  its metrics records, from the first at or after step $warmup to the last; samples/s ="
echo "  batch / that; model FLOP/s = 6 x params x samples/s; of_gemm ="
echo "  that over mn_gemm_rate's overall rate at width $width, batch $batch (same precision);"
echo "  exact = the same with the GEMM FLOP mn's step does ($gemm_flop per sample: no input"
echo "  gradient for the first layer) instead of 6 x params;"
echo "  io_wait = io_wait_s / elapsed_s of the whole mn run; mn/pt = mn step ms / PyTorch step ms"
((have_torch)) && echo "pytorch $torch_version on $device, inputs already on the device, $((steps - warmup)) timed steps after $warmup"
if [ "$device" = gpu ]; then
  echo "gpu: $(nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader 2>/dev/null | head -n 1)"
else
  echo "device: cpu (MN_BENCH_DEVICE=cpu: a dry run of the script, not a GPU figure)"
fi
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); $(date -u +%F)"
