# test_netns.sh: a multi-node gang through real mpirun across network namespaces, each a
# host of its own (../shared/notes/simulated-nodes.md). Killing every process of one
# "node" mid-run must tear the whole gang down within --fail-timeout, with a line naming
# the lost host and exit 69; with --max-restarts the gang then restarts on the host left
# (--min-np) and resumes from the snapshot to finish. What the user sets reaches the ranks
# on the other "nodes": NCCL_* (and MN_*) by default, -x FOO=bar everywhere; the rsh agent
# starts each host's daemon with a clean environment, as ssh does.
# Needs root, ip (iproute2) and unshare; otherwise it says why and exits 77 (skipped).
. "$MN_SRC/tests/lib.sh"

skip() { echo "SKIP: $*"; exit 77; } # CTest: skipped (SKIP_RETURN_CODE)
[ "$(id -u)" = 0 ] || skip "needs root (network namespaces)"
command -v ip >/dev/null || skip "needs ip (iproute2)"
command -v unshare >/dev/null || skip "needs unshare (util-linux)"

tag=mn$$ # names of this run's namespaces, bridge and hosts
na=${tag}a nb=${tag}b br=${tag}br net=10.$((RANDOM % 200 + 20)).$((RANDOM % 250)).
cleanup() {
  for ns in "$na" "$nb"; do
    ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null
    ip netns del "$ns" 2>/dev/null
  done
  ip link del "$br" 2>/dev/null
  sed -i "/ $tag[ab]\$/d" /etc/hosts
}
trap cleanup EXIT
ip link add "$br" type bridge || skip "cannot create a bridge (no CAP_NET_ADMIN?)"
ip addr add "${net}1/24" dev "$br" && ip link set "$br" up
i=10
for ns in "$na" "$nb"; do
  i=$((i + 1))
  ip netns add "$ns" || skip "cannot create network namespaces"
  ip link add "v$ns" type veth peer name eth0 netns "$ns"
  ip link set "v$ns" master "$br" up
  ip -n "$ns" addr add "$net$i/24" dev eth0
  ip -n "$ns" link set eth0 up
  ip -n "$ns" link set lo up
  echo "$net$i $ns" >>/etc/hosts
done

# mpirun's rsh agent: enter the host's namespace with its own host name, with a clean
# environment as ssh gives (only PATH and HOME): nothing of mpirun's environment reaches the
# host unless mpirun passes it.
cat >"$MN_TMP/agent" <<'EOF'
#!/bin/sh
host=$1
shift
exec env -i PATH="$PATH" HOME="$HOME" ip netns exec "$host" unshare --uts sh -c "hostname $host; $*"
EOF
chmod +x "$MN_TMP/agent"
export OMPI_MCA_plm_rsh_agent="$MN_TMP/agent" OMPI_MCA_routed=direct \
  OMPI_MCA_oob_tcp_if_include="${net}0/24" OMPI_MCA_btl_tcp_if_include="${net}0/24" \
  OMPI_MCA_btl=tcp,self

"$MN_BIN/mnprep" teacher --out "$MN_TMP/t" --samples 8000 --val 500 --dim 32 --classes 4 \
  --seed 9 >/dev/null || fail "mnprep"
cat >"$MN_TMP/t.conf" <<CONF
[model]
layers = 32,64,4
[data]
train = $MN_TMP/t-train.h5
val = $MN_TMP/t-val.h5
batch_size = 8
[optimizer]
lr = 0.02
[schedule]
epochs = 40
[log]
interval = 50
progress = plain
[snapshot]
dir = $MN_TMP/snap
every_steps = 50
CONF

# A healthy gang of 4 ranks on the two hosts first.
expect_exit 0 "4 ranks on 2 namespace hosts" "$MN_BIN/mnrun" -np 4 -H "$na:2,$nb:2" \
  --shared-tmpdir --set schedule.epochs=1 --set snapshot.dir="$MN_TMP/snap0" \
  --set log.level=debug "$MN_TMP/t.conf"
expect_err "rank 2 of 4 on $nb, local rank 0 of 2" "rank 2 ran on host $nb"

