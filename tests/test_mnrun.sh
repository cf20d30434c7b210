# test_mnrun.sh: mnrun's command line, checks before launch, --dry-run placement and command,
# exit codes, and the failing rank's report (with a stand-in worker). Real training through
# mnrun is tested elsewhere. Needs MN_BIN, MN_TMP.
set -u
mnrun="$MN_BIN/mnrun"
tmp="$MN_TMP"
rm -rf "$tmp" && mkdir -p "$tmp/tmpdir"
export TMPDIR="$tmp/tmpdir" # where mnrun makes its private directory; must end up empty
failures=0

fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}

# run NAME ARGS...: run mnrun, keep stdout/stderr in $tmp/NAME.{out,err}, set $rc.
run() {
  local name=$1
  shift
  "$mnrun" "$@" >"$tmp/$name.out" 2>"$tmp/$name.err"
  rc=$?
}

expect_rc() { # NAME WANT
  [ "$rc" -eq "$2" ] || fail "$1: exit $rc, want $2 (stderr: $(cat "$tmp/$1.err"))"
}

expect_in() { # NAME FILE-SUFFIX TEXT
  grep -qF -- "$3" "$tmp/$1.$2" || fail "$1: '$3' not in $2: $(cat "$tmp/$1.$2")"
}

# Rows of the placement table: "rank host local_rank threads".
rows() { awk 'NF == 4 && $1 ~ /^[0-9]+$/' "$tmp/$1.out"; }

conf="$tmp/train.conf"
printf '[model]\nlayers = 4,3\n[data]\ntrain = x.h5\nbatch_size = 3\n[schedule]\nepochs = 1\n' >"$conf"
badconf="$tmp/bad.conf"
printf '[model]\nlayers = 4,3\n[data]\ntrain = x.h5\nbatch_sise = 3\n[schedule]\nepochs = 1\n' >"$badconf"

# --dry-run on the local machine: 4 ranks, mpirun -np 4, mntrain and the conf; nothing runs.
run dry4 -np 4 --dry-run "$conf"
expect_rc dry4 0
[ "$(rows dry4 | wc -l)" -eq 4 ] || fail "dry4: want 4 table rows: $(cat "$tmp/dry4.out")"
[ "$(rows dry4 | awk '{print $1}' | tr '\n' ' ')" = "0 1 2 3 " ] || fail "dry4: ranks not 0..3"
cmdline=$(grep -A1 '^command:' "$tmp/dry4.out" | tail -n 1)
for want in mpirun " -np 4 " mntrain "$conf" "MN_REPORT_DIR=" "OPENBLAS_NUM_THREADS="; do
  case "$cmdline" in *"$want"*) ;; *) fail "dry4: command lacks '$want': $cmdline" ;; esac
done
if [ "$(env -u OMP_NUM_THREADS nproc)" -lt 4 ]; then # (nproc obeys OMP_NUM_THREADS)
  expect_in dry4 out "--oversubscribe"
  expect_in dry4 out "oversubscribed"
fi
[ -z "$(ls -A "$TMPDIR")" ] || fail "dry4: a dry run made $(ls "$TMPDIR")"

# --np and -n are the same as -np; --set and --metrics reach the worker's command line.
run dry4b --np 4 --dry-run --set optimizer.lr=0.5 --metrics "$tmp/m.jsonl" "$conf"
expect_rc dry4b 0
expect_in dry4b out "mntrain --set optimizer.lr=0.5 --metrics $tmp/m.jsonl $conf"
run dry4c -n 4 --dry-run "$conf"
expect_rc dry4c 0
[ "$(rows dry4c | wc -l)" -eq 4 ] || fail "dry4c: -n 4 did not give 4 ranks"

# -H a:2,b:2: ranks 0,1 on a and 2,3 on b, through a generated hostfile.
run dryH -H a:2,b:2 -np 4 --dry-run "$conf"
expect_rc dryH 0
[ "$(rows dryH | awk '{printf "%s:%s:%s ", $1, $2, $3}')" = "0:a:0 1:a:1 2:b:0 3:b:1 " ] ||
  fail "dryH: placement: $(rows dryH)"
expect_in dryH out "--hostfile"
expect_in dryH out "a slots=2"
expect_in dryH out "b slots=2"

# The same hosts from a hostfile, with comments and blank lines, give the same placement.
printf '# two nodes\n\na slots=2  # first\nb slots=2\n' >"$tmp/hosts"
run dryF --hostfile "$tmp/hosts" -np 4 --dry-run "$conf"
expect_rc dryF 0
[ "$(rows dryF | awk '{printf "%s:%s ", $1, $2}')" = "0:a 1:a 2:b 3:b " ] ||
  fail "dryF: placement: $(rows dryF)"

