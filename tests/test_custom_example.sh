# test_custom_example.sh: examples/custom, a trainer of its own on mn's public API (docs/api.md),
# run as a user runs it: to the end at world 1 and 2; stopped by a real SIGTERM mid-run (exit
# 75, a "stop" snapshot on disk) and resumed to the end, which must give bitwise the parameters
# and optimizer state of the uninterrupted run (h5diff of the final snapshots, and the FNV-1a
# of the parameters the example prints), its metrics records saying so (the stopped run's
# summary "preempted", the resumed run's start naming the snapshot); a directory of another
# --seed refused (exit 65); and
# the example as a user builds it, out of tree against an install of this build with its own
# CMakeLists.txt (find_package(mn 0.3), mn::mn), which trains to the same parameters.
#
# The signal goes to rank 0 alone, once the run's first snapshot is on disk (its pid is in the
# directory's lock file): every rank stops after the same step (the agreed stop). The runs use
# the in-tree build (mn_custom_example), the ranks started by plain mpirun (world 1: the
# program alone); under `mnrun -- PROGRAM`, tests/test_mnrun_program.sh runs it.
. "$MN_SRC/tests/lib.sh"

prog="$MN_BIN/mn_custom_example"
mninfo="$MN_BIN/mninfo"
steps=8000 # seconds: the signal lands long before the end, even on a loaded machine
args=(--steps "$steps" --every 500 --seed 7)

# launch NP ARGS...: the example on NP ranks
launch() {
  local np=$1
  shift
  if [ "$np" -eq 1 ]; then "$prog" "$@"; else mpirun -np "$np" --oversubscribe "$prog" "$@"; fi
}

# fingerprint FILE: the "done: ..." line's FNV-1a of the parameters
fingerprint() { sed -n 's/^done: .*parameters fnv1a \([0-9a-f]*\)$/\1/p' "$1"; }

# same_state A B DESC: parameters, optimizer state and blobs of two snapshots bitwise equal
same_state() {
  if h5diff -q "$1" "$2" /params /params && h5diff -q "$1" "$2" /optim /optim &&
    h5diff -q "$1" "$2" /user /user; then
    pass "$3: the final snapshot is bitwise the uninterrupted run's"
  else
    fail "$3: $1 and $2 differ"
    h5diff -r "$1" "$2" /params /params 2>&1 | head -n 5 >&2
  fi
}

