#!/usr/bin/env bash
# bench/gpt_gpu.sh: tokens/s and MFU of mn's GPT-2 124M on one GPU, in FP32 and TF32, beside
# PyTorch eager on the same GPU, model, batch and sequence length. A benchmark that prints
# figures, not a test: record them in docs/benchmarks.md ("GPT on a GPU").
#
#   bench/gpt_gpu.sh [STEPS] [BATCH]   (default 50 steps, batch 8 sequences of 1024 tokens)
#
# Model: [model] type = gpt, vocab 50257 (padded to 50304 rows), context 1024, 12 blocks,
# 12 heads, width 768: GPT-2 small, 124,475,904 parameters with the padding; AdamW (lr 3e-4,
# beta2 0.95, weight decay 0.1); snapshots off. Memory: weights, gradients and AdamW's two
# states are 2 GB; the activations at batch 8 are, by estimate, 15 to 20 GB in mn (llm.c's layout:
# the attention matrix [B, 12, 1024, 1024] of every block kept for backward, 400 MB each, and
# the logits [B x 1024, 50304], 1.6 GB), about twice that at batch 16: both should fit an 80 GB
# GPU. The table's *_MiB columns give what nvidia-smi saw.
# Data: 2 M random tokens below 50257, written by python as an llm.c shard (struct only, no
# numpy) and converted by `mnprep tokens` (/tokens uint16, vocab_size 50257, tokenizer
# "gpt2"); mn reads it from HDF5 in its loader thread; PyTorch's tokens are already on the GPU.
# Each variant (fp32: compute.tf32 = false; tf32: compute.tf32 = true) runs:
#   - mn: mnrun -np 1 with compute.device = gpu and a metrics record every 5 steps. Its
#     tokens/s is the steady state: the tokens between the first record at or after step
#     WARMUP (10) and the last, over the elapsed time between them. MFU is mn's own (its
#     metrics: 6 N + 6 L C T FLOPs per token over compute.peak_tflops, else the GPU's peak
#     by name, FP32 or TF32 by compute.tf32), scaled from the run's mean rate to the steady
#     one;
#   - bench/torch_gpt.py --device cuda (--tf32) on the same shapes, STEPS - WARMUP timed
#     steps after WARMUP, when torch with CUDA is importable by MN_PYTHON (default python3);
#     its MFU is over the same peak as mn's (the same FLOPs per token, the same GPU). Its
#     attention: F.scaled_dot_product_attention (flash attention on recent GPUs) where torch
#     has it; MN_TORCH_ATTENTION=explicit makes it compute softmax(q k^T) v with the whole
#     [B, 12, T, T] matrix, as mn does (llm.c's kernels), for a like-for-like figure.
# Figures: tokens/s each, their ratio (mn / PyTorch: above 1, mn is faster), MFU, mn's
# compute / comm / io_wait from its summary, and the most GPU memory nvidia-smi saw in use
# during each run.
#
# Environment: MN_BUILD (build directory, default build), MN_PYTHON (a python with torch),
# MN_TORCH_ATTENTION (auto or explicit, default auto),
# OUT (a directory: the table and every log are also written under $OUT/gpt_gpu),
# MN_BENCH_DEVICE=cpu (a dry run of this script on the CPU: a tiny GPT, vocab 256, context
# 64, 2 blocks, 2 heads, width 64, batch 4, 30 steps, FP32 only; the figures then mean
# nothing). Without a usable GPU it says so and exits 69 (EX_UNAVAILABLE) before measuring.
set -euo pipefail
cd "$(dirname "$0")/.."
device=${MN_BENCH_DEVICE:-gpu}
case $device in
gpu)
  steps=${1:-50} batch=${2:-8} variants="fp32 tf32"
  vocab=50257 context=1024 layers=12 heads=12 width=768 ntokens=$((2 << 20))
  ;;
cpu)
  steps=${1:-30} batch=${2:-4} variants="fp32"
  vocab=256 context=64 layers=2 heads=2 width=64 ntokens=$((1 << 16))
  ;;
*) echo "gpt_gpu.sh: MN_BENCH_DEVICE must be gpu or cpu, not '$device'" >&2 && exit 64 ;;
esac
warmup=10
interval=5
bin=${MN_BUILD:-build}/bin
py=${MN_PYTHON:-python3}
torch_attention=${MN_TORCH_ATTENTION:-auto}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
for p in mnrun mntrain mnprep mn_gemm_rate; do
  [ -x "$bin/$p" ] || { echo "gpt_gpu.sh: $bin/$p is missing (build it, or set MN_BUILD)" >&2 && exit 66; }
done
((steps >= warmup + 2 * interval)) ||
  { echo "gpt_gpu.sh: STEPS must be at least $((warmup + 2 * interval))" >&2 && exit 64; }
