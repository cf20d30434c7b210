# tests/lib.sh: helpers for the shell tests (sourced). Each test gets MN_BIN, MN_SRC and
# MN_TMP from CTest (tests/CMakeLists.txt).
set -u
: "${MN_BIN:?run through ctest}" "${MN_SRC:?}" "${MN_TMP:?}"
rm -rf "$MN_TMP" && mkdir -p "$MN_TMP"
cd "$MN_TMP" || exit 1 # relative outputs (the default snapshot.dir) land in the scratch dir
fails=0

fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
pass() { echo "ok: $*"; }

# json_field FILE EVENT KEY: the value of KEY in the last record of EVENT in a JSON-lines file
json_field() {
  grep "\"event\":\"$2\"" "$1" | tail -n 1 | grep -o "\"$3\":[^,}]*" | head -n 1 | cut -d: -f2- | tr -d '"'
}

# check_float EXPR: an awk comparison on numbers, e.g. check_float "0.3 < 0.5"
check_float() { awk "BEGIN { exit !($1) }"; }

# guard SECONDS PID: SIGKILL PID if it still runs after SECONDS (a lost signal, a hang); gone
# as soon as PID is, so that no stray sleep holds the test's output open
guard() {
  local i
  for ((i = 0; i < $1 * 10; i++)); do
    kill -0 "$2" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -KILL "$2" 2>/dev/null
}

# expect_exit CODE DESC CMD...: run CMD, check its exit code; its stderr is in $MN_TMP/err
expect_exit() {
  local want=$1 desc=$2
  shift 2
  "$@" >"$MN_TMP/out" 2>"$MN_TMP/err"
  local got=$?
  if [ "$got" -eq "$want" ]; then pass "$desc (exit $got)"; else
    fail "$desc: exit $got, want $want"; sed 's/^/  | /' "$MN_TMP/err" >&2; fi
}

# expect_err PATTERN DESC: the last command's stderr matches the (grep -E) pattern
expect_err() {
  if grep -qE -- "$1" "$MN_TMP/err"; then pass "$2"; else
    fail "$2: stderr lacks /$1/"; sed 's/^/  | /' "$MN_TMP/err" >&2; fi
}

finish() {
  if [ "$fails" -ne 0 ]; then echo "$fails check(s) failed" >&2; exit 1; fi
  echo "all checks passed"
}

# small_run SAMPLES VAL EPOCHS: a small teacher dataset in $MN_TMP (t-train.h5, and t-val.h5
# when VAL > 0; 16 features, 3 classes) and $MN_TMP/t.conf, which trains a 16,32,3 MLP on it
# with batch 20 for EPOCHS epochs and ends in its [schedule] section: append to it for more.
small_run() {
  "$MN_BIN/mnprep" teacher --out "$MN_TMP/t" --samples "$1" --val "$2" --dim 16 --classes 3 \
    --hidden 8 >/dev/null || fail "mnprep teacher"
  {
    printf '[model]\nlayers = 16,32,3\n[data]\ntrain = %s/t-train.h5\n' "$MN_TMP"
    [ "$2" -gt 0 ] && printf 'val = %s/t-val.h5\n' "$MN_TMP"
    printf 'batch_size = 20\n[schedule]\nepochs = %s\n' "$3"
  } >"$MN_TMP/t.conf"
}