# One local rank: no mpirun, the worker itself (an MPI singleton).
run dry1 -np 1 --dry-run "$conf"
expect_rc dry1 0
grep -A1 '^command:' "$tmp/dry1.out" | tail -n 1 | grep -q mpirun && fail "dry1: uses mpirun"
expect_in dry1 out "mntrain $conf"

# Gang: more ranks than slots is refused before anything starts.
run short -H a:2,b:2 -np 5 --dry-run "$conf"
expect_rc short 69
expect_in short err "need 5 slots; the allocation has 4 on 2 nodes"

# 128 ranks over a 16 x 8-slot hostfile: 128 placements, node-contiguous; 129 is refused.
for i in $(seq -w 1 16); do echo "gpu$i slots=8"; done >"$tmp/h16"
run h128 -np 128 --hostfile "$tmp/h16" --dry-run "$conf"
expect_rc h128 0
placed=$(awk '$1 ~ /^[0-9]+$/ && $2 ~ /^gpu/ { print $1, $2, $3 }' "$tmp/h128.out")
[ "$(echo "$placed" | wc -l)" = 128 ] || fail "h128: $(echo "$placed" | wc -l) placements, want 128"
echo "$placed" | awk '{ want = sprintf("gpu%02d", int($1 / 8) + 1); if ($2 != want || $3 != $1 % 8) bad++ }
  END { exit bad > 0 }' || fail "h128: ranks are not node-contiguous (rank r on host r/8, local rank r%8)"
run h129 -np 129 --hostfile "$tmp/h16" "$conf"
expect_rc h129 69
expect_in h129 err "need 129 slots; the allocation has 128 on 16 nodes"
[ -z "$(ls -A "$TMPDIR")" ] || fail "h129: something was started ($(ls "$TMPDIR"))"

# GPUs from the hostfile: one rank per GPU, never two on one; the shortfall in GPU slots.
for i in 1 2; do echo "g$i slots=8 gpus=4"; done >"$tmp/hg"
run gpus -np 8 --hostfile "$tmp/hg" --dry-run "$conf"
expect_rc gpus 0
[ "$(awk '$2 ~ /^g[12]$/ { print $2, $4 }' "$tmp/gpus.out" | sort -u | wc -l)" = 8 ] ||
  fail "gpus: 8 ranks do not have 8 distinct (host, gpu) pairs: $(cat "$tmp/gpus.out")"
run gpus9 -np 9 --hostfile "$tmp/hg" --dry-run "$conf"
expect_rc gpus9 69
expect_in gpus9 err "need 9 GPU slots; the allocation has 8 on 2 nodes"

# Spread: round-robin over the hosts, through a rankfile.
run spread -np 4 -H a:2,b:2 --policy spread --dry-run "$conf"
expect_rc spread 0
expect_in spread out "rank 1=b slot="
expect_in spread out "--rankfile"

# -np left out: every slot of a hostfile, -H or Slurm allocation (as mpirun and srun); one
# rank per GPU on GPU hosts; 1 on the local machine with no hosts given.
printf 'a slots=3\nb slots=2\n' >"$tmp/hnp"
run npfile --hostfile "$tmp/hnp" --dry-run "$conf"
expect_rc npfile 0
[ "$(rows npfile | wc -l)" -eq 5 ] || fail "npfile: want 5 ranks (every slot): $(cat "$tmp/npfile.out")"
expect_in npfile out " -np 5 "
run npH -H a:2,b:2 --dry-run "$conf"
expect_rc npH 0
[ "$(rows npH | wc -l)" -eq 4 ] || fail "npH: want 4 ranks: $(cat "$tmp/npH.out")"
SLURM_JOB_ID=1 SLURM_JOB_NODELIST='n[1-2]' SLURM_TASKS_PER_NODE='4(x2)' run npslurm --dry-run "$conf"
expect_rc npslurm 0
[ "$(rows npslurm | wc -l)" -eq 8 ] || fail "npslurm: want 8 ranks in an 8-task allocation: $(cat "$tmp/npslurm.out")"
expect_in npslurm out "--ntasks=8"
run npgpu --hostfile "$tmp/hg" --dry-run "$conf"
expect_rc npgpu 0
[ "$(grep -c '^ *[0-9][0-9]* ' "$tmp/npgpu.out")" -eq 8 ] ||
  fail "npgpu: want 8 ranks (one per GPU): $(cat "$tmp/npgpu.out")"
