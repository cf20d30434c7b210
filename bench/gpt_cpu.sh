#!/usr/bin/env bash
# bench/gpt_cpu.sh: tokens/s of mn's GPT on the CPU beside PyTorch's on the same GPT, batch,
# sequence length and threads, in one run, at world 1 and 2; then where mn's step time goes,
# op by op (mn_gpt_ops). A benchmark that prints figures, not a test: record them in
# docs/benchmarks.md ("GPT on the CPU").
#
#   bench/gpt_cpu.sh [STEPS] [REPEATS]   (default 30 steps per run, 3 repeats)
#
# Model (small enough for seconds per step on 2 cores): [model] type = gpt, vocab 256,
# context 128, 4 blocks, 4 heads, width 128 (842,496 parameters); batch 8 sequences per rank
# (1024 tokens); AdamW (lr 3e-4, weight decay 0.1); fp32. Data: random tokens in [0, 256),
# written as an llm.c shard and converted by `mnprep tokens --vocab 256` (mn reads them from
# HDF5 in its loader thread; PyTorch's are random tokens already in memory).
# Runs of one repeat, one after the other: mn then PyTorch at world 1 with 1 thread, at
# world 1 with 2 threads, and at world 2 with 1 thread per rank (mn: mnrun -np 2 --threads 1;
# PyTorch: bench/torch_gpt.py --world 2, DistributedDataParallel over gloo, 2 processes of 1
# thread). The table gives each run's median over the repeats and the range.
#   mn's tokens/s: the --metrics summary's tokens_per_s (all steps, set-up excluded);
#   PyTorch's: STEPS timed steps after 3 untimed ones (bench/torch_gpt.py).
#   MFU = tokens/s x FLOPs per token (6 N + 6 L C T, mn_model_flops_per_row) / peak, the
#   peak being mn_gemm_rate --cpu's rate on 1024 x 1024 x 1024 GEMMs at 1 thread (an
#   achievable peak per core, measured at the start of the run) x the cores the run uses.
# Then mn_gpt_ops times every kernel-table op of mn's step (no allreduce, no loader) at 1
# and 2 GEMM threads: the split of the step into GEMMs, attention and the rest.
#
# Environment: MN_PYTHON (a python with torch; default /usr/bin/python3, Debian's
# python3-torch), MN_BUILD (build directory, default build).
set -euo pipefail
cd "$(dirname "$0")/.."
steps=${1:-30}
repeats=${2:-3}
bin=${MN_BUILD:-build}/bin
py=${MN_PYTHON:-/usr/bin/python3}
vocab=256 context=128 layers=4 heads=4 width=128 batch=8
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
for p in mnrun mntrain mnprep mn_gemm_rate mn_gpt_ops; do
  [ -x "$bin/$p" ] || { echo "gpt_cpu.sh: $bin/$p is missing (build it, or set MN_BUILD)" >&2 && exit 66; }
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# ---- data: 1 M random tokens as an llm.c shard, then mn's token HDF5 ----
python3 - "$tmp/r.bin" "$vocab" <<'PY'
import random, struct, sys
path, vocab, n = sys.argv[1], int(sys.argv[2]), 1 << 20
rng = random.Random(1)
with open(path, "wb") as f:
    f.write(struct.pack("<256i", 20240520, 1, n, *([0] * 253)))
    f.write(struct.pack(f"<{n}H", *(rng.randrange(vocab) for _ in range(n))))
PY
"$bin/mnprep" tokens --out "$tmp/r.h5" --vocab "$vocab" "$tmp/r.bin" >/dev/null
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
[log]
interval = 1000000
progress = off
[snapshot]
enabled = false
CONF

# ---- the peak: GEMM rate of one core ----
peak=$(OPENBLAS_NUM_THREADS=1 "$bin/mn_gemm_rate" --cpu --width 1024 --batch 1024 --iters 10 --warmup 2 |
  grep -o ' gflops=[0-9.]*' | cut -d= -f2)
fpt=$(OPENBLAS_NUM_THREADS=1 "$bin/mn_gpt_ops" --steps 1 --warmup 0 "$tmp/g.conf" |
  grep -o 'flops_per_token=[0-9]*' | cut -d= -f2)

field() { grep '"event":"summary"' "$1" | tail -n 1 | grep -o "\"$2\":[^,}]*" | cut -d: -f2; }

