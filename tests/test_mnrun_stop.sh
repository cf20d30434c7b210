# test_mnrun_stop.sh: mnrun with real training, where stopping and ending can go wrong: a
# stop signal in the first seconds (before mnrun, mpirun or the ranks have their handlers),
# a rank that crashes after its exit report, a stopped mpirun, and heartbeat files whose
# modification times jump (docs/launcher.md, "Signals", "Bounds"). Real mpirun, real
# signals, real snapshots.
. "$MN_SRC/tests/lib.sh"

mnrun="$MN_BIN/mnrun"
export TMPDIR="$MN_TMP/tmpdir" # mnrun's private directories, watched below
mkdir -p "$TMPDIR"

"$MN_BIN/mnprep" teacher --out "$MN_TMP/t" --samples 4096 --val 0 --dim 32 --classes 4 \
  --seed 3 >/dev/null || fail "mnprep teacher"
cat >"$MN_TMP/t.conf" <<CONF
[model]
layers = 32,256,256,4
[data]
train = $MN_TMP/t-train.h5
batch_size = 8
[schedule]
epochs = 1
[log]
interval = 1000
progress = off
[snapshot]
resume = never
CONF

# A stop signal at any instant of mnrun's first 2 s ends in 75 with a message: before the
# launch (nothing launched), while mpirun and the ranks start (held, then forwarded), or
# during training. The run would train for much longer (epochs = 100) if the stop were lost.
# The instants count from mnrun's first instruction (its handler in place: SigCgt; at most
# 1 s is waited for it): before main, the dynamic loader's few milliseconds, a signal has
# its default effect on any program.
# (guard SECONDS PID: tests/lib.sh)

