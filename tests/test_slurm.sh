# test_slurm.sh: slurm/train.sbatch on a real Slurm (munge, slurmctld and slurmd started
# on this machine by tests/slurm_cluster.sh): a 2-rank job stopped by
# scancel --signal=USR1 --batch writes a stop snapshot, exits 75, requeues itself, runs
# again with SLURM_RESTART_COUNT=1, resumes from that very snapshot and finishes (exit 0,
# final snapshot); the job is submitted from another directory without MN_BIN (the script
# finds mnrun through its own repository), and mnrun reads the allocation itself: every
# task (-np left out) as an srun step. Also mnrun --launcher srun: --mpi=pmix starts mntrain's ranks, and a
# stop request to mnrun reaches every rank through srun (SIGUSR1). Needs root and the
# Debian packages slurm-wlm and munge; without them it says why and exits 77 (skipped).
. "$MN_SRC/tests/lib.sh"
. "$MN_SRC/tests/slurm_cluster.sh"

why=$(slurm_cluster_missing)
if [ -n "$why" ]; then
  echo "SKIP: $why"
  exit 77
fi
t_start=$SECONDS

# wait_for SECONDS DESC CMD...: poll CMD every 0.5 s; fail (and return 1) on timeout. The
# bound is multiplied by MN_TEST_TIME_SCALE (tests/sanitize.sh sets it: instrumented
# programs run several times slower).
wait_for() {
  local limit=$(($1 * ${MN_TEST_TIME_SCALE:-1})) desc=$2
  shift 2
  if slurm_cluster_wait "$limit" "$@"; then return 0; fi
  fail "$desc: not within $limit s"
  return 1
}
ended="COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY|BOOT_FAIL|DEADLINE"
job_field() { scontrol show job "$1" 2>/dev/null | grep -o "$2=[^ ]*" | head -n 1 | cut -d= -f2; }
show_out() { sed 's/^/  | /' "$1" | grep -v '| epoch [0-9]* done\|(epoch) written' | tail -n 30 >&2; }

if ! slurm_cluster_start "$MN_TMP/slurm"; then
  fail "the Slurm cluster did not start"
  finish
fi
pass "slurm cluster up (munged, slurmctld, slurmd) in $((SECONDS - t_start)) s"

# 4,000 samples, batch 8 on 2 ranks: 250 steps per epoch; 60 epochs last 10-20 s here, so
# the first run is still training when it is stopped.
"$MN_BIN/mnprep" teacher --out "$MN_TMP/t" --samples 4000 --val 500 --dim 32 --classes 4 \
  --seed 3 >/dev/null || fail "mnprep teacher"
cat >"$MN_TMP/t.conf" <<CONF
[model]
layers = 32,512,512,4
[data]
train = $MN_TMP/t-train.h5
val = $MN_TMP/t-val.h5
batch_size = 8
[optimizer]
lr = 0.02
momentum = 0.9
[schedule]
epochs = 60
[log]
interval = 250
progress = plain
[snapshot]
dir = $MN_TMP/snap
CONF
total_steps=15000
cp "$MN_TMP/t.conf" "$MN_TMP/t60.conf" # 60 epochs for the srun job below: still training when stopped

# ---- train.sbatch: stop, requeue, resume, finish ----
# Submitted from a directory outside the repository, as users do. When the programs are in
# the repository's build/bin, MN_BIN is left unset: train.sbatch must find mnrun itself
# (sbatch runs a copy of the script, so not through $0).
out="$MN_TMP/job.out"
mkdir -p "$MN_TMP/elsewhere"
unset_bin=()
if [ "$(cd "$MN_BIN" && pwd)" = "$(cd "$MN_SRC/build/bin" 2>/dev/null && pwd)" ]; then
  unset_bin=(-u MN_BIN)
  pass "submitting without MN_BIN (the programs are in the repository's build/bin)"
else
  echo "note: MN_BIN=$MN_BIN is not the repository's build/bin: train.sbatch gets MN_BIN"
fi
export MN_BIN
job=$(cd "$MN_TMP/elsewhere" && env "${unset_bin[@]}" sbatch --parsable -n 2 -o "$out" \
  "$MN_SRC/slurm/train.sbatch" "$MN_TMP/t.conf" -v)
if [ -z "$job" ]; then
  fail "sbatch refused the job"
  finish
fi
pass "submitted job $job"

