# test_mnrun_program.sh: `mnrun -- PROGRAM` with programs that do not use libmn (shell
# scripts written here), through real mpirun at world 2 and directly at world 1: the ranks'
# environment (torchrun's RANK ... MASTER_ADDR, MASTER_PORT: a PyTorch DDP script meets and
# reduces through them), signals passed on as sent, teardown when a rank fails (and nothing of the
# program left behind), exit codes, usage errors, and supervision by exit for a program that
# never beats but by heartbeat once it has; a program on libmn (examples/custom): its
# heartbeat and its own report; mnrank alone, under each engine's variables
# (docs/launcher.md, "Programs").
. "$MN_SRC/tests/lib.sh"

mnrun="$MN_BIN/mnrun"
export TMPDIR="$MN_TMP/tmpdir" # mnrun's private directories: all removed at the end
mkdir -p "$TMPDIR"
tag="mnprog$$" # in the sleeping processes' command lines, for pgrep
# a failed check (a lost signal: mnrun killed by guard below) may leave a program sleeping:
# end those of this run, by their ids
trap 'kill -KILL $(pgrep -f "$tag") 2>/dev/null' EXIT

# wait_files N PATTERN: until N files match PATTERN (at most 60 s)
wait_files() {
  local i
  for ((i = 0; i < 600; i++)); do
    [ "$(compgen -G "$2" | wc -l)" -ge "$1" ] && return 0
    sleep 0.1
  done
  return 1
}

# left_behind: the programs' sleeping processes still running (named $tag by exec -a)
left_behind() { pgrep -f "$tag" | tr '\n' ' '; }

# ---- 1. the ranks' environment, at world 2 (mpirun) and 1 (direct) ----
cat >"$MN_TMP/env.sh" <<'EOF'
#!/bin/bash
# env.sh DIR ARGS...: write what this rank was told into DIR/<pid> (one file per process,
# so that two ranks told the same rank would show)
dir=$1
shift
read -r -a stat </proc/$$/stat # field 5: the process group
{
  for v in RANK LOCAL_RANK WORLD_SIZE LOCAL_WORLD_SIZE MN_RANK MN_LOCAL_RANK MN_WORLD_SIZE \
    MN_LOCAL_WORLD_SIZE MN_GPU MASTER_ADDR MASTER_PORT; do
    echo "$v=${!v-unset}"
  done
  echo "REPORT_DIR=${MN_REPORT_DIR:+set}"
  echo "OWN_GROUP=$([ "${stat[4]}" = $$ ] && echo yes || echo no)"
  printf 'ARGS=%s' "$#"
  printf ' [%s]' "$@"
  echo
} >"$dir/$$"
EOF
chmod +x "$MN_TMP/env.sh"

