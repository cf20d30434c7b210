#!/usr/bin/env bash
# bench/snapshot_cost.sh: what snapshots cost training, and how fast a stop signal ends a
# run, on the quickstart model (784,1024,1024,10: 1.86 M parameters, 14.9 MB of parameters
# and momentum per snapshot), batch 128 per rank.
# A benchmark that prints figures, not a test: record them in docs/benchmarks.md.
#
#   bench/snapshot_cost.sh [NP] [STEPS] [EVERY] [REPEATS]   (default 2 300 10 3)
#
# Side by side in one run, alternating: training with snapshots off, and with a snapshot
# every EVERY steps; the table gives medians over the repeats and the ratio of samples/s.
# From the metrics file: each write's time in the writer thread (write_s) and the pause it
# caused on rank 0 (stall_s). Then SIGTERM to mnrun after step 100: the time to exit 75.
set -euo pipefail
cd "$(dirname "$0")/.."
np=${1:-2}
steps=${2:-300}
every=${3:-10}
repeats=${4:-3}
bin=build/bin
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

"$bin/mnprep" teacher --out "$tmp/b" --samples 60000 --val 0 >/dev/null
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
interval = 50
progress = plain
[snapshot]
dir = $tmp/snap
keep = 2
CONF

field() { grep '"event":"summary"' "$1" | grep -o "\"$2\":[^,}]*" | cut -d: -f2; }
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

: >"$tmp/off" && : >"$tmp/on" && : >"$tmp/write" && : >"$tmp/stall"
for r in $(seq "$repeats"); do
  rm -rf "$tmp/snap"
  "$bin/mnrun" -np "$np" "$tmp/b.conf" --set snapshot.enabled=false --metrics "$tmp/m.jsonl" \
    >/dev/null 2>&1
  field "$tmp/m.jsonl" samples_per_s >>"$tmp/off"
  rm -rf "$tmp/snap"
  "$bin/mnrun" -np "$np" "$tmp/b.conf" --set snapshot.every_steps="$every" \
    --metrics "$tmp/m.jsonl" >/dev/null 2>&1
  field "$tmp/m.jsonl" samples_per_s >>"$tmp/on"
  grep '"event":"snapshot"' "$tmp/m.jsonl" | grep -o '"write_s":[^,}]*' | cut -d: -f2 >>"$tmp/write"
  grep '"event":"snapshot"' "$tmp/m.jsonl" | grep -o '"stall_s":[^,}]*' | cut -d: -f2 >>"$tmp/stall"
done
off=$(median <"$tmp/off")
on=$(median <"$tmp/on")
size=$(stat -c %s "$(ls "$tmp"/snap/step-*.h5 | tail -n 1)")
step_ms=$(awk -v s="$off" -v np="$np" 'BEGIN { printf "%.1f", 1000 * 128 * np / s }')
echo "world $np, $steps steps, snapshot every $every steps ($(wc -l <"$tmp/write") writes of $((size / 1000)) kB), $repeats repeats"
printf "  samples/s  snapshots off %.0f, on %.0f: ratio on/off %.3f (step %s ms)\n" "$off" "$on" \
  "$(awk -v a="$on" -v b="$off" 'BEGIN { print a / b }')" "$step_ms"
printf "  write (writer thread) median %.4f s, max %.4f s\n" "$(median <"$tmp/write")" \
  "$(sort -g "$tmp/write" | tail -n 1)"
printf "  training paused on rank 0 per snapshot: median %.4f s, max %.4f s\n" \
  "$(median <"$tmp/stall")" "$(sort -g "$tmp/stall" | tail -n 1)"

# Signal to exit: SIGTERM to mnrun once step 100 has been logged.
rm -rf "$tmp/snap"
"$bin/mnrun" -np "$np" "$tmp/b.conf" --set schedule.max_steps=100000 >"$tmp/out" 2>"$tmp/err" &
pid=$!
for _ in $(seq 1200); do grep -q "step 100/" "$tmp/out" 2>/dev/null && break; sleep 0.05; done
t0=$(date +%s.%N)
kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
t1=$(date +%s.%N)
printf "  SIGTERM to mnrun -> exit %d in %.2f s (%s)\n" "$rc" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" \
  "$(grep -o 'stop requested.*\|stopped with a snapshot [0-9.]* s' "$tmp/err" | tr '\n' ' ')"