wait_handler() { # PID: until mnrun runs with its SIGTERM handler in place (at most ~1 s)
  local pid=$1 comm line mask
  for _ in $(seq 400); do
    comm=
    read -r comm <"/proc/$pid/comm" 2>/dev/null
    if [ "$comm" = mnrun ]; then
      while read -r line; do
        case $line in SigCgt:*)
          mask=${line#SigCgt:}
          [ $((0x${mask//[[:space:]]/} & 0x4000)) = 0 ] || return 0
          ;;
        esac
      done <"/proc/$pid/status"
    fi
    sleep 0.002
  done
}
stop_case() { # NAME NP SIG DELAY
  local name=$1 np=$2 sig=$3 delay=$4
  "$mnrun" -np "$np" "$MN_TMP/t.conf" --set schedule.epochs=100 \
    --set snapshot.dir="$MN_TMP/snap-$name" >"$MN_TMP/$name.out" 2>"$MN_TMP/$name.err" &
  local pid=$!
  wait_handler "$pid"
  [ "$delay" = 0 ] || sleep "$delay"
  kill -"$sig" "$pid"
  guard 60 "$pid" >/dev/null 2>&1 & # exit 137 when the stop was lost
  local g=$!
  wait "$pid"
  echo $? >"$MN_TMP/$name.rc"
  wait "$g"
}
sigs=(TERM INT USR1)
i=0
for delay in 0 0.05 0.2 0.5 1 1.5; do
  names=()
  for np in 1 2; do
    sig=${sigs[$((i % 3))]}
    i=$((i + 1))
    name="stop-np$np-$sig-$delay"
    names+=("$name")
    stop_case "$name" "$np" "$sig" "$delay" &
  done
  wait
  for name in "${names[@]}"; do
    rc=$(cat "$MN_TMP/$name.rc")
    if [ "$rc" = 75 ] && grep -q "signal" "$MN_TMP/$name.err"; then
      pass "$name: exit 75, and says so"
    else
      fail "$name: exit $rc, want 75 and a message"
      sed 's/^/  | /' "$MN_TMP/$name.err" | tail -n 8 >&2
    fi
  done
done
[ -z "$(pgrep -f "mntrain.*$MN_TMP/t.conf")" ] || fail "stop: ranks left running"

# Reports agree, then a rank crashes at exit (as HDF5's atexit once did): mnrun exits with
# the reports' code, not the engine's 139, and says so.
for np in 1 2; do
  MN_TEST_SIGNAL_STEP=5 MN_TEST_CRASH_AFTER_REPORT=SEGV MN_TEST_CRASH_RANK=0 expect_exit 75 \
    "np $np: stopped at step 5, reported 75, rank 0 then crashed" \
    "$mnrun" -np $np "$MN_TMP/t.conf" --set snapshot.dir="$MN_TMP/snap-crash$np"
  expect_err "every rank had reported" "np $np: the engine's crash after the reports is named"
done
MN_TEST_CRASH_AFTER_REPORT=SEGV expect_exit 0 "np 2: done, then both ranks crashed at exit" \
  "$mnrun" -np 2 "$MN_TMP/t.conf" --set snapshot.enabled=false

# mpirun stopped (SIGSTOP) once the ranks run: they finish, report and wait in MPI_Finalize
# for it. mnrun must not wait forever: after --fail-timeout it kills the job and exits with
# the reports' code (0), with a warning.
"$mnrun" -np 2 --fail-timeout 2 "$MN_TMP/t.conf" --set snapshot.enabled=false \
  --set schedule.epochs=3 >"$MN_TMP/stuck.out" 2>"$MN_TMP/stuck.err" &
pid=$!
for _ in $(seq 200); do
  ls "$TMPDIR"/mnrun.*/join-1 >/dev/null 2>&1 && break
  sleep 0.05
done
engine=$(pgrep -P "$pid" | head -n 1)
[ -n "$engine" ] && kill -STOP "$engine"
start=$(date +%s)
guard 60 "$pid" >/dev/null 2>&1 &
g=$!
wait "$pid"
rc=$?
wait "$g"
took=$(($(date +%s) - start))
if [ "$rc" = 0 ] && [ "$took" -lt 30 ] && grep -q "had not exited" "$MN_TMP/stuck.err"; then
  pass "stopped mpirun: killed after the reports, exit 0 in $took s, with a warning"
else
  fail "stopped mpirun: exit $rc after $took s, want 0 and a warning"
  sed 's/^/  | /' "$MN_TMP/stuck.err" | tail -n 8 >&2
fi
[ -n "$engine" ] && kill -KILL "$engine" 2>/dev/null
sleep 0.3
[ -z "$(pgrep -f "mntrain.*$MN_TMP/t.conf")" ] || fail "stopped mpirun: ranks left running"

# Heartbeat files whose times jump an hour back (as after a clock step) while the ranks beat
# on: the watchdog follows the beats on its own monotonic clock and tears nothing down.
"$mnrun" -np 2 --fail-timeout 1 "$MN_TMP/t.conf" --set schedule.epochs=2 \
  --set snapshot.enabled=false >"$MN_TMP/clock.out" 2>"$MN_TMP/clock.err" &
pid=$!
(while kill -0 "$pid" 2>/dev/null; do
  touch -c -d '1 hour ago' "$TMPDIR"/mnrun.*/alive-* 2>/dev/null
  sleep 0.05
done) >/dev/null 2>&1 &
toucher=$!
wait "$pid"
rc=$?
kill "$toucher" 2>/dev/null
wait "$toucher" 2>/dev/null
if [ "$rc" = 0 ]; then pass "heartbeat times an hour back: the job ran to the end"; else
  fail "heartbeat times an hour back: exit $rc, want 0"
  sed 's/^/  | /' "$MN_TMP/clock.err" | tail -n 8 >&2
fi

# (a one-rank job leaves Open MPI's singleton session directory, ompi.*, in TMPDIR)
[ -z "$(ls "$TMPDIR" | grep '^mnrun\.')" ] || fail "mnrun left $(ls "$TMPDIR") in TMPDIR"
finish
