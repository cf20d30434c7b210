# test_cli.sh: what every program (mnrun, mnrank, mntrain, mninfo, mnbench, mneval, mnprep)
# answers on its command line alike: --version prints "PROG VERSION" (the project's version)
# and exits 0, and an unknown option exits 64 with a "did you mean --X?" taken from the
# program's own options (runtime/base/suggest.c, shared with train.conf's key suggestions).
. "$MN_SRC/tests/lib.sh"

# the project's version is the public headers' (CMakeLists.txt reads it from there)
part() { sed -n "s/^#define MN_VERSION_$1 \([0-9]*\)$/\1/p" "$MN_SRC/include/mn/version.h"; }
version="$(part MAJOR).$(part MINOR).$(part PATCH)"
[[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || fail "no version in include/mn/version.h ($version)"

for prog in mnrun mnrank mntrain mninfo mnbench mneval mnprep; do
  expect_exit 0 "$prog --version" "$MN_BIN/$prog" --version
  got=$(cat "$MN_TMP/out")
  [ "$got" = "$prog $version" ] && pass "$prog --version prints '$got'" ||
    fail "$prog --version printed '$got', want '$prog $version'"
  expect_exit 64 "$prog --verison" "$MN_BIN/$prog" --verison
  expect_err "unknown option '--verison' \(did you mean --version\?\)" "$prog suggests --version"
  expect_exit 64 "$prog --no-such-thing" "$MN_BIN/$prog" --no-such-thing
  if grep -q "did you mean" "$MN_TMP/err"; then
    fail "$prog suggests something for --no-such-thing: $(cat "$MN_TMP/err")"
  else
    pass "$prog suggests nothing far off"
  fi
done

# a suggestion from each program's own options (typos that are not
# prefixes: getopt_long takes an unambiguous prefix such as --metric as --metrics)
expect_exit 64 "mnrun --hostfiel" "$MN_BIN/mnrun" --hostfiel h train.conf
expect_err "did you mean --hostfile\?" "mnrun --hostfiel: did you mean --hostfile?"
expect_exit 64 "mnrun -hostfiel" "$MN_BIN/mnrun" -hostfiel h train.conf # not -h, help
expect_err "did you mean --hostfile\?" "mnrun -hostfiel: did you mean --hostfile?"
expect_exit 0 "mnrun -h" "$MN_BIN/mnrun" -h
expect_exit 64 "mnrun --dryrun" "$MN_BIN/mnrun" --dryrun train.conf
expect_err "did you mean --dry-run\?" "mnrun --dryrun: did you mean --dry-run?"
expect_exit 64 "mntrain --metrix" "$MN_BIN/mntrain" --metrix=m.jsonl train.conf
expect_err "did you mean --metrics\?" "mntrain --metrix=...: did you mean --metrics?"
expect_exit 64 "mnbench --max-bites" "$MN_BIN/mnbench" --max-bites 1M train.conf
expect_err "did you mean --max-bytes\?" "mnbench --max-bites: did you mean --max-bytes?"
expect_exit 64 "mninfo --latset" "$MN_BIN/mninfo" --latset dir
expect_err "did you mean --latest\?" "mninfo --latset: did you mean --latest?"
expect_exit 64 "mneval --predcit" "$MN_BIN/mneval" --predcit p.csv snap.h5
expect_err "did you mean --predict\?" "mneval --predcit: did you mean --predict?"

expect_exit 64 "mnprep csv --standardise" "$MN_BIN/mnprep" csv --standardise --in a.csv --out a.h5
expect_err "did you mean --standardize\?" "mnprep csv --standardise: did you mean --standardize?"
expect_exit 64 "mnprep teacher --sampels" "$MN_BIN/mnprep" teacher --sampels 3 --out t
expect_err "did you mean --samples\?" "mnprep teacher --sampels: did you mean --samples?"
expect_exit 64 "mnprep teachr" "$MN_BIN/mnprep" teachr --out t
expect_err "unknown command 'teachr' \(did you mean teacher\?\)" "mnprep teachr: did you mean teacher?"
expect_exit 0 "mnprep csv --version" "$MN_BIN/mnprep" csv --version

# train.conf keys still get theirs (config.c now uses the same shared function)
printf '[model]\nlayers = 4,3\n[data]\ntrain = x.h5\nbatch_sise = 3\n' >"$MN_TMP/bad.conf"
expect_exit 64 "mnrun with a mistyped key" "$MN_BIN/mnrun" --dry-run "$MN_TMP/bad.conf"
expect_err "did you mean 'batch_size'\?" "config key suggestion"
finish
