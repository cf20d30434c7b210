# test_metrics_records.sh: what the metrics file's records mean (docs/metrics.md), through
# mnrun at 2 ranks:
# - a first "start" record: mn version, world, every rank's host, the effective config (as
#   section -> key -> value), where the run starts; every record has "time" (Unix seconds);
# - counts as people count, the same in every event type: epochs from 1, and global_step =
#   optimizer steps completed when the record is written (so the last step record of an
#   epoch, its epoch record and its epoch snapshot's record agree);
# - elapsed_s continues across a resume (kept in the snapshot as elapsed_s);
# - a resume of a finished run says what it had reached (its last step, epochs, losses and
#   accuracy, kept in the snapshot), not "loss nan -> nan".
. "$MN_SRC/tests/lib.sh"
T=$MN_TMP
small_run 1200 200 2
cat >>"$T/t.conf" <<CONF
[log]
interval = 5
progress = plain
CONF
t0=$(date +%s)
expect_exit 0 "a 2-epoch run" "$MN_BIN/mnrun" -np 2 "$T/t.conf" --metrics "$T/m.jsonl" \
  --set snapshot.dir="$T/snap"
cp "$T/out" "$T/out_first"
expect_exit 0 "resumed for 2 more epochs" "$MN_BIN/mnrun" -np 2 "$T/t.conf" \
  --metrics "$T/m.jsonl" --set snapshot.dir="$T/snap" --set schedule.epochs=4
expect_exit 0 "a resume of the finished run" "$MN_BIN/mnrun" -np 2 "$T/t.conf" \
  --metrics "$T/m.jsonl" --set snapshot.dir="$T/snap" --set schedule.epochs=4
cp "$T/out" "$T/out_done"
cp "$T/err" "$T/err_done"
t1=$(($(date +%s) + 1))

cat >"$T/check.py" <<'PY'
import json, math, sys
path, t0, t1, nkeys = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
recs = [json.loads(l) for l in open(path)]
errors = []
def check(cond, what):
    try:
        ok = cond()
    except (KeyError, IndexError, TypeError, AttributeError, ValueError) as e:
        ok, what = False, f"{what} ({type(e).__name__}: {e})"
    print(("ok: " if ok else "FAIL: ") + what)
    if not ok: errors.append(what)
# what the finished run should say: the last step record's loss, the last epoch's numbers
last_epoch = [r for r in recs if r["event"] == "epoch"][-1]
last_loss = [r for r in recs if r["event"] == "step"][-1]["loss"]
open(sys.argv[5], "w").write("%.4f %.4f %.4f %.2f" % (last_loss, last_epoch["train_loss"],
     last_epoch["val_loss"], 100 * last_epoch["val_accuracy"]))
# three runs, each from its start record to its summary
runs, cur = [], None
check(lambda: recs[0]["event"] == "start", f"the first record is a start record ({recs[0]['event']})")
for r in recs:
    if r["event"] == "start":
        cur = []
        runs.append(cur)
    if cur is not None: cur.append(r)
check(lambda: len(runs) == 3 and all(run[0]["event"] == "start" and run[-1]["event"] == "summary"
      for run in runs), "3 runs, each from a start record to a summary")
check(lambda: all(isinstance(r.get("time"), (int, float)) and t0 <= r["time"] <= t1 for r in recs),
      "every record has a wall-clock time of the run")
check(lambda: all(recs[i]["time"] <= recs[i + 1]["time"] + 1e-3 for i in range(len(recs) - 1)),
      "times do not go back")
s = runs[0][0]
cfg = s.get("config", {})
check(lambda: s.get("world") == 2 and len(s.get("hosts", [])) == 2 and all(s["hosts"]),
      f"start: world 2 and 2 hosts ({s.get('hosts')})")
check(lambda: isinstance(s.get("mn_version"), str) and s["mn_version"][0].isdigit(), "start: mn version")
check(lambda: sum(len(v) for v in cfg.values()) == nkeys and cfg["data"]["batch_size"] == "20"
      and cfg["schedule"]["epochs"] == "2" and cfg["model"]["layers"] == "16,32,3",
      f"start: the effective config, {nkeys} keys by section")
check(lambda: s["global_step"] == 0 and s["epoch"] == 1 and s["resumed_from"] is None
      and s["elapsed_s"] == 0, "start: a fresh run at step 0, epoch 1")
r2 = runs[1][0]
check(lambda: r2["global_step"] == 60 and r2["epoch"] == 3 and r2["resumed_from"].endswith(
      "step-000000060.h5") and r2["config"]["schedule"]["epochs"] == "4",
      f"start of the resumed run: step 60, epoch 3, its snapshot, its config ({r2['global_step']}, {r2['epoch']})")