run nplocal --dry-run "$conf"
expect_rc nplocal 0
[ "$(grep -c '^ *[0-9][0-9]* ' "$tmp/nplocal.out")" -eq 1 ] || fail "nplocal: want 1 rank on the local machine: $(cat "$tmp/nplocal.out")"
run npmin -H a:2 --min-np 3 --dry-run "$conf"
expect_rc npmin 64
expect_in npmin err "--min-np 3 is more than the 2 ranks to start"

# The ranks' environment: -x NAME=VALUE and -x NAME reach mpirun as -x; NCCL_*, UCX_*,
# CUDA_* and MN_* of mnrun's environment are passed without asking; -x of an unset name is
# refused. Under srun and the direct engine, -x NAME=VALUE goes into the environment.
NCCL_MN_T=1 UCX_MN_T=2 MN_MN_T=3 SOMETHING_ELSE=4 BAR=5 run envx -H a:2 -x FOO=bar -x BAR --dry-run "$conf"
expect_rc envx 0
for want in "-x FOO=bar" "-x BAR" "-x NCCL_MN_T" "-x UCX_MN_T" "-x MN_MN_T"; do
  expect_in envx out "$want "
done
grep -q "SOMETHING_ELSE" "$tmp/envx.out" && fail "envx: SOMETHING_ELSE was passed"
run envunset -H a:2 -x MN_SURELY_UNSET_VAR --dry-run "$conf"
expect_rc envunset 64
expect_in envunset err "MN_SURELY_UNSET_VAR is not set in mnrun's environment"
run envbad -H a:2 -x 1X=2 --dry-run "$conf"
expect_rc envbad 64
run envdirect -x FOO=bar --mca btl self --dry-run "$conf"
expect_rc envdirect 0
expect_in envdirect out "FOO=bar OMPI_MCA_btl=self "

# Site MPI settings: --mca KEY VALUE (repeatable, also after TRAIN.CONF) and the extra
# words of --mpirun-args / --srun-args, split like a shell, shown by --dry-run.
run mca -H a:2 "$conf" --mca btl tcp,self --mca pml ob1 --mpirun-args "--report-bindings --tag-output 'two words'" --dry-run
expect_rc mca 0
expect_in mca out "--mca btl tcp,self --mca pml ob1 --report-bindings --tag-output 'two words' "
run mcaquote -H a:2 --mpirun-args "--foo 'bar" --dry-run "$conf"
expect_rc mcaquote 64
expect_in mcaquote err "unbalanced ' quote"
run mcaone -H a:2 --mca btl --dry-run
expect_rc mcaone 64
SLURM_JOB_ID=1 SLURM_JOB_NODELIST='n1' SLURM_TASKS_PER_NODE='2' run srunargs --srun-args "--gpu-bind=none" --mca btl self --dry-run "$conf"
expect_rc srunargs 0
expect_in srunargs out "OMPI_MCA_btl=self"
expect_in srunargs out "--gpu-bind=none "

# Open MPI 4 (ORTE) or 5 (PRRTE): the names follow `mpirun --version`.
for v in 4.1.4 5.0.3; do
  printf '#!/bin/sh\n[ "$1" = --version ] && echo "mpirun (Open MPI) %s" && echo && echo "Report bugs to https://www.open-mpi.org/community/help/"\n' "$v" >"$tmp/mpirun-$v"
  chmod +x "$tmp/mpirun-$v"
  run "ompi$v" -np 4 -H a:2,b:2 --mpirun "$tmp/mpirun-$v" --dry-run "$conf"
  expect_rc "ompi$v" 0
  run "ompi$v-spread" -np 4 -H a:2,b:2 --policy spread --mpirun "$tmp/mpirun-$v" --dry-run "$conf"
  expect_rc "ompi$v-spread" 0
done
expect_in ompi4.1.4 out "--mca orte_tmpdir_base "
expect_in ompi4.1.4-spread out "--rankfile "
expect_in ompi4.1.4-spread out "--mca rmaps_rank_file_physical 1"
expect_in ompi5.0.3 out "--prtemca prte_tmpdir_base "
expect_in ompi5.0.3-spread out "--map-by rankfile:file="
grep -q "orte\|--rankfile\|rmaps_rank_file_physical" "$tmp/ompi5.0.3.out" "$tmp/ompi5.0.3-spread.out" &&
  fail "ompi5: ORTE names for Open MPI 5: $(grep -h command: -A1 "$tmp"/ompi5.0.3*.out)"