if wait_for 60 "job $job: training under way (epoch 2 done)" grep -q '^epoch 2 done' "$out"; then
  t_sig=$SECONDS
  scancel --signal=USR1 --batch "$job" || fail "scancel --signal=USR1 --batch $job"
  if wait_for 30 "job $job requeued after the stop (Restarts=1)" \
    sh -c "scontrol show job $job | grep -q 'Restarts=1'"; then
    pass "job $job stopped and requeued $((SECONDS - t_sig)) s after the signal"
  fi
  grep -q 'mn-train: mnrun exited 75' "$out" && pass "the stopped run exited 75" ||
    fail "the stopped run did not exit 75"
  grep -q "with $(cd "$MN_BIN" && pwd)/mnrun" "$out" && pass "train.sbatch found mnrun ($MN_BIN)" ||
    fail "train.sbatch did not use $MN_BIN/mnrun: $(grep 'mn-train: job' "$out" | head -n 1)"
  grep -q "running: .*srun --ntasks=2 " "$out" &&
    pass "mnrun read the allocation: 2 ranks (-np left out) as an srun step" ||
    fail "mnrun did not start 2 ranks through srun: $(grep 'running:' "$out" | head -n 1)"
  stop_snap=$("$MN_BIN/mninfo" --latest "$MN_TMP/snap" 2>/dev/null)
  if [ -n "$stop_snap" ] && "$MN_BIN/mninfo" "$stop_snap" | grep -qE '^reason +stop'; then
    pass "stop snapshot $(basename "$stop_snap")"
  else
    fail "no stop snapshot in $MN_TMP/snap (newest: '$stop_snap')"
  fi

  # The requeued run reads the config again: a shorter schedule (2 or 3 epochs after the
  # stop) keeps the rest of the test short, also under the sanitizers.
  stop_step=$(basename "${stop_snap:-step-000000000.h5}" .h5)
  stop_step=$((10#${stop_step#step-}))
  epochs=$((stop_step / 250 + 3))
  sed -i "s/^epochs = 60\$/epochs = $epochs/" "$MN_TMP/t.conf"
  total_steps=$((epochs * 250))
  # A requeued job waits about 2 minutes (BeginTime) unless released. Not within the second
  # of the requeue: slurmd revokes the old run's credentials with a timestamp of whole
  # seconds, and a new run's credential of that same second is refused too ("Killing
  # non-startable batch job: Job credential revoked"; seen under the sanitizers).
  sleep 2
  scontrol update jobid="$job" StartTime=now || fail "scontrol update StartTime=now"
  if wait_for 120 "job $job ended after its restart" \
    sh -c "scontrol show job $job | grep -qE 'JobState=($ended)'"; then
    [ "$(job_field "$job" JobState)" = COMPLETED ] && pass "job $job completed" ||
      fail "job $job ended $(job_field "$job" JobState)"
  fi
  [ "$(job_field "$job" ExitCode)" = "0:0" ] || fail "job $job: ExitCode $(job_field "$job" ExitCode)"
  grep -q "job $job run 2 on" "$out" && pass "second run saw SLURM_RESTART_COUNT=1" ||
    fail "no second run in the output"
  if [ -n "$stop_snap" ] && grep -q "resuming from $stop_snap" "$out"; then
    pass "the second run resumed from the stop snapshot"
  else
    fail "the second run did not resume from '$stop_snap'"
  fi
  grep -q '^done: ' "$out" && pass "training finished (done: summary)" || fail "no done: summary"
  grep -q 'mn-train: mnrun exited 0' "$out" || fail "the second run did not exit 0"
  final=$("$MN_BIN/mninfo" --latest "$MN_TMP/snap" 2>/dev/null)
  if [ -n "$final" ] && "$MN_BIN/mninfo" "$final" | grep -qE '^reason +final' &&
    [ "$(basename "$final")" = "$(printf 'step-%09d.h5' "$total_steps")" ]; then
    pass "final snapshot $(basename "$final")"
  else
    fail "no final snapshot of step $total_steps (newest: '$final')"
  fi
fi
[ "$fails" -ne 0 ] && show_out "$out"

# ---- mnrun --launcher srun (launch_srun.c) ----
# srun --mpi=pmix starts the ranks; SIGTERM to mnrun becomes SIGUSR1 to srun, which every
# rank gets as a stop request: mnrun exits 75 after a stop snapshot. The signal goes once
# the first epoch's snapshot is on disk (not on the "epoch 1 done" line of the job's output,
# which srun's pipes may hold back until the run has ended).
cat >"$MN_TMP/srun.sh" <<'EOF'
#!/bin/bash
"$MN_BIN/mnrun" -np 2 --launcher srun --set snapshot.dir="$SNAPS" "$CONF" &
pid=$!
for i in $(seq 1 600); do compgen -G "$SNAPS/step-*.h5" >/dev/null && break; sleep 0.1; done
kill -TERM $pid
wait $pid
echo "mnrun exited $?"
EOF
out2="$MN_TMP/srun.out"
sjob=$(MN_BIN="$MN_BIN" SNAPS="$MN_TMP/snap-srun" CONF="$MN_TMP/t60.conf" OUT="$out2" \
  sbatch --parsable -n 2 -o "$out2" "$MN_TMP/srun.sh")
if [ -n "$sjob" ] && wait_for 90 "srun job $sjob ended" \
  sh -c "scontrol show job $sjob | grep -qE 'JobState=($ended)'"; then
  grep -q 'mnrun exited 75' "$out2" && pass "mnrun --launcher srun: stopped by SIGTERM, exit 75" ||
    fail "mnrun --launcher srun did not exit 75"
  snap=$("$MN_BIN/mninfo" --latest "$MN_TMP/snap-srun" 2>/dev/null)
  [ -n "$snap" ] && "$MN_BIN/mninfo" "$snap" | grep -qE '^reason +stop' && pass "srun ranks wrote a stop snapshot" ||
    fail "no stop snapshot from the srun ranks"
  [ "$fails" -ne 0 ] && show_out "$out2"
fi

# ---- slurm/bench.sbatch: mnbench across the allocation (srun workers, mnrun training) ----
out3="$MN_TMP/bench.out"
bjob=$(MN_BIN="$MN_BIN" MN_BENCH_DIR="$MN_TMP/bench" sbatch --parsable -n 2 -o "$out3" \
  "$MN_SRC/slurm/bench.sbatch" "$MN_TMP/t.conf" --np 1,2 --min-bytes 4K --max-bytes 64K \
  --iters 2 --warmup 1 --steps 20 --set snapshot.enabled=false)
if [ -n "$bjob" ] && wait_for 120 "bench job $bjob ended" \
  sh -c "scontrol show job $bjob | grep -qE 'JobState=($ended)'"; then
  [ "$(job_field "$bjob" ExitCode)" = "0:0" ] && pass "bench.sbatch exited 0" ||
    fail "bench.sbatch: ExitCode $(job_field "$bjob" ExitCode)"
  j="$MN_TMP/bench/mnbench.json"
  grep -q '"ranks":2,"ok":true,"path":"host"' "$j" 2>/dev/null &&
    pass "the allreduce sweep ran at 2 ranks in the allocation" || fail "no allreduce at 2 ranks in $j"
  grep -q '"ranks":2,"ok":true,"batch_per_rank"' "$j" 2>/dev/null &&
    pass "the training sweep ran at 2 ranks in the allocation" || fail "no training at 2 ranks in $j"
  grep -q 'mn reaches' "$MN_TMP/bench/table.txt" 2>/dev/null && pass "bench.sbatch wrote the table" ||
    fail "no table from bench.sbatch"
  [ "$fails" -ne 0 ] && show_out "$out3"
fi

# ---- slurm/sweep.sbatch: 1 and 2 ranks, mnrun reading the allocation (from elsewhere) ----
out4="$MN_TMP/sweep.out"
wjob=$(cd "$MN_TMP/elsewhere" && env "${unset_bin[@]}" MN_SWEEP_DIR="$MN_TMP/sweep" \
  sbatch --parsable -n 2 -o "$out4" "$MN_SRC/slurm/sweep.sbatch" "$MN_TMP/t.conf" 1 2 -- \
  --set schedule.epochs=1)
if [ -n "$wjob" ] && wait_for 120 "sweep job $wjob ended" \
  sh -c "scontrol show job $wjob | grep -qE 'JobState=($ended)'"; then
  [ "$(job_field "$wjob" ExitCode)" = "0:0" ] && pass "sweep.sbatch exited 0" ||
    fail "sweep.sbatch: ExitCode $(job_field "$wjob" ExitCode)"
  [ "$(awk '$1 ~ /^[12]$/ && $4 ~ /%$/' "$out4" | wc -l)" = 2 ] &&
    pass "sweep.sbatch measured 1 and 2 ranks" || fail "no sweep rows for 1 and 2 ranks"
  [ "$fails" -ne 0 ] && show_out "$out4"
fi

echo "test_slurm: $((SECONDS - t_start)) s"
finish