# values DIR NAME: NAME's values in every rank's file, sorted, on one line
values() { cat "$1"/* | sed -n "s/^$2=//p" | sort -n | tr '\n' ' '; }

for np in 2 1; do
  dir="$MN_TMP/env$np"
  mkdir -p "$dir"
  expect_exit 0 "world $np: the program ran on every rank" \
    "$mnrun" -np "$np" -- "$MN_TMP/env.sh" "$dir" a "two words" -- -np
  nfiles=$(ls "$dir" | wc -l)
  [ "$nfiles" = "$np" ] && pass "world $np: $np processes" || fail "world $np: $nfiles processes"
  want=$(seq 0 $((np - 1)) | tr '\n' ' ')
  sizes=$(printf "$np %.0s" $(seq "$np"))
  for v in RANK LOCAL_RANK MN_RANK MN_LOCAL_RANK; do
    got=$(values "$dir" $v)
    [ "$got" = "$want" ] && pass "world $np: $v is a permutation of 0..$((np - 1))" ||
      fail "world $np: $v values '$got', want '$want'"
  done
  for v in WORLD_SIZE LOCAL_WORLD_SIZE MN_WORLD_SIZE MN_LOCAL_WORLD_SIZE; do
    got=$(values "$dir" $v)
    [ "$got" = "$sizes" ] && pass "world $np: $v = $np on every rank" ||
      fail "world $np: $v values '$got', want '$sizes'"
  done
  for line in "MN_GPU=-1" "REPORT_DIR=set" "OWN_GROUP=yes" "ARGS=4 [a] [two words] [--] [-np]"; do
    n=$(cat "$dir"/* | grep -cxF -- "$line")
    [ "$n" = "$np" ] && pass "world $np: '$line' on every rank" ||
      fail "world $np: '$line' on $n of $np ranks: $(cat "$dir"/*)"
  done
  # torchrun's rendezvous: rank 0's host (this machine: the loopback address) and one port
  addr=$(values "$dir" MASTER_ADDR | tr ' ' '\n' | sort -u | tr '\n' ' ')
  port=$(values "$dir" MASTER_PORT | tr ' ' '\n' | sort -u | tr '\n' ' ')
  [ "$addr" = "127.0.0.1 " ] && [[ "$port" =~ ^[0-9]+\ $ ]] &&
    pass "world $np: MASTER_ADDR 127.0.0.1 and one MASTER_PORT ($port) on every rank" ||
    fail "world $np: MASTER_ADDR '$addr', MASTER_PORT '$port'"
done
dir="$MN_TMP/env-port"
mkdir -p "$dir"
expect_exit 0 "--master-port 29511" "$mnrun" -np 2 --master-port 29511 -- "$MN_TMP/env.sh" "$dir"
[ "$(values "$dir" MASTER_PORT)" = "29511 29511 " ] && pass "--master-port reaches both ranks" ||
  fail "--master-port 29511: MASTER_PORT $(values "$dir" MASTER_PORT)"
expect_exit 64 "--master-port with a train.conf" "$mnrun" --master-port 29511 "$MN_TMP/none.conf"
grep -q "is for a program" "$MN_TMP/err" || fail "--master-port with a train.conf: $(cat "$MN_TMP/err")"

# a PyTorch DDP script, as torchrun would start it: init_process_group from the environment
# (env://, gloo), an allreduce of rank + 1 over 2 ranks (= 3 on each)
if /usr/bin/python3 -c 'import torch.distributed as d; assert d.is_available()' 2>/dev/null; then
  cat >"$MN_TMP/ddp.py" <<'EOF'
import os, torch, torch.distributed as dist
dist.init_process_group("gloo")  # MASTER_ADDR, MASTER_PORT, RANK, WORLD_SIZE
t = torch.tensor([float(dist.get_rank() + 1)])
dist.all_reduce(t)
# one write per line (print writes the newline apart: mpirun may put the other rank between)
os.write(1, f"rank {dist.get_rank()} of {dist.get_world_size()}: sum {t.item():g}\n".encode())
dist.destroy_process_group()
EOF
  expect_exit 0 "a PyTorch DDP script under mnrun -np 2" "$mnrun" -np 2 -- /usr/bin/python3 \
    "$MN_TMP/ddp.py"
  [ "$(sort "$MN_TMP/out" | tr '\n' ' ')" = "rank 0 of 2: sum 3 rank 1 of 2: sum 3 " ] &&
    pass "torch.distributed met through mnrun's MASTER_ADDR/MASTER_PORT and reduced" ||
    fail "the DDP script printed: $(cat "$MN_TMP/out" "$MN_TMP/err")"
else
  echo "note: no PyTorch here (python3-torch): the DDP script is not run"
fi

# --dry-run shows the command: mpirun, mnrank told its engine, then the program's words; it
# runs nothing
mkdir -p "$MN_TMP/dry"
expect_exit 0 "--dry-run in program mode" \
  "$mnrun" -np 2 --dry-run -- "$MN_TMP/env.sh" "$MN_TMP/dry" "y z"
cmdline=$(grep -A1 '^command:' "$MN_TMP/out" | tail -n 1)
want="/mnrank --engine=mpirun -- $MN_TMP/env.sh $MN_TMP/dry 'y z'"
case "$cmdline" in
*mpirun*" -np 2 "*"$want") pass "--dry-run command" ;;
*) fail "--dry-run command: $cmdline" ;;
esac
[ -z "$(ls -A "$MN_TMP/dry")" ] || fail "--dry-run ran the program"

# ---- 2. signals: each rank's program gets the signal sent to mnrun, as it was sent ----
# stop.sh DIR: on INT, TERM, USR1 or USR2, write its name to DIR/got-RANK and exit 75
cat >"$MN_TMP/stop.sh" <<EOF
#!/bin/bash
dir=\$1
for s in INT TERM USR1 USR2; do
  trap "echo \$s >\$dir/got-\$RANK; exit 75" \$s
done
touch "\$dir/ready-\$RANK"
(exec -a $tag sleep 300) &
wait
EOF
chmod +x "$MN_TMP/stop.sh"

# stop_case NP SIG: mnrun runs stop.sh on NP ranks; once every rank is ready, SIG to mnrun
stop_case() {
  local np=$1 sig=$2 dir="$MN_TMP/stop-$1-$2"
  mkdir -p "$dir"
  "$mnrun" -np "$np" -- "$MN_TMP/stop.sh" "$dir" >"$dir.out" 2>"$dir.err" &
  local pid=$!
  guard 90 "$pid" >/dev/null 2>&1 &
  local g=$!
  wait_files "$np" "$dir/ready-*" || fail "np $np $sig: the ranks never got ready"
  local t0=$SECONDS
  kill -"$sig" "$pid"
  wait "$pid"
  local rc=$? took=$((SECONDS - t0))
  kill "$g" 2>/dev/null
  wait "$g" 2>/dev/null
  local got
  got=$(cat "$dir"/got-* 2>/dev/null | sort | uniq -c | awk '{printf "%s x%s ", $2, $1}')
  if [ "$rc" = 75 ] && [ "$got" = "$sig x$np " ]; then
    pass "np $np: SIG$sig to mnrun reached every rank's program as SIG$sig; exit 75 in $took s"
  else
    fail "np $np SIG$sig: exit $rc, ranks got '$got' (want 75 and '$sig x$np')"
    sed 's/^/  | /' "$dir.err" >&2
  fi
}
stop_case 2 TERM
stop_case 2 USR2
stop_case 2 INT
stop_case 1 TERM
stop_case 1 USR1
# A program that does not handle the signal dies of it: mnrun exits 128 + its number, as a
# shell would (not 69: no rank failed of its own).
cat >"$MN_TMP/plain.sh" <<EOF
#!/bin/bash
touch "\$1/ready-\$RANK"
(exec -a $tag sleep 300)
EOF
chmod +x "$MN_TMP/plain.sh"
for case in 2:TERM:143 1:INT:130; do
  IFS=: read -r np sig want <<<"$case"
  dir="$MN_TMP/plain-$np"
  mkdir -p "$dir"
  "$mnrun" -np "$np" -- "$MN_TMP/plain.sh" "$dir" >"$dir.out" 2>"$dir.err" &
  pid=$!
  guard 90 "$pid" >/dev/null 2>&1 &
  g=$!
  wait_files "$np" "$dir/ready-*" || fail "plain np $np: the ranks never got ready"
  kill -"$sig" "$pid"
  wait "$pid"
  rc=$?
  kill "$g" 2>/dev/null
  wait "$g" 2>/dev/null
  if [ "$rc" = "$want" ] && grep -q "killed by signal $((want - 128)) .* from mnrun" "$dir.err"
  then
    pass "np $np: a program without a handler, ended by SIG$sig: exit $rc"
  else
    fail "np $np: a program without a handler, SIG$sig: exit $rc, want $want"
    sed 's/^/  | /' "$dir.err" >&2
  fi
done
sleep 0.3
[ -z "$(left_behind)" ] || fail "signals: processes left: $(left_behind)"

# ---- 3. teardown: rank 1 fails at once, rank 0 would sleep for 300 s ----
# fail.sh MODE: rank 1 exits 3 (MODE exit) or kills itself with SIGKILL (MODE kill); rank 0
# sleeps, ignoring SIGTERM when MODE is deaf (then only SIGKILL ends it and its sleep)
cat >"$MN_TMP/fail.sh" <<EOF
#!/bin/bash
if [ "\$RANK" = 1 ]; then
  [ "\$1" = kill ] && kill -KILL \$\$
  exit 3
fi
[ "\$1" = deaf ] && trap '' TERM
(exec -a $tag sleep 300)
EOF
chmod +x "$MN_TMP/fail.sh"
for mode in exit deaf kill; do
  start=$SECONDS
  "$mnrun" -np 2 --fail-timeout 10 -- "$MN_TMP/fail.sh" $mode >"$MN_TMP/fail-$mode.out" \
    2>"$MN_TMP/fail-$mode.err" &
  pid=$!
  guard 90 "$pid" >/dev/null 2>&1 &
  g=$!
  wait "$pid"
  rc=$?
  took=$((SECONDS - start))
  kill "$g" 2>/dev/null
  wait "$g" 2>/dev/null
  err="$MN_TMP/fail-$mode.err"
  why="exited with status 3"
  [ $mode = kill ] && why="killed by signal 9"
  if [ "$rc" = 69 ] && [ "$took" -le 60 ] && grep -q "rank 1 on host .*$why" "$err"; then
    pass "$mode: rank 1 failed; exit 69 in $took s, naming rank 1 ($why)"
  else
    fail "$mode: exit $rc after $took s (want 69 within 60 s, naming rank 1: $why)"
    sed 's/^/  | /' "$err" >&2
  fi
  ! grep -q "rank 0 on host.*failed" "$err" ||
    fail "$mode: rank 0, stopped by the teardown, is named as failed"
  [ -z "$(left_behind)" ] && pass "$mode: nothing of the program left running" ||
    fail "$mode: processes left: $(left_behind)"
done

# ---- 4. exit codes: a code of docs/exit-codes.md stands, any other failure is 69 ----
cat >"$MN_TMP/code.sh" <<'EOF'
#!/bin/bash
exit "$1"
EOF
chmod +x "$MN_TMP/code.sh"
for pair in 0:0 65:65 75:75 1:69 127:69 200:69; do
  expect_exit "${pair#*:}" "world 1, the program exits ${pair%:*}" \
    "$mnrun" -np 1 -- "$MN_TMP/code.sh" "${pair%:*}"
done
expect_exit 69 "world 2, both ranks exit 1" "$mnrun" -np 2 -- "$MN_TMP/code.sh" 1
expect_err "rank 0 on host .* exited with status 1" "world 2: the lowest failed rank is named"

# ---- 5. usage errors, before anything is launched ----
printf 'not a program\n' >"$MN_TMP/plain.txt"
expect_exit 66 "a missing program" "$mnrun" -np 2 -- "$MN_TMP/no-such-program" x
expect_err "program $MN_TMP/no-such-program: No such file or directory" "a missing program: named"
expect_exit 66 "a program not on PATH" "$mnrun" -np 2 -- no-such-program-$$
expect_err "not found on PATH" "a program not on PATH: said"
expect_exit 66 "a file that is not executable" "$mnrun" -np 2 -- "$MN_TMP/plain.txt"
expect_err "is not executable" "a file that is not executable: said"
expect_exit 66 "a directory" "$mnrun" -np 2 -- "$MN_TMP"
expect_err "is a directory" "a directory: said"
for opt in "--set optimizer.lr=0.1" "--resume never" "--metrics m.jsonl"; do
  # shellcheck disable=SC2086 # the option's words
  expect_exit 64 "$opt with a program" "$mnrun" -np 2 $opt -- "$MN_TMP/env.sh" "$MN_TMP"
  expect_err "^mnrun: error: ${opt%% *} is for a train.conf" "$opt with a program: refused"
done
printf '[model]\nlayers = 4,3\n' >"$MN_TMP/t.conf"
expect_exit 66 "a train.conf after --" "$mnrun" -np 2 -- "$MN_TMP/t.conf"
expect_err "is not executable .*a train.conf goes without --" "a train.conf after --: a hint"
expect_exit 64 "nothing after --" "$mnrun" -np 2 --
expect_err "no program after --" "nothing after --: said"
expect_exit 64 "a word before --" "$mnrun" -np 2 train.conf -- "$MN_TMP/env.sh" "$MN_TMP"
expect_err "unexpected 'train.conf' before --" "a word before --: said"
[ -z "$(ls -A "$TMPDIR")" ] || fail "a refused command left $(ls "$TMPDIR")"

# ---- 6. supervision: by exit until a rank beats, by heartbeat once it has ----
# A program that never beats runs 3 s, past --start-timeout 1 and --fail-timeout 1: fine.
cat >"$MN_TMP/quiet.sh" <<'EOF'
#!/bin/bash
sleep 3
EOF
chmod +x "$MN_TMP/quiet.sh"
expect_exit 0 "a program that never beats is not judged hung (3 s, timeouts 1 s)" \
  "$mnrun" -np 2 --start-timeout 1 --fail-timeout 1 -- "$MN_TMP/quiet.sh"
# One that beats once (as libmn's init starts to) and then stops beating is lost.
cat >"$MN_TMP/beat.sh" <<EOF
#!/bin/bash
printf '%020d\n' 1 >"\$MN_REPORT_DIR/alive-\$RANK"
(exec -a $tag sleep 300)
EOF
chmod +x "$MN_TMP/beat.sh"
start=$SECONDS
expect_exit 69 "a program that beat once, then stopped: lost" \
  "$mnrun" -np 2 --fail-timeout 2 -- "$MN_TMP/beat.sh"
took=$((SECONDS - start))
expect_err "rank [01] on host .* stopped responding" "the silent rank is named"
[ "$took" -le 60 ] && pass "lost within $took s" || fail "lost after $took s"
sleep 0.3
[ -z "$(left_behind)" ] || fail "heartbeat: processes left: $(left_behind)"

# ---- 8. a program on libmn (examples/custom): its heartbeat, its own report ----
custom="$MN_BIN/mn_custom_example"
if [ -x "$custom" ]; then
  cargs=(--steps 100000 --every 200 --seed 7)
  # custom_run NAME: start it on 2 ranks in the background (pid in $pid); wait for its first
  # snapshot, and for its heartbeats in mnrun's directory
  custom_run() {
    local name=$1
    shift
    "$mnrun" -np 2 "$@" -- "$custom" "${cargs[@]}" --dir "$MN_TMP/$name" >"$MN_TMP/$name.out" \
      2>"$MN_TMP/$name.err" &
    pid=$!
    guard 120 "$pid" >/dev/null 2>&1 &
    wait_files 1 "$MN_TMP/$name/step-*.h5" || fail "$name: no snapshot"
    wait_files 2 "$TMPDIR/mnrun.*/alive-*" && pass "$name: both ranks beat (libmn's init)" ||
      fail "$name: no heartbeats: $(ls "$TMPDIR"/mnrun.*)"
  }
  # SIGTERM to mnrun: the agreed stop, a stop snapshot, exit 75 from the program's reports
  custom_run custom-stop
  kill -TERM "$pid"
  wait "$pid"
  rc=$?
  [ "$rc" = 75 ] && grep -q "stopped by a signal after step" "$MN_TMP/custom-stop.out" &&
    pass "libmn program: SIGTERM to mnrun, agreed stop, exit 75" ||
    fail "libmn program: SIGTERM: exit $rc: $(tail -n 3 "$MN_TMP/custom-stop.err")"
  # a rank that beat, then stopped beating (SIGSTOP): lost after --fail-timeout, as mntrain
  custom_run custom-lost --fail-timeout 3
  rank0=$(sed -n 's/^host .*, pid \([0-9]*\), since .*/\1/p' "$MN_TMP/custom-lost/.mn-lock")
  if [ -n "$rank0" ]; then kill -STOP "$rank0"; else fail "custom-lost: no pid in the lock"; fi
  wait "$pid"
  rc=$?
  [ "$rc" = 69 ] && grep -q "rank 0 on host .* stopped responding" "$MN_TMP/custom-lost.err" &&
    pass "libmn program: rank 0 stopped beating: lost, exit 69" ||
    fail "libmn program: SIGSTOP: exit $rc: $(tail -n 3 "$MN_TMP/custom-lost.err")"
  sleep 0.5 # (killed, it may wait a moment as a zombie for its new parent to reap it)
  [ -n "$rank0" ] && [ -n "$(ps -o stat= -p "$rank0" | grep -v Z)" ] &&
    fail "custom-lost: rank 0 left running: $(ps -o stat=,cmd= -p "$rank0")"
  # its own report stands (mnrank keeps it): a usage error is 64 with the program's message
  expect_exit 64 "libmn program: a bad option" "$mnrun" -np 2 -- "$custom" --no-such-option
  expect_err "rank 0 on host .* failed \(exit 64, usage or config error\): usage error" \
    "libmn program: its own report, not mnrank's"
else
  echo "note: no $custom in this build: libmn's program not run under mnrun"
fi

# ---- 7. mnrank alone: the rank's numbers from each engine's variables ----
# shape NAME ENGINE VAR=VALUE...: run mnrank --engine=ENGINE under exactly those variables
# (no MN_REPORT_DIR: no report, no join), and leave "RANK LOCAL_RANK WORLD_SIZE
# LOCAL_WORLD_SIZE" in $shape_got
shape() {
  local name=$1 engine=$2 dir="$MN_TMP/shape-$1"
  shift 2
  mkdir -p "$dir"
  env -i PATH="$PATH" "$@" "$MN_BIN/mnrank" --engine="$engine" -- "$MN_TMP/env.sh" "$dir" \
    >"$dir.out" 2>"$dir.err"
  shape_rc=$?
  shape_got=$(cat "$dir"/* 2>/dev/null | grep -E '^(RANK|LOCAL_RANK|WORLD_SIZE|LOCAL_WORLD_SIZE)=' |
    cut -d= -f2 | tr '\n' ' ')
}
check_shape() { # NAME WANT
  if [ "$shape_rc" = 0 ] && [ "$shape_got" = "$2" ]; then pass "mnrank $1: $2"; else
    fail "mnrank $1: exit $shape_rc, got '$shape_got', want '$2'"
    sed 's/^/  | /' "$MN_TMP/shape-$1.err" >&2
  fi
}
shape ompi mpirun OMPI_COMM_WORLD_RANK=5 OMPI_COMM_WORLD_SIZE=8 OMPI_COMM_WORLD_LOCAL_RANK=1 \
  OMPI_COMM_WORLD_LOCAL_SIZE=4
check_shape ompi "5 1 8 4 "
shape auto-ompi auto OMPI_COMM_WORLD_RANK=2 OMPI_COMM_WORLD_SIZE=3 OMPI_COMM_WORLD_LOCAL_RANK=0 \
  OMPI_COMM_WORLD_LOCAL_SIZE=1
check_shape auto-ompi "2 0 3 1 "
# Slurm: 5 tasks as 2,2,1 over three nodes; task 3 is the second on the second node, task
# 4 alone on the third
shape slurm-mid srun SLURM_STEP_ID=0 SLURM_PROCID=3 SLURM_STEP_NUM_TASKS=5 SLURM_LOCALID=1 \
  SLURM_NODEID=1 'SLURM_STEP_TASKS_PER_NODE=2(x2),1'
check_shape slurm-mid "3 1 5 2 "
shape slurm-last auto SLURM_STEP_ID=0 SLURM_PROCID=4 SLURM_NTASKS=5 SLURM_LOCALID=0 \
  SLURM_NODEID=2 'SLURM_STEP_TASKS_PER_NODE=2(x2),1'
check_shape slurm-last "4 0 5 1 "
shape slurm-gtids srun SLURM_PROCID=2 SLURM_STEP_NUM_TASKS=4 SLURM_LOCALID=0 SLURM_GTIDS=2,3
check_shape slurm-gtids "2 0 4 2 "
shape direct direct SLURM_PROCID=7 # direct: rank 0 of 1, whatever else is set
check_shape direct "0 0 1 1 "
shape missing mpirun OMPI_COMM_WORLD_RANK=1
[ "$shape_rc" = 64 ] && grep -q "OMPI_COMM_WORLD_SIZE is not set" "$MN_TMP/shape-missing.err" &&
  [ -z "$shape_got" ] && pass "mnrank: a missing variable is 64, named, nothing run" ||
  fail "mnrank: a missing variable: exit $shape_rc: $(cat "$MN_TMP/shape-missing.err")"
shape bad mpirun OMPI_COMM_WORLD_RANK=4 OMPI_COMM_WORLD_SIZE=4 OMPI_COMM_WORLD_LOCAL_RANK=0 \
  OMPI_COMM_WORLD_LOCAL_SIZE=1
[ "$shape_rc" = 64 ] && grep -q "do not add up" "$MN_TMP/shape-bad.err" &&
  pass "mnrank: rank 4 of 4 is 64" ||
  fail "mnrank: rank 4 of 4: exit $shape_rc: $(cat "$MN_TMP/shape-bad.err")"
env -i PATH="$PATH" "$MN_BIN/mnrank" -- "$MN_TMP/no-such-program" 2>"$MN_TMP/shape-noexec.err"
rc=$?
[ "$rc" = 66 ] && grep -q "cannot run .*no-such-program: No such file" "$MN_TMP/shape-noexec.err" &&
  pass "mnrank: a program it cannot run is 66, named" ||
  fail "mnrank: a program it cannot run: exit $rc: $(cat "$MN_TMP/shape-noexec.err")"

[ -z "$(ls -A "$TMPDIR")" ] || fail "mnrun left $(ls "$TMPDIR") in TMPDIR"
finish