# Watchdog: a rank that never starts (start barrier), a rank that stops beating, a rank
# that fails while the others run on: each tears the gang down within its bound.
cat >"$tmp/nojoin.sh" <<'EOF'
#!/bin/sh
r=${OMPI_COMM_WORLD_RANK:-0}
[ "$r" = 1 ] || touch "$MN_REPORT_DIR/alive-$r" "$MN_REPORT_DIR/join-$r"
sleep 60
EOF
cat >"$tmp/silent.sh" <<'EOF'
#!/bin/sh
r=${OMPI_COMM_WORLD_RANK:-0}
touch "$MN_REPORT_DIR/alive-$r" "$MN_REPORT_DIR/join-$r"
if [ "$r" = 0 ]; then while :; do touch "$MN_REPORT_DIR/alive-$r"; sleep 0.2; done; fi
sleep 60
EOF
cat >"$tmp/linger.sh" <<'EOF'
#!/bin/sh
r=${OMPI_COMM_WORLD_RANK:-0}
touch "$MN_REPORT_DIR/alive-$r" "$MN_REPORT_DIR/join-$r"
if [ "$r" = 1 ]; then printf 'exit=65 host=h\nbad data\n' >"$MN_REPORT_DIR/rank-1"; exit 0; fi
while :; do touch "$MN_REPORT_DIR/alive-$r"; sleep 0.2; done
EOF
# rank 1's heartbeat file is dated an hour ahead (a clock stepped back) and then stops
# changing: the watchdog, on its own monotonic clock, still finds it silent
cat >"$tmp/future.sh" <<'EOF'
#!/bin/sh
r=${OMPI_COMM_WORLD_RANK:-0}
touch "$MN_REPORT_DIR/alive-$r" "$MN_REPORT_DIR/join-$r"
if [ "$r" = 1 ]; then touch -d '+1 hour' "$MN_REPORT_DIR/alive-$r"; exec sleep 20; fi
i=0
while [ $i -lt 100 ]; do touch "$MN_REPORT_DIR/alive-$r"; sleep 0.2; i=$((i + 1)); done
EOF
chmod +x "$tmp/nojoin.sh" "$tmp/silent.sh" "$tmp/linger.sh" "$tmp/future.sh"
for case in "nojoin 69 --start-timeout 2" "silent 69 --fail-timeout 2" "linger 65 --fail-timeout 2" \
  "future 69 --fail-timeout 2"; do
  set -- $case
  name=$1 want=$2
  shift 2
  start=$(date +%s)
  MN_TRAIN="$tmp/$name.sh" run "$name" -np 2 "$@" "$conf"
  expect_rc "$name" "$want"
  took=$(($(date +%s) - start))
  [ "$took" -lt 15 ] || fail "$name: took $took s to tear down"
done
expect_in nojoin err "1 rank had not started after 2 s (--start-timeout), among them rank 1"
expect_in silent err "rank 1 on host"
expect_in silent err "stopped responding"
expect_in linger err "rank 1 on host"
expect_in linger err "failed and the others were still running"
expect_in future err "rank 1 on host"
expect_in future err "stopped responding"
[ -z "$(pgrep -f "$tmp/(nojoin|silent|linger|future).sh")" ] || fail "watchdog: stub ranks left running"

# Config errors: file:line and the key; missing conf; bad --set.
run badkey --dry-run "$badconf"
expect_rc badkey 64
expect_in badkey err "$badconf:5"
expect_in badkey err "batch_sise"
run noconf --dry-run "$tmp/missing.conf"
expect_rc noconf 66
expect_in noconf err "missing.conf"
run badset --set nodot "$conf"
expect_rc badset 64
expect_in badset err "nodot"
run badset2 --set data.no_such_key=1 "$conf"
expect_rc badset2 64
expect_in badset2 err "no_such_key"

# Hosts: a missing hostfile is 66; a bad one names file:line; a bad -H is 64.
run nohosts --hostfile "$tmp/missing.hosts" --dry-run "$conf"
expect_rc nohosts 66
expect_in nohosts err "missing.hosts"
printf 'a slots=2\nb slots=zero\n' >"$tmp/bad.hosts"
run badhosts --hostfile "$tmp/bad.hosts" --dry-run "$conf"
expect_rc badhosts 64
expect_in badhosts err "$tmp/bad.hosts:2"
run badH -H a:0 --dry-run "$conf"
expect_rc badH 64

# Usage errors are 64; --help states the defaults and is 0.
run np0 -np 0 "$conf"
expect_rc np0 64
run noarg -np 2
expect_rc noarg 64
run unknown --frobnicate "$conf"
expect_rc unknown 64
run both -H a:1 --hostfile "$tmp/hosts" "$conf"
expect_rc both 64
run help --help
expect_rc help 0
expect_in help out "default: every slot of the hostfile"
for opt in "-x NAME[=VALUE]" "--mca KEY VALUE" "--mpirun-args" "--srun-args" "--version"; do
  expect_in help out "$opt"
