#!/usr/bin/env bash
# bench/train_cpu.sh: samples/s of the CPU backend on 784,1024,1024,10 with batch 128 per
# rank, at world 1 and 2, with the compute / comm / io-wait split from mn's metrics, and
# PyTorch's step on the same model, batch and threads in the same run when it is importable.
# A benchmark that prints figures, not a test: record them in docs/benchmarks.md.
#
#   bench/train_cpu.sh [STEPS]        (default 300 steps per run)
#   MN_PYTHON=/path/to/python bench/train_cpu.sh   (a python with torch; default python3)
set -euo pipefail
cd "$(dirname "$0")/.."
steps=${1:-300}
bin=build/bin
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
CONF

field() { grep '"event":"summary"' "$1" | grep -o "\"$2\":[^,}]*" | cut -d: -f2; }

printf '%-34s %12s %10s %10s %10s %10s\n' run samples/s step_ms compute_s comm_s io_wait_s
run_mn() { # run_mn LABEL THREADS NP
  local m="$tmp/m.jsonl"
  "$bin/mnrun" -np "$3" --threads "$2" "$tmp/b.conf" --metrics "$m" >/dev/null
  local sps; sps=$(field "$m" samples_per_s)
  printf '%-34s %12.0f %10.2f %10.2f %10.2f %10.2f\n' "$1" "$sps" \
    "$(awk "BEGIN{print 1000*128*$3/$sps}")" "$(field "$m" compute_s)" "$(field "$m" comm_s)" \
    "$(field "$m" io_wait_s)"
}
run_torch() { # run_torch THREADS
  local out
  if out=$("$py" bench/torch_mlp.py --threads "$1" --steps "$steps" 2>/dev/null); then
    local sps ms; sps=$(grep -o 'samples_per_s=[0-9.]*' <<<"$out" | cut -d= -f2)
    ms=$(grep -o 'step_ms=[0-9.]*' <<<"$out" | cut -d= -f2)
    printf '%-34s %12.0f %10.2f %10s %10s %10s\n' "pytorch, 1 process, $1 thread(s)" "$sps" "$ms" - - -
  else
    echo "pytorch, $1 thread(s): not importable with $py (pip install torch; MN_PYTHON=...)"
  fi
}
run_mn "mn world 1, 1 thread" 1 1
run_torch 1
run_mn "mn world 1, 2 threads" 2 1
run_torch 2
run_mn "mn world 2, 1 thread each" 1 2
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); $(date -u +%F)"
