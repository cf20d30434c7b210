# test_format1.sh: snapshots of format 1 (mn 0.2, before the model core of issue 13) are
# still read, with the fixture of tests/fixtures/format1/ (its README says how it was
# written: a 16,32,3 MLP, SGD with momentum, world 2, 20 steps, a snapshot every 5).
#
#   - today's mnrun resumes the format-1 snapshot of step 5 (its own train.conf, world 2 as
#     it was written), says so ("resuming from"), finishes at step 20, and its final
#     parameters equal those of the old run's step-20 snapshot within 1e-5 relative (max
#     norm over every tensor): both exported by mninfo --export to safetensors, compared by
#     a reader written from the safetensors spec (Python's standard library). The new run
#     writes format 2.
#   - mninfo on a format-1 file still lists its tensors (params/W0, optim/velocity/W0, ...).
#   - a run with optimizer.kind = adamw refuses the format-1 snapshot (it holds SGD's
#     velocity), naming both kinds: 65 under require and under auto, the file unchanged.
. "$MN_SRC/tests/lib.sh"

mnrun="$MN_BIN/mnrun"
mninfo="$MN_BIN/mninfo"
fixture="$MN_SRC/tests/fixtures/format1"

[ -x /usr/bin/python3 ] || { echo "SKIP: no /usr/bin/python3 (setup.sh installs it)"; exit 77; }

# the run's directory as the fixture's train.conf expects it (train.h5, snaps/), holding
# only the step-5 snapshot
run="$MN_TMP/run"
mkdir -p "$run/snaps"
cp "$fixture/train.conf" "$fixture/train.h5" "$run/"
cp "$fixture/step-000000005.h5" "$run/snaps/"
cd "$run" || exit 1

# ---- mninfo on format 1 ----
expect_exit 0 "mninfo on the format-1 snapshot" "$mninfo" snaps/step-000000005.h5
grep -q "^version *format 1," "$MN_TMP/out" && pass "mninfo says format 1" ||
  fail "mninfo's version line: $(grep '^version' "$MN_TMP/out")"
for t in "params/W0 *32x16" "params/b0 *32 " "params/W1 *3x32" "params/b1 *3 " \
  "optim/velocity/W0 *32x16" "optim/velocity/b1 *3 "; do
  grep -qE "^  $t.* ok$" "$MN_TMP/out" && pass "mninfo lists ${t%% *}" ||
    fail "mninfo does not list /$t/ as ok: $(grep -c ' ok$' "$MN_TMP/out") tensors ok"
done

# ---- a run of kind adamw refuses it ----
before=$(md5sum snaps/step-000000005.h5)
for mode in require auto; do
  expect_exit 65 "kind adamw, --resume $mode: the format-1 snapshot is refused" "$mnrun" -np 2 \
    train.conf --set optimizer.kind=adamw --resume "$mode"
  expect_err "step-000000005\.h5: it holds the state of optimizer.kind = sgd, and this run uses adamw" \
    "--resume $mode: the refusal names both kinds"
done
[ "$(md5sum snaps/step-000000005.h5)" = "$before" ] && [ "$(ls snaps)" = step-000000005.h5 ] &&
  pass "the refused runs wrote nothing" || fail "the refused runs changed snaps/: $(ls snaps)"

# ---- resumed by today's mnrun ----
expect_exit 0 "today's mnrun resumes the format-1 step-5 snapshot" "$mnrun" -np 2 train.conf \
  --metrics m.jsonl
expect_err "resuming from snaps/step-000000005\.h5: 5 steps" "it resumed from step 5"
start=$(json_field m.jsonl summary start_step)
end=$(json_field m.jsonl summary end_step)
[ "$start" = 5 ] && [ "$end" = 20 ] && pass "steps 5 to 20" || fail "steps $start to $end, want 5 to 20"
final=$("$mninfo" --latest snaps 2>/dev/null)
[ "$final" = snaps/step-000000020.h5 ] && pass "final snapshot $final" ||
  fail "final snapshot '$final', want snaps/step-000000020.h5"
"$mninfo" "$final" | grep -q "^version *format 2," && pass "the new run writes format 2" ||
  fail "the new run's snapshot: $("$mninfo" "$final" | grep '^version')"

# its final parameters against the old run's
expect_exit 0 "export the new run's final parameters" "$mninfo" --export new.safetensors "$final"
expect_exit 0 "export the old run's step-20 parameters (format 1)" "$mninfo" \
  --export old.safetensors "$fixture/step-000000020.h5"
cat >compare.py <<'PY'
import json, struct, sys
def load(path):
    raw = open(path, "rb").read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n]); header.pop("__metadata__", None)
    out = {}
    for name, e in header.items():
        assert e["dtype"] == "F32", (name, e["dtype"])
        a, b = e["data_offsets"]
        data = raw[8 + n + a:8 + n + b]
        out[name] = (e["shape"], struct.unpack("<%df" % (len(data) // 4), data))
    return out
new, old = load("new.safetensors"), load("old.safetensors")
assert sorted(new) == sorted(old) == ["0.bias", "0.weight", "2.bias", "2.weight"], (sorted(new), sorted(old))
diff = ref = 0.0
for name in old:
    assert new[name][0] == old[name][0], (name, new[name][0], old[name][0])
    for x, y in zip(new[name][1], old[name][1]):
        diff, ref = max(diff, abs(x - y)), max(ref, abs(y))
print("max |new - old| %.3g, relative %.3g" % (diff, diff / ref))
sys.exit(0 if diff <= 1e-5 * ref else 1)
PY
out=$(/usr/bin/python3 compare.py 2>&1) && pass "final parameters equal the old run's step 20 ($out)" ||
  fail "final parameters differ from the old run's step 20: $out"
finish