done

# A failing rank's report: a stand-in worker whose rank 1 fails with 65 and says why.
worker="$tmp/worker.sh"
cat >"$worker" <<'EOF'
#!/bin/sh
r=${OMPI_COMM_WORLD_RANK:-0}
if [ "$r" = 1 ]; then
  printf 'exit=65 host=%s\n%s\n' "$(hostname)" "x.h5: dataset /x: expected 2 dimensions" \
    >"$MN_REPORT_DIR/rank-1"
  exit 65
fi
printf 'exit=0 host=%s\n\n' "$(hostname)" >"$MN_REPORT_DIR/rank-$r"
exit 0
EOF
chmod +x "$worker"
MN_TRAIN="$worker" run report -np 2 "$conf"
expect_rc report 65
expect_in report err "rank 1 on host $(hostname) failed (exit 65, bad data): x.h5: dataset /x: expected 2 dimensions"
grep -q "rank 0" "$tmp/report.err" && fail "report: rank 0 did not fail: $(cat "$tmp/report.err")"
[ -z "$(ls -A "$TMPDIR")" ] || fail "report: left behind: $(ls "$TMPDIR")"

# A worker that dies without a report is named as such; the exit code is the job's.
printf '#!/bin/sh\n[ "${OMPI_COMM_WORLD_RANK:-0}" = 0 ] && exit 0\nkill -9 $$\n' >"$tmp/die.sh"
chmod +x "$tmp/die.sh"
MN_TRAIN="$tmp/die.sh" run noreport -np 2 "$conf"
[ "$rc" -ne 0 ] || fail "noreport: exit 0"
expect_in noreport err "rank 1 exited without a report"

# Signals: SIGUSR1 reaches every rank (forwarded by mnrun, then mpirun) once every rank has
# joined (after its handler is in place, as mntrain does).
cat >"$tmp/usr1.sh" <<'EOF'
#!/bin/sh
r=${OMPI_COMM_WORLD_RANK:-0}
trap 'printf "exit=75 host=h\npreempted\n" >"$MN_REPORT_DIR/rank-$r"; exit 75' USR1
touch "$MN_REPORT_DIR/alive-$r" "$MN_REPORT_DIR/join-$r" "$MN_TMP_READY.$r"
i=0
while [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
exit 1
EOF
chmod +x "$tmp/usr1.sh"
MN_TMP_READY="$tmp/ready" MN_TRAIN="$tmp/usr1.sh" "$mnrun" -np 2 "$conf" \
  >"$tmp/usr1.out" 2>"$tmp/usr1.err" &
pid=$!
for _ in $(seq 100); do [ -e "$tmp/ready.0" ] && [ -e "$tmp/ready.1" ] && break; sleep 0.1; done
kill -USR1 "$pid"
wait "$pid"
rc=$?
expect_rc usr1 75

# A second SIGINT kills the job, including ranks that ignore SIGINT and SIGTERM, and mnrun
# exits 128 + 2 as a shell would (docs/exit-codes.md).
cat >"$tmp/stubborn.sh" <<'EOF'
#!/bin/sh
trap '' INT TERM
touch "$MN_TMP_READY.${OMPI_COMM_WORLD_RANK:-0}"
i=0
while [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
EOF
chmod +x "$tmp/stubborn.sh"
rm -f "$tmp"/ready.*
MN_TMP_READY="$tmp/ready" MN_TRAIN="$tmp/stubborn.sh" "$mnrun" -np 2 "$conf" \
  >"$tmp/int2.out" 2>"$tmp/int2.err" &
pid=$!
for _ in $(seq 100); do [ -e "$tmp/ready.0" ] && [ -e "$tmp/ready.1" ] && break; sleep 0.1; done
start=$(date +%s)
kill -INT "$pid"
sleep 0.3
kill -INT "$pid"
wait "$pid"
rc=$?
expect_rc int2 130
expect_in int2 err "second signal 2"
[ $(($(date +%s) - start)) -lt 10 ] || fail "int2: took more than 10 s to stop"
sleep 0.5
for p in $(pgrep -f "$tmp/stubborn.sh"); do # zombies may wait for a reaper; live ones fail
  if [ "$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null)" = S ] ||
    [ "$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null)" = R ]; then
    fail "int2: rank $p still alive"
    kill -9 "$p"
  fi
done

if [ "$failures" -ne 0 ]; then
  echo "test_mnrun: $failures failure(s)" >&2
  exit 1
fi
echo "test_mnrun: ok"