# The environment: the user's NCCL_* and MN_* reach every rank without -x (MN_TEST_ENV_DIR
# makes each rank write its environment: runtime/train/mntrain.c), -x FOO=bar and -x BAR (from
# mnrun's environment) reach every rank, on both hosts.
mkdir -p "$MN_TMP/env"
NCCL_MN_TEST=from-user MN_TEST_ENV_DIR="$MN_TMP/env" BAR=from-env \
  expect_exit 0 "4 ranks, variables passed" "$MN_BIN/mnrun" -np 4 -H "$na:2,$nb:2" \
  -x FOO=bar -x BAR --set schedule.epochs=1 --set snapshot.dir="$MN_TMP/snap-env" "$MN_TMP/t.conf"
for r in 0 1 2 3; do
  f="$MN_TMP/env/env-$r"
  if [ ! -f "$f" ]; then
    fail "rank $r wrote no environment (MN_TEST_ENV_DIR did not reach it)"
    continue
  fi
  grep -qx "NCCL_MN_TEST=from-user" "$f" && grep -qx "FOO=bar" "$f" && grep -qx "BAR=from-env" "$f" &&
    pass "rank $r has NCCL_MN_TEST, FOO=bar (-x) and BAR (-x BAR)" ||
    fail "rank $r lacks a variable: $(grep -E '^(NCCL_MN_TEST|FOO|BAR)=' "$f" | tr '\n' ' ')"
done
# OMPI_MCA_* (set above for mpirun) reach the ranks through mpirun itself (docs/launcher.md)
grep -qx "OMPI_MCA_btl_tcp_if_include=${net}0/24" "$MN_TMP/env/env-3" 2>/dev/null &&
  pass "rank 3 on $nb has the OMPI_MCA_* settings" || fail "rank 3 lacks OMPI_MCA_btl_tcp_if_include"

# Kill host b mid-run; with --max-restarts 1 --min-np 2 the gang restarts on host a alone.
"$MN_BIN/mnrun" -v -np 4 -H "$na:2,$nb:2" --shared-tmpdir --fail-timeout 10 --max-restarts 1 \
  --min-np 2 "$MN_TMP/t.conf" >"$MN_TMP/run.out" 2>"$MN_TMP/run.err" &
pid=$!
for _ in $(seq 600); do [ -n "$(ls "$MN_TMP/snap" 2>/dev/null)" ] && break; sleep 0.1; done
[ -n "$(ls "$MN_TMP/snap" 2>/dev/null)" ] || fail "no snapshot before the kill"
t0=$(date +%s.%N)
ip netns pids "$nb" | xargs -r kill -9
# the gang must be gone, and the restart begun, within the fail timeout (plus start-up)
for _ in $(seq 300); do grep -q "restart 1 of 1" "$MN_TMP/run.err" && break; sleep 0.1; done
t1=$(date +%s.%N)
wait "$pid"
rc=$?
echo "host $nb killed: the gang was down and restarting after $(awk "BEGIN { printf \"%.1f\", $t1 - $t0 }") s"
sed 's/^/  | /' "$MN_TMP/run.err" | grep -v "info: snapshot" | tail -n 25
check_float "$t1 - $t0 < 15" && pass "torn down within the bound (10 s fail timeout)" ||
  fail "teardown took $(awk "BEGIN { print $t1 - $t0 }") s"
grep -qE "rank [23] on host $nb (was lost|stopped responding)" "$MN_TMP/run.err" &&
  pass "the lost host $nb is named" || fail "no line names host $nb"
grep -q "leaving out host $nb" "$MN_TMP/run.err" && pass "the restart leaves $nb out" ||
  fail "the restart did not leave $nb out"
grep -q "resuming from $MN_TMP/snap/step-" "$MN_TMP/run.err" && pass "the restart resumed" ||
  fail "the restart did not resume from the snapshot"
[ "$rc" = 0 ] && pass "the restarted gang finished (exit 0)" || fail "exit $rc after the restart"
left=$(ip netns pids "$na" | wc -l)
[ "$left" = 0 ] && pass "no process left on host $na" || fail "$left processes left on $na"
finish
