# tests/slurm_cluster.sh: a real, private Slurm on this machine for the tests (sourced).
#
# slurm_cluster_start DIR starts munged, slurmctld and slurmd with their state, logs,
# sockets and PID files under DIR (one node: this host, on loopback, with free ports), and
# exports SLURM_CONF so that sbatch, squeue, scontrol and scancel talk to it. It installs
# an EXIT trap that calls slurm_cluster_stop, which stops exactly the daemons it started
# (by the PIDs they recorded), never others of the same name. It needs root, munge and
# slurm-wlm (Debian: apt-get install -y slurm-wlm munge); slurm_cluster_missing says why
# it cannot run. Settings follow /work/shared/notes/slurm-on-one-machine.md. Nothing here
# touches /etc or the system's own munged or Slurm daemons.

SLURM_CLUSTER_DIR=""
SLURM_CLUSTER_PIDS=()

# slurm_cluster_missing: print why a cluster cannot start here (nothing when it can).
slurm_cluster_missing() {
  if [ "$(id -u)" -ne 0 ]; then echo "not root"; return; fi
  local p
  for p in munged munge slurmctld slurmd slurmstepd sbatch squeue scontrol scancel sinfo; do
    command -v "$p" >/dev/null 2>&1 || PATH="$PATH:/usr/sbin" command -v "$p" >/dev/null 2>&1 ||
      { echo "$p not installed (apt-get install -y slurm-wlm munge)"; return; }
  done
}

# A TCP port nobody listens on, from base upwards.
slurm_cluster_free_port() {
  local p=$1
  while ss -Hltn "sport = :$p" 2>/dev/null | grep -q .; do p=$((p + 1)); done
  echo "$p"
}

# slurm_cluster_wait SECONDS CMD...: run CMD every 0.5 s until it succeeds; 1 on timeout.
slurm_cluster_wait() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -ge "$deadline" ] && return 1
    sleep 0.5
  done
}

# Record the PID in a daemon's PID file, waiting for the file to appear.
slurm_cluster_record() {
  local file=$1
  for _ in $(seq 1 40); do
    if [ -s "$file" ]; then
      SLURM_CLUSTER_PIDS+=("$(head -n 1 "$file" | tr -dc 0-9)")
      return 0
    fi
    sleep 0.25
  done
  echo "slurm_cluster: $file never appeared" >&2
  return 1
}

slurm_cluster_stop() {
  local pid
  # Jobs first, while slurmctld can still end them (their steps are slurmstepd children).
  if [ -n "${SLURM_CONF:-}" ] && [ -n "$SLURM_CLUSTER_DIR" ]; then
    scancel --quiet --full --user=root >/dev/null 2>&1 || true
    slurm_cluster_wait 15 sh -c '[ -z "$(squeue -h 2>/dev/null)" ]' || true
  fi
  for pid in "${SLURM_CLUSTER_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for _ in $(seq 1 20); do
    local alive=0
    for pid in "${SLURM_CLUSTER_PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ "$alive" -eq 0 ] && break
    sleep 0.25
  done
  for pid in "${SLURM_CLUSTER_PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null; done
  SLURM_CLUSTER_PIDS=()
  # A socket directory made outside DIR (DIR's path was too long for a socket).
  [ -n "${SLURM_CLUSTER_SOCKDIR:-}" ] && rm -rf "$SLURM_CLUSTER_SOCKDIR"
  SLURM_CLUSTER_SOCKDIR=""
}

# slurm_cluster_start DIR: 0 when the node is idle and accepts jobs; else 1, with the
# daemons' logs on stderr (and the daemons stopped).
slurm_cluster_start() {
  local dir=$1 host
  host=$(hostname -s)
  SLURM_CLUSTER_DIR=$dir
  PATH="$PATH:/usr/sbin"
  mkdir -p "$dir/munge" "$dir/state" "$dir/spool" "$dir/log" || return 1
  trap slurm_cluster_stop EXIT
  trap 'exit 130' INT # through the EXIT trap
  trap 'exit 143' TERM

  # munge, private: own key, socket, PID, log and seed files. A Unix socket path is at
  # most 107 bytes, so a deep DIR gets its socket in a short directory under /tmp.
  local sockdir="$dir/munge"
  if [ ${#sockdir} -gt 80 ]; then
    SLURM_CLUSTER_SOCKDIR=$(mktemp -d /tmp/mn-munge.XXXXXX) || return 1
    sockdir=$SLURM_CLUSTER_SOCKDIR
  fi
  local sock="$sockdir/munge.socket"
  dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none || return 1
  chmod 700 "$dir/munge" "$sockdir"
  chmod 400 "$dir/munge/munge.key"
  munged --force --socket="$sock" --key-file="$dir/munge/munge.key" \
    --pid-file="$dir/munge/munged.pid" --log-file="$dir/log/munged.log" \
    --seed-file="$dir/munge/munged.seed" 2>>"$dir/log/munged.log" &&
    slurm_cluster_record "$dir/munge/munged.pid" &&
    slurm_cluster_wait 10 sh -c "munge -n --socket='$sock' | unmunge --socket='$sock'" || {
    echo "slurm_cluster: munged did not start" >&2
    cat "$dir/log/munged.log" >&2
    slurm_cluster_stop
    return 1
  }

  local ctld_port slurmd_port cpus
  ctld_port=$(slurm_cluster_free_port 16817)
  slurmd_port=$(slurm_cluster_free_port $((ctld_port + 1)))
  cpus=$(env -u OMP_NUM_THREADS nproc) # (nproc obeys OMP_NUM_THREADS, which the tests set)
  cat >"$dir/slurm.conf" <<CONF
ClusterName=mntest
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$sock
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SlurmUser=root
SlurmdUser=root
ReturnToService=2
MpiDefault=none
JobRequeue=1
KillWait=30
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=1000 State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
  export SLURM_CONF="$dir/slurm.conf"
  # -i: ignore state a previous run may have left (there is none: DIR is fresh).
  slurmctld -i -f "$SLURM_CONF" 2>>"$dir/log/slurmctld.log" &&
    slurm_cluster_record "$dir/slurmctld.pid" &&
    slurmd -f "$SLURM_CONF" 2>>"$dir/log/slurmd.log" &&
    slurm_cluster_record "$dir/slurmd.pid" &&
    slurm_cluster_wait 30 sh -c "sinfo -h -N -o %T | grep -qx idle" || {
    echo "slurm_cluster: the node did not become idle" >&2
    sinfo -N 2>&1 | sed 's/^/  sinfo: /' >&2
    tail -n 20 "$dir/log/slurmctld.log" "$dir/log/slurmd.log" >&2
    slurm_cluster_stop
    return 1
  }
}
