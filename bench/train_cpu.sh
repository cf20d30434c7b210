#!/usr/bin/env bash
# bench/train_cpu.sh: samples/s of the CPU backend on 784,1024,1024,10 with batch 128 per
# rank, at world 1 and 2, with the compute / comm / io-wait split from mn's metrics, and
# PyTorch's step on the same model, batch and threads in the same run when it is importable.
# A benchmark that prints figures, not a test: record them in docs/benchmarks.md.
#
#   bench/train_cpu.sh [STEPS] [REPEATS]   (default 300 steps per run, 3 repeats)
# The runs of a repeat go one after the other (mn, then PyTorch, at each thread count),
# and the table gives each run's median over the repeats: the machine may be shared.
#   MN_PYTHON=/path/to/python bench/train_cpu.sh   (a python with torch; default python3)
#   MN_BASE_BIN=/path/to/old/bin bench/train_cpu.sh (also runs an earlier build's mnrun, in
#     the same repeats, for a before/after ratio of mn itself)
set -euo pipefail
cd "$(dirname "$0")/.."
steps=${1:-300}
repeats=${2:-3}
bin=build/bin
base=${MN_BASE_BIN:-}
py=${MN_PYTHON:-python3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

"$bin/mnprep" teacher --out "$tmp/b" --samples 40000 --val 0 --dim 784 --classes 10 >/dev/null
cat >"$tmp/b.conf" <<CONF
[model]
layers = 784,1024,1024,10
[data]
train = $tmp/b-train.h5
batch_size = 128
[optimizer]
lr = 0.01
[schedule]
epochs = 1000
max_steps = $steps
[log]
interval = 1000000
progress = off
[snapshot]
enabled = false
CONF

field() { grep '"event":"summary"' "$1" | grep -o "\"$2\":[^,}]*" | cut -d: -f2; }

# One run of each kind per repeat; results/<label> collects "samples/s step_ms compute comm io".
mkdir -p "$tmp/results"
run_mn() { # run_mn LABEL THREADS NP [BIN]
  local m="$tmp/m.jsonl"
  rm -f "$m"
  "${4:-$bin}/mnrun" -np "$3" --threads "$2" "$tmp/b.conf" --metrics "$m" >/dev/null
  local sps; sps=$(field "$m" samples_per_s)
  awk -v sps="$sps" -v np="$3" -v c="$(field "$m" compute_s)" -v m="$(field "$m" comm_s)" \
    -v io="$(field "$m" io_wait_s)" \
    'BEGIN { printf "%.0f %.2f %.2f %.2f %.2f\n", sps, 1000 * 128 * np / sps, c, m, io }' \
    >>"$tmp/results/$1"
}
run_torch() { # run_torch LABEL THREADS
  local out
  out=$("$py" bench/torch_mlp.py --threads "$2" --steps "$steps" 2>/dev/null) || return 1
  echo "$(grep -o 'samples_per_s=[0-9.]*' <<<"$out" | cut -d= -f2)" \
    "$(grep -o 'step_ms=[0-9.]*' <<<"$out" | cut -d= -f2) - - -" >>"$tmp/results/$1"
}
have_torch=1
"$py" -c 'import torch' 2>/dev/null || {
  have_torch=0
  echo "pytorch: not importable with $py (pip install torch, then MN_PYTHON=that python)"
}
labels=("mn world 1, 1 thread" "pytorch, 1 process, 1 thread" "mn world 1, 2 threads"
  "pytorch, 1 process, 2 threads" "mn world 2, 1 thread each" "base world 1, 1 thread"
  "base world 2, 1 thread each")
for ((i = 0; i < repeats; i++)); do
  run_mn "${labels[0]}" 1 1
  [ -n "$base" ] && run_mn "${labels[5]}" 1 1 "$base"
  ((have_torch)) && run_torch "${labels[1]}" 1
  run_mn "${labels[2]}" 2 1
  ((have_torch)) && run_torch "${labels[3]}" 2
  run_mn "${labels[4]}" 1 2
  [ -n "$base" ] && run_mn "${labels[6]}" 1 2 "$base"
done

median() { # the median line of a results file, by samples/s
  sort -g "$1" | awk '{ l[NR] = $0 } END { print l[int((NR + 1) / 2)] }'
}
printf '%-32s %11s %9s %10s %8s %10s %10s\n' run samples/s step_ms compute_s comm_s io_wait_s \
  "min-max samples/s"
for l in "${labels[@]}"; do
  [ -f "$tmp/results/$l" ] || continue
  read -r sps ms comp comm io <<<"$(median "$tmp/results/$l")"
  range=$(sort -g "$tmp/results/$l" | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%.0f-%.0f", lo, hi }')
  printf '%-32s %11.0f %9.2f %10s %8s %10s %10s\n' "$l" "$sps" "$ms" "$comp" "$comm" "$io" "$range"
done
echo "ratios of medians: mn/pytorch 1 thread, 2 threads; world 2 / world 1 (1 thread):"
r() { awk "BEGIN { printf \"%.2f\", $(median "$tmp/results/$1" | cut -d' ' -f1) / $(median "$tmp/results/$2" | cut -d' ' -f1) }"; }
if ((have_torch)); then
  echo "  $(r "${labels[0]}" "${labels[1]}")  $(r "${labels[2]}" "${labels[3]}")  $(r "${labels[4]}" "${labels[0]}")"
else
  echo "  -  -  $(r "${labels[4]}" "${labels[0]}")"
fi
[ -n "$base" ] && echo "mn / base ($base): world 1 $(r "${labels[0]}" "${labels[5]}"), world 2 $(r "${labels[4]}" "${labels[6]}")"
echo "steps per run: $steps, repeats: $repeats, batch 128 per rank, 784,1024,1024,10"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); $(date -u +%F)"