tmp=$(mktemp -d)
smi_pid=
cleanup() {
  [ -n "$smi_pid" ] && kill "$smi_pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
log=$tmp/logs
mkdir -p "$log"
# say: to stdout and to the table file
say() { echo "$@" | tee -a "$log/table.txt"; }

# ---- is there a GPU? ------------------------------------------------------------------------
gemm_flags=()
[ "$device" = cpu ] && gemm_flags=(--cpu)
rc=0
"$bin/mn_gemm_rate" "${gemm_flags[@]}" --width 64 --batch 64 --iters 1 --warmup 0 \
  >"$log/probe.out" 2>"$log/probe.err" || rc=$?
if [ $rc -ne 0 ]; then
  if [ $rc -eq 77 ]; then
    echo "gpt_gpu.sh: no usable GPU here: $(cat "$log/probe.err")" >&2
    echo "gpt_gpu.sh: nothing measured (MN_BENCH_DEVICE=cpu dry-runs the script on the CPU)" >&2
    exit 69
  fi
  echo "gpt_gpu.sh: mn_gemm_rate failed (exit $rc): $(cat "$log/probe.err")" >&2
  exit 70
fi

# ---- data and config ------------------------------------------------------------------------
python3 - "$tmp/r.bin" "$vocab" "$ntokens" <<'PY'
import random, struct, sys
path, vocab, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(1)
with open(path, "wb") as f:  # llm.c's shard: 256 int32 (magic, version, n), then n uint16
    f.write(struct.pack("<256i", 20240520, 1, n, *([0] * 253)))
    f.write(struct.pack(f"<{n}H", *(rng.randrange(vocab) for _ in range(n))))
PY
"$bin/mnprep" tokens --out "$tmp/r.h5" --vocab "$vocab" "$tmp/r.bin" >"$log/mnprep.log" 2>&1 || {
  echo "gpt_gpu.sh: mnprep tokens failed:" >&2 && tail -n 5 "$log/mnprep.log" >&2 && exit 70
}
cat >"$tmp/g.conf" <<CONF
[model]
type = gpt
vocab = $vocab
context = $context
layers = $layers
heads = $heads
width = $width
[data]
train = $tmp/r.h5
batch_size = $batch
[optimizer]
kind = adamw
lr = 0.0003
beta2 = 0.95
weight_decay = 0.1
[schedule]
epochs = 1000000
max_steps = $steps
[snapshot]
enabled = false
[log]
interval = $interval
progress = off
CONF
cp "$tmp/g.conf" "$log/gpt.conf"

field() { grep '"event":"summary"' "$1" | tail -n 1 | grep -o "\"$2\":[^,}]*" | cut -d: -f2 | tr -d '"'; }

# steady_tps METRICS: tokens/s between the first step record at or after $warmup and the last
steady_tps() {
  grep '"event":"step"' "$1" | awk -v w="$warmup" -v tok="$((batch * context))" '
    { s = $0; sub(/.*"global_step":/, "", s); sub(/[,}].*/, "", s)
      e = $0; sub(/.*"elapsed_s":/, "", e); sub(/[,}].*/, "", e)
      if (s + 0 >= w) { if (n == 0) { s0 = s; e0 = e } s1 = s; e1 = e; n++ } }
    END { if (n < 2 || e1 == e0) exit 1; printf "%.0f\n", tok * (s1 - s0) / (e1 - e0) }'
}