# results/<label>: one line per repeat, "tokens/s step_ms compute_s comm_s io_wait_s"
mkdir -p "$tmp/results"
run_mn() { # run_mn LABEL THREADS NP
  local m="$tmp/m.jsonl"
  rm -f "$m"
  "$bin/mnrun" -np "$3" --threads "$2" "$tmp/g.conf" --metrics "$m" >"$tmp/mn.log" 2>&1 || {
    echo "gpt_cpu.sh: mn ($1) failed:" >&2 && tail -n 5 "$tmp/mn.log" >&2 && exit 70
  }
  awk -v tps="$(field "$m" tokens_per_s)" -v np="$3" -v c="$(field "$m" compute_s)" \
    -v cm="$(field "$m" comm_s)" -v io="$(field "$m" io_wait_s)" -v tok="$((batch * context))" \
    'BEGIN { printf "%.0f %.2f %.2f %.2f %.2f\n", tps, 1000 * tok * np / tps, c, cm, io }' \
    >>"$tmp/results/$1"
}
run_torch() { # run_torch LABEL THREADS WORLD
  local out
  out=$("$py" bench/torch_gpt.py --vocab $vocab --context $context --layers $layers \
    --heads $heads --width $width --batch $batch --threads "$2" --world "$3" --steps "$steps" \
    --warmup 3 2>"$tmp/torch.err") || {
    echo "gpt_cpu.sh: pytorch ($1) failed: $(tail -n 1 "$tmp/torch.err")" >&2 && return 0
  }
  torch_line=$out
  echo "$(grep -o 'tokens_per_s=[0-9.]*' <<<"$out" | cut -d= -f2)" \
    "$(grep -o 'step_ms=[0-9.]*' <<<"$out" | cut -d= -f2) - - -" >>"$tmp/results/$1"
}
have_torch=1
torch_line=
"$py" -c 'import torch' 2>/dev/null || {
  have_torch=0
  echo "pytorch: not importable with $py (apt-get install python3-torch, or MN_PYTHON=a python with torch)"
}
labels=("mn world 1, 1 thread" "pytorch world 1, 1 thread" "mn world 1, 2 threads"
  "pytorch world 1, 2 threads" "mn world 2, 1 thread each" "pytorch world 2, 1 thread each")
cores=(1 1 2 2 2 2) # cores each run uses, for MFU
for ((i = 0; i < repeats; i++)); do
  run_mn "${labels[0]}" 1 1
  ((have_torch)) && run_torch "${labels[1]}" 1 1
  run_mn "${labels[2]}" 2 1
  ((have_torch)) && run_torch "${labels[3]}" 2 1
  run_mn "${labels[4]}" 1 2
  ((have_torch)) && run_torch "${labels[5]}" 1 2
done

median() { # the median line of a results file, by tokens/s
  sort -g "$1" | awk '{ l[NR] = $0 } END { print l[int((NR + 1) / 2)] }'
}
printf '%-32s %9s %9s %6s %10s %8s %10s %16s\n' run tokens/s step_ms MFU compute_s comm_s \
  io_wait_s "min-max tokens/s"
for j in "${!labels[@]}"; do
  l=${labels[$j]}
  [ -f "$tmp/results/$l" ] || continue
  read -r tps ms comp comm io <<<"$(median "$tmp/results/$l")"
  range=$(sort -g "$tmp/results/$l" | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%.0f-%.0f", lo, hi }')
  mfu=$(awk -v t="$tps" -v f="$fpt" -v p="$peak" -v c="${cores[$j]}" 'BEGIN { printf "%.1f%%", 100 * t * f / (p * 1e9 * c) }')
  printf '%-32s %9.0f %9.2f %6s %10s %8s %10s %16s\n' "$l" "$tps" "$ms" "$mfu" "$comp" "$comm" "$io" "$range"
done
r() { awk "BEGIN { printf \"%.2f\", $(median "$tmp/results/$1" | cut -d' ' -f1) / $(median "$tmp/results/$2" | cut -d' ' -f1) }"; }
if ((have_torch)) && [ -f "$tmp/results/${labels[1]}" ] && [ -f "$tmp/results/${labels[3]}" ] &&
  [ -f "$tmp/results/${labels[5]}" ]; then
  echo "ratios of medians, mn/pytorch: world 1 1 thread $(r "${labels[0]}" "${labels[1]}")," \
    "world 1 2 threads $(r "${labels[2]}" "${labels[3]}"), world 2 $(r "${labels[4]}" "${labels[5]}")"
fi
echo "world 2 / world 1 (1 thread): mn $(r "${labels[4]}" "${labels[0]}")$( ((have_torch)) &&
  [ -f "$tmp/results/${labels[5]}" ] && echo ", pytorch $(r "${labels[5]}" "${labels[1]}")")"
echo "model: gpt vocab $vocab, context $context, $layers blocks, $heads heads, width $width;" \
  "batch $batch per rank; AdamW; $steps steps per run, $repeats repeats"
echo "MFU: $fpt FLOPs per token (6 N + 6 L C T) over a peak of $peak GFLOP/s per core" \
  "(mn_gemm_rate --cpu, 1024^3, 1 thread) x the cores of the run"
[ -n "$torch_line" ] && echo "pytorch: $(grep -o 'version=[^ ]*' <<<"$torch_line"), attention" \
  "$(grep -o 'attention=[^ ]*' <<<"$torch_line" | cut -d= -f2), $py"

# ---- where mn's step time goes ----
for t in 1 2; do
  echo
  OPENBLAS_NUM_THREADS=$t "$bin/mn_gpt_ops" --steps "$(((steps + 2) / 3))" --warmup 2 "$tmp/g.conf" |
    sed "s|$tmp/g.conf|the bench's config|"
done
echo
echo "mn $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD 2>/dev/null || echo ' (modified)')"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); $(date -u '+%F %H:%M UTC')"