final="step-$(printf %09d $steps).h5"
for np in 1 2; do
  expect_exit 0 "uninterrupted run on $np rank(s)" launch $np "${args[@]}" --dir "$MN_TMP/ref$np"
  cp "$MN_TMP/out" "$MN_TMP/ref$np.out"
  ref_fp=$(fingerprint "$MN_TMP/ref$np.out")
  [ -n "$ref_fp" ] || fail "world $np: no fingerprint printed"
  [ -f "$MN_TMP/ref$np/$final" ] || fail "world $np: no final snapshot $final"
  "$mninfo" --verify "$MN_TMP/ref$np/$final" >/dev/null || fail "world $np: mninfo --verify"
  if [ "$np" -eq 1 ]; then # mninfo reads an API snapshot: its attributes, its blob
    "$mninfo" "$MN_TMP/ref1/$final" >"$MN_TMP/info" 2>&1
    for want in "a trainer of mn's API, version 1" "user.int.seed = 7" "user.blob.curve = 64" \
      "user/curve  *64 bytes .* ok" "params/hidden.weight  *64x16 "; do
      grep -q -- "$want" "$MN_TMP/info" || fail "mninfo of an API snapshot lacks /$want/"
    done
    expect_exit 65 "mninfo --export refuses an API snapshot" "$mninfo" --export "$MN_TMP/x.st" \
      "$MN_TMP/ref1/$final"
  fi

  # stopped: SIGTERM to rank 0 once the first snapshot exists
  dir="$MN_TMP/stop$np"
  launch $np "${args[@]}" --dir "$dir" --metrics "$MN_TMP/m$np.jsonl" >"$MN_TMP/stop$np.out" \
    2>"$MN_TMP/err" &
  job=$!
  for _ in $(seq 3000); do
    compgen -G "$dir/step-*.h5" >/dev/null && break
    kill -0 $job 2>/dev/null || break
    sleep 0.01
  done
  pid=$(sed -n 's/^host .*, pid \([0-9]*\), since .*/\1/p' "$dir/.mn-lock" 2>/dev/null)
  if [ -n "$pid" ]; then kill -TERM "$pid"; else fail "world $np: no snapshot and no lock holder"; fi
  wait $job
  code=$?
  if [ "$code" -eq 75 ]; then pass "world $np: stopped by SIGTERM, exit 75"; else
    fail "world $np: the stopped run exited $code, want 75"
    sed 's/^/  | /' "$MN_TMP/err" >&2
  fi
  latest=$("$mninfo" --latest "$dir" 2>/dev/null)
  stopped_at=$("$mninfo" "$latest" 2>/dev/null | awk '$1 == "position" { sub(",", "", $7); print $7 }')
  if "$mninfo" "$latest" 2>/dev/null | grep -q '^reason *stop$' && [ -n "$stopped_at" ] &&
    [ "$stopped_at" -lt $steps ]; then
    pass "world $np: a stop snapshot at step $stopped_at of $steps"
  else
    fail "world $np: the newest snapshot ($latest) is not a stop snapshot before the end"
  fi
  grep -q "stopped by a signal after step $stopped_at" "$MN_TMP/stop$np.out" ||
    fail "world $np: the example did not say where it stopped"

  # resumed to the end
  expect_exit 0 "world $np: resumed to the end" launch $np "${args[@]}" --dir "$dir" \
    --metrics "$MN_TMP/m$np.jsonl"
  grep -q "^resumed at step $stopped_at from" "$MN_TMP/out" || fail "world $np: not resumed at $stopped_at"
  # its records (mn/metrics.h): the stopped run's summary, then the resumed run's start
  m="$MN_TMP/m$np.jsonl"
  if [ "$(grep -c '"event":"summary"' "$m")" = 2 ] &&
    grep '"event":"summary"' "$m" | head -n 1 | grep -q "\"status\":\"preempted\".*\"end_step\":$stopped_at," &&
    grep '"event":"start"' "$m" | tail -n 1 | grep -q "\"global_step\":$stopped_at,.*\"resumed_from\":\"$latest\"" &&
    grep '"event":"summary"' "$m" | tail -n 1 | grep -q "\"status\":\"done\".*\"end_step\":$steps," &&
    grep -q "\"event\":\"snapshot\".*\"global_step\":$stopped_at,\"reason\":\"stop\",\"path\":\"$latest\",\"status\":\"ok\"" "$m" &&
    grep -q "\"event\":\"snapshot\".*\"global_step\":$steps,\"reason\":\"final\".*\"status\":\"ok\"" "$m"; then
    pass "world $np: the metrics say preempted at $stopped_at (its stop snapshot), resumed from $latest, done at $steps"
  else
    fail "world $np: metrics records: $(grep -E '"event":"(start|summary)"' "$m" | cut -c 1-200)"
  fi
  fp=$(fingerprint "$MN_TMP/out")
  if [ -n "$fp" ] && [ "$fp" = "$ref_fp" ]; then
    pass "world $np: the parameters' fingerprint is the uninterrupted run's ($fp)"
  else
    fail "world $np: fingerprint $fp after the resume, $ref_fp uninterrupted"
  fi
  same_state "$MN_TMP/ref$np/$final" "$dir/$final" "world $np"
done

# a run of another seed on that directory: refused, nothing written
before=$(ls "$MN_TMP/stop1" | wc -l)
expect_exit 65 "another --seed on the directory refused" launch 1 --steps $steps --seed 8 --dir "$MN_TMP/stop1"
expect_err "holds a run of --seed 7" "the refusal names the snapshot's seed"
[ "$(ls "$MN_TMP/stop1" | wc -l)" -eq "$before" ] || fail "the refused run changed the directory"

# out of tree: examples/custom/CMakeLists.txt against an install prefix, nothing else
build=$(cd "$MN_BIN/.." && pwd)
P="$MN_TMP/prefix"
if (unset CMAKE_PREFIX_PATH PKG_CONFIG_PATH LD_LIBRARY_PATH
  cmake --install "$build" --prefix "$P" &&
    cmake -S "$MN_SRC/examples/custom" -B "$MN_TMP/outside" -DCMAKE_PREFIX_PATH="$P" &&
    cmake --build "$MN_TMP/outside") >"$MN_TMP/outside.log" 2>&1; then
  pass "examples/custom built out of tree with find_package(mn) against $P"
  prog="$MN_TMP/outside/custom"
  expect_exit 0 "the out-of-tree build trains on 2 ranks" launch 2 "${args[@]}" --dir "$MN_TMP/outside2"
  fp=$(fingerprint "$MN_TMP/out")
  [ -n "$fp" ] && [ "$fp" = "$(fingerprint "$MN_TMP/ref2.out")" ] &&
    pass "it ends with the in-tree build's parameters ($fp)" ||
    fail "the out-of-tree build ends with fingerprint '$fp', the in-tree one $(fingerprint "$MN_TMP/ref2.out")"
else
  fail "examples/custom out of tree"
  sed 's/^/  | /' "$MN_TMP/outside.log" >&2
fi

finish
