# test_mneval.sh: mneval scores a trained model without the training set. After a 2-rank
# run, mneval on the run's snapshot directory reproduces the validation loss and accuracy
# of the run's last epoch record (same parameters, same data); its confusion matrix sums to
# the rows and its diagonal to the correct ones; --predict writes CSV and HDF5 whose
# predictions are the argmax of their probabilities and agree with the accuracy; --data
# scores another dataset; bad input gets its documented exit code and leaves no file.
. "$MN_SRC/tests/lib.sh"

"$MN_BIN/mnprep" teacher --out data/ev --samples 4096 --val 1024 --dim 32 >/dev/null ||
  fail "mnprep teacher"
cat >ev.conf <<'CONF'
[model]
layers = 32,64,10
[data]
train = data/ev-train.h5
val = data/ev-val.h5
batch_size = 64
[schedule]
epochs = 2
[log]
progress = off
CONF
expect_exit 0 "a 2-rank run" "$MN_BIN/mnrun" -np 2 ev.conf --metrics ev.jsonl

# ---- the score equals the run's own validation ----
expect_exit 0 "mneval --json on the snapshot directory" "$MN_BIN/mneval" --json snapshots/ev
cp out ev.json
val_loss=$(json_field ev.jsonl epoch val_loss)
val_acc=$(json_field ev.jsonl epoch val_accuracy)
loss=$(grep -o '"loss":[^,]*' ev.json | cut -d: -f2)
acc=$(grep -o '"accuracy":[^,]*' ev.json | head -1 | cut -d: -f2)
check_float "($loss - $val_loss)^2 < (1e-5 * $val_loss)^2" &&
  pass "loss $loss = the run's val_loss $val_loss" || fail "loss $loss, the run's val_loss $val_loss"
check_float "$acc == $val_acc" && pass "accuracy $acc = the run's val_accuracy" ||
  fail "accuracy $acc, the run's val_accuracy $val_acc"
grep -q '"snapshot":"snapshots/ev/step-000000064.h5"' ev.json && pass "the newest snapshot" ||
  fail "not the newest snapshot: $(head -c 100 ev.json)"
/usr/bin/python3 - ev.json <<'PY' && pass "confusion: rows sum to 1024, diagonal to correct" || fail "confusion"
import json, sys
r = json.load(open(sys.argv[1]))
m = r["confusion"]
assert len(m) == 10 and all(len(row) == 10 for row in m)
assert sum(map(sum, m)) == r["rows"] == 1024
assert sum(m[i][i] for i in range(10)) == r["correct"]
assert all(pc["rows"] == sum(m[pc["class"]]) for pc in r["per_class"])
PY
expect_exit 0 "mneval text" "$MN_BIN/mneval" snapshots/ev/step-000000064.h5
grep -qE "^accuracy +[0-9.]+ \([0-9]+ of 1024\)" out && grep -q "^confusion matrix" out &&
  pass "the text report" || fail "text report: $(head -5 out)"

# ---- predictions ----
for f in p.csv p.h5; do
  expect_exit 0 "--predict $f" "$MN_BIN/mneval" --predict "$f" snapshots/ev
done
/usr/bin/python3 - p.csv "$acc" <<'PY' && pass "p.csv: 1024 rows, pred = argmax, accuracy agrees" ||
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
assert len(rows) == 1024 and [int(r["row"]) for r in rows] == list(range(1024))
ok = 0
for r in rows:
    p = [float(r["p%d" % c]) for c in range(10)]
    assert abs(sum(p) - 1) < 1e-4
    assert int(r["pred"]) == max(range(10), key=lambda c: p[c])
    ok += int(r["pred"]) == int(r["label"])
assert abs(ok / 1024 - float(sys.argv[2])) < 1e-9, ok
PY
  fail "p.csv"
h5ls p.h5 >h5ls.out 2>&1
grep -q "^pred *Dataset {1024}" h5ls.out && grep -q "^prob *Dataset {1024, 10}" h5ls.out &&
  grep -q "^y *Dataset {1024}" h5ls.out && pass "p.h5: /pred, /prob, /y" || fail "p.h5: $(cat h5ls.out)"
h5diff -d 0 p.h5 data/ev-val.h5 /y /y >/dev/null && pass "p.h5 /y is the dataset's labels" ||
  fail "p.h5 /y differs from the dataset's"

# ---- another dataset ----
expect_exit 0 "--data the training set" "$MN_BIN/mneval" --json --data data/ev-train.h5 snapshots/ev
grep -q '"rows":4096' out && pass "4096 rows scored" || fail "--data: $(head -c 200 out)"

# ---- bad input ----
expect_exit 66 "no snapshot" "$MN_BIN/mneval" snapshots/none
expect_exit 64 "--predict of an unknown kind" "$MN_BIN/mneval" --predict p.txt snapshots/ev
expect_err "expected a name ending in .h5, .hdf5 or .csv" "the kind is named"
expect_exit 64 "no argument" "$MN_BIN/mneval"
"$MN_BIN/mnprep" teacher --out data/other --samples 256 --val 0 --dim 16 >/dev/null
expect_exit 65 "a dataset of other features" "$MN_BIN/mneval" --data data/other-train.h5 snapshots/ev
expect_exit 74 "--predict into a missing directory" "$MN_BIN/mneval" --predict no/such/p.csv snapshots/ev
[ -z "$(ls no 2>/dev/null)" ] && pass "nothing left behind" || fail "left: $(ls -R no)"
cp p.csv keep.csv
expect_exit 65 "a dataset of other features, --predict over an existing file" \
  "$MN_BIN/mneval" --predict p.csv --data data/other-train.h5 snapshots/ev
cmp -s p.csv keep.csv && pass "the existing predictions are untouched" || fail "p.csv changed"
[ -z "$(ls p.csv.tmp* 2>/dev/null)" ] && pass "no temporary file left" || fail "left: $(ls p.csv.tmp*)"
"$MN_BIN/mneval" --version | grep -qE "^mneval [0-9]+\.[0-9]+" && pass "--version" || fail "--version"
finish