# GPU memory: the most nvidia-smi reports in use while a run goes (MiB; "-" without it)
mem_start() {
  : >"$tmp/mem.txt"
  smi_pid=
  if [ "$device" = gpu ] && command -v nvidia-smi >/dev/null; then
    nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -i 0 -lms 500 \
      >"$tmp/mem.txt" 2>/dev/null &
    smi_pid=$!
  fi
}
mem_stop() {
  if [ -n "$smi_pid" ]; then
    kill "$smi_pid" 2>/dev/null || true
    wait "$smi_pid" 2>/dev/null || true
    smi_pid=
  fi
  sort -n "$tmp/mem.txt" | tail -n 1 | awk 'NF { printf "%d", $1; found = 1 } END { if (!found) printf "-" }'
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
((have_torch)) || say "pytorch: $torch_why: its columns are left empty"

# ---- the runs -------------------------------------------------------------------------------
rows=()
torch_version=
for v in $variants; do
  tf=false
  tflag=()
  [ "$v" = tf32 ] && tf=true tflag=(--tf32)
  m="$log/mn-$v.jsonl"
  mem_start
  rc=0
  timeout 900 "$bin/mnrun" -np 1 "$tmp/g.conf" --set compute.device="$device" \
    --set compute.tf32=$tf --metrics "$m" >"$log/mn-$v.out" 2>"$log/mn-$v.err" || rc=$?
  mn_mem=$(mem_stop)
  if [ $rc -ne 0 ]; then
    echo "gpt_gpu.sh: mn ($v) failed (exit $rc):" >&2
    tail -n 5 "$log/mn-$v.err" >&2
    [ -n "${OUT:-}" ] && mkdir -p "$OUT/gpt_gpu" && cp -r "$log"/. "$OUT/gpt_gpu/"
    exit 70
  fi
  where=$(grep -m1 -o 'computing on [^;]*' "$log/mn-$v.err" || echo "computing on ?")
  mn_tps=$(steady_tps "$m") || { echo "gpt_gpu.sh: too few step records in $m" >&2 && exit 70; }
  sum_tps=$(field "$m" tokens_per_s)
  sum_mfu=$(field "$m" mfu)
  # MFU per token/s on this GPU and precision (mn's peak and FLOPs per token); "-" without one
  per_tps=$(awk -v t="$sum_tps" -v f="$sum_mfu" 'BEGIN { if (f == "" || f == "null" || !(t > 0)) print "-"; else printf "%.6e\n", f / t }')

  torch_tps=- torch_mem=-
  if ((have_torch)); then
    mem_start
    if out=$(timeout 900 "$py" bench/torch_gpt.py --device "$([ "$device" = cpu ] && echo cpu || echo cuda)" \
      "${tflag[@]}" --attention "$torch_attention" --vocab "$vocab" --context "$context" --layers "$layers" --heads "$heads" \
      --width "$width" --batch "$batch" --steps "$((steps - warmup))" --warmup "$warmup" \
      --threads "$(nproc)" 2>"$log/torch-$v.err"); then
      echo "$out" >"$log/torch-$v.out"
      torch_tps=$(grep -o 'tokens_per_s=[0-9.]*' <<<"$out" | cut -d= -f2)
      torch_version="$(grep -o 'version=[^ ]*' <<<"$out" | cut -d= -f2), attention $(grep -o 'attention=[^ ]*' <<<"$out" | cut -d= -f2)"
    else
      say "pytorch ($v) failed: $(tail -n 1 "$log/torch-$v.err")"
    fi
    torch_mem=$(mem_stop)
  fi

  rows+=("$(awk -v v="$v" -v t="$mn_tps" -v pt="$torch_tps" -v k="$per_tps" \
    -v c="$(field "$m" compute_s)" -v cm="$(field "$m" comm_s)" -v io="$(field "$m" io_wait_s)" \
    -v el="$(field "$m" elapsed_s)" -v mm="$mn_mem" -v tm="$torch_mem" 'BEGIN {
      ratio = pt == "-" ? "-" : sprintf("%.2f", t / pt)
      mfu = k == "-" ? "-" : sprintf("%.1f%%", 100 * t * k)
      tmfu = (k == "-" || pt == "-") ? "-" : sprintf("%.1f%%", 100 * pt * k)
      printf "%-7s %11.0f %11s %6s %7s %7s %9.2f %7.2f %9.3f %9.2f %8s %8s\n",
        v, t, pt, ratio, mfu, tmfu, c, cm, io, el, mm, tm }')")
  say "$v: mn $where; summary $(field "$m" tokens_per_s) tokens/s, MFU $(field "$m" mfu) (whole run)"
done

# ---- the table ------------------------------------------------------------------------------
say
say "$(printf '%-7s %11s %11s %6s %7s %7s %9s %7s %9s %9s %8s %8s' variant mn_tok/s torch_tok/s \
  mn/pt mn_MFU pt_MFU compute_s comm_s io_wait_s elapsed_s mn_MiB pt_MiB)"
for r in "${rows[@]}"; do say "$r"; done
say
say "model: gpt vocab $vocab (padded to a multiple of 64), context $context, $layers blocks, $heads heads,"
say "  width $width; batch $batch x $context tokens; AdamW; $steps steps; mn's tokens/s from its"
say "  metrics records, from the first at or after step $warmup to the last; MFU: mn's FLOPs per"
say "  token (6 N + 6 L C T) over mn's peak for this GPU and precision (compute.peak_tflops or by"
say "  name), PyTorch's over the same; mn/pt = mn tokens/s / PyTorch tokens/s;"
say "  *_MiB: the most GPU memory in use during the run (nvidia-smi, every 0.5 s)"
((have_torch)) && [ -n "$torch_version" ] &&
  say "pytorch $torch_version on $device, tokens already on the device, $((steps - warmup)) timed steps after $warmup"
if [ "$device" = gpu ]; then
  say "gpu: $(nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader 2>/dev/null | head -n 1)"
else
  say "device: cpu (MN_BENCH_DEVICE=cpu: a dry run of the script, not a GPU figure)"
fi
say "mn $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
say "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); $(date -u '+%F %H:%M UTC')"
if [ -n "${OUT:-}" ]; then
  mkdir -p "$OUT/gpt_gpu"
  cp -r "$log"/. "$OUT/gpt_gpu/"
  echo "logs and the table in $OUT/gpt_gpu"
fi