# counts from 1, and global_step the same in every event type
steps = [r for r in recs if r["event"] == "step"]
epochs = [r for r in recs if r["event"] == "epoch"]
snaps = [r for r in recs if r["event"] == "snapshot"]
check(lambda: steps[0]["epoch"] == 1 and steps[0]["step"] == 1 and steps[0]["global_step"] == 1,
      "the first step record: epoch 1, step 1, global_step 1")
check(lambda: [e["epoch"] for e in epochs] == [1, 2, 3, 4] and [e["global_step"] for e in epochs]
      == [30, 60, 90, 120], "epoch records: epochs 1-4 at global steps 30, 60, 90, 120")
for e in epochs:
    last = [r for r in steps if r["global_step"] == e["global_step"]]
    snap = [r for r in snaps if r["global_step"] == e["global_step"]]
    check(lambda: len(last) == 1 and last[0]["epoch"] == e["epoch"] and last[0]["step"] == 30
          and len(snap) == 1, f"epoch {e['epoch']}: its last step record, its epoch record and "
          f"its snapshot record all say global_step {e['global_step']}")
check(lambda: all(r["global_step"] == (r["epoch"] - 1) * 30 + r["step"] for r in steps),
      "every step record: global_step = (epoch - 1) x 30 + step")
sums = [run[-1] for run in runs]
check(lambda: [(x["start_step"], x["end_step"], x["global_step"], x["epoch"]) for x in sums]
      == [(0, 60, 60, 2), (60, 120, 120, 4), (120, 120, 120, 4)], "summaries: steps and epochs")
# elapsed_s goes on across the resume
first_end = max(r["elapsed_s"] for r in runs[0] if "elapsed_s" in r and r["event"] != "summary")
second = [r for r in runs[1] if r["event"] == "step"]
check(lambda: r2["elapsed_s"] > 0 and abs(r2["elapsed_s"] - first_end) < 0.5
      and second[0]["elapsed_s"] > r2["elapsed_s"],
      f"elapsed_s goes on: first run ended at {first_end:.3f}, resumed at {r2['elapsed_s']:.3f}, "
      f"its first step at {second[0]['elapsed_s']:.3f}")
check(lambda: all(second[i]["elapsed_s"] <= second[i + 1]["elapsed_s"] for i in range(len(second) - 1)),
      "and grows")
# the finished run's summary holds what it had reached
last_step = [r for r in runs[1] if r["event"] == "step"][-1]
done = runs[2][-1]
check(lambda: done["final_loss"] == last_step["loss"] and done["val_accuracy"] == epochs[-1]["val_accuracy"],
      "the finished run's summary: its last loss and val accuracy")
sys.exit(1 if errors else 0)
PY
# the number of config keys, from the snapshot's own config
nkeys=$("$MN_BIN/mninfo" "$T/snap/step-000000120.h5" 2>/dev/null | grep -cE '^  [a-z0-9_]+\.[a-z0-9_]+ = ')
/usr/bin/python3 "$T/check.py" "$T/m.jsonl" "$t0" "$t1" "$nkeys" "$T/want" | sed 's/^/  /'
[ "${PIPESTATUS[0]}" = 0 ] && pass "the records (above)" || fail "the records (above)"

# what the finished run said on the terminal: the numbers of its last records
read -r loss train_loss val_loss val_acc <"$T/want"
want="nothing to do: the run had finished at step 120, 4 epochs done; its last loss $loss, train loss $train_loss, val loss $val_loss, val accuracy $val_acc%"
grep -qF "$want" "$T/out_done" && pass "the finished run says what it reached" ||
  fail "the finished run's line: want '$want', got: $(cat "$T/out_done")"
grep -qi "nan" "$T/out_done" "$T/err_done" && fail "nan in the finished run's output" ||
  pass "no nan in the finished run's output"
grep -q "^epoch 1 done" "$T/out_first" && ! grep -q "^epoch 0" "$T/out_first" &&
  pass "the terminal counts epochs from 1 too" || fail "terminal epochs: $(head -3 "$T/out_first")"

# the snapshot keeps what the resume needs (docs/snapshot-format.md)
if command -v h5dump >/dev/null; then
  missing=
  for a in elapsed_s loss train_loss val_loss val_accuracy; do
    h5dump -a "/$a" "$T/snap/step-000000120.h5" >/dev/null 2>&1 || missing="$missing $a"
  done
  [ -z "$missing" ] && pass "the final snapshot holds elapsed_s, loss, train_loss, val_loss, val_accuracy" ||
    fail "the final snapshot lacks:$missing"
else
  echo "SKIP: h5dump not installed: the snapshot's attributes are not listed"
fi
finish
