# test_tensorboard.sh: log.tensorboard = DIR (docs/metrics.md): rank 0 writes a TensorBoard
# event file as it goes. A reader written here from the format (python3's standard library:
# the TFRecord framing with both masked CRC-32Cs checked, and the few Event, Summary and
# Summary.Value protobuf fields decoded by hand) checks its tags, steps and values against
# the metrics file's records; where TensorBoard's own reader is importable (python3, or
# $MN_PYTHON), it reads the file too; elsewhere that part says SKIP.
. "$MN_SRC/tests/lib.sh"
T=$MN_TMP
small_run 1200 200 3
cat >>"$T/t.conf" <<CONF
lr_schedule = cosine
[log]
interval = 4
progress = off
CONF
expect_exit 0 "a run with log.tensorboard" "$MN_BIN/mnrun" -np 2 "$T/t.conf" \
  --metrics "$T/m.jsonl" --set log.tensorboard="$T/tb/run1" --set snapshot.dir="$T/snap"
expect_err "TensorBoard events in $T/tb/run1/events\.out\.tfevents\." "the file is named in the log"
n=$(ls "$T"/tb/run1/events.out.tfevents.* 2>/dev/null | wc -l)
[ "$n" = 1 ] && pass "one event file" || fail "$n event files in $T/tb/run1"

cat >"$T/read.py" <<'PY'
import glob, json, math, struct, sys

def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
    return crc ^ 0xFFFFFFFF

def masked(data):
    c = crc32c(data)
    return (((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF

def varint(b, i):
    v = shift = 0
    while True:
        x = b[i]; i += 1
        v |= (x & 0x7F) << shift; shift += 7
        if not x & 0x80:
            return v, i

def fields(b):  # protobuf wire format: {field: [values]}
    out, i = {}, 0
    while i < len(b):
        key, i = varint(b, i)
        f, wt = key >> 3, key & 7
        if wt == 0: v, i = varint(b, i)
        elif wt == 1: v = b[i:i + 8]; i += 8
        elif wt == 5: v = b[i:i + 4]; i += 4
        elif wt == 2:
            n, i = varint(b, i); v = b[i:i + n]; i += n
        else: raise ValueError(f"wire type {wt}")
        out.setdefault(f, []).append(v)
    return out

path = glob.glob(sys.argv[1] + "/events.out.tfevents.*")[0]
data, i, events = open(path, "rb").read(), 0, []
while i < len(data):
    head = data[i:i + 8]
    (n,) = struct.unpack("<Q", head)
    (hc,) = struct.unpack("<I", data[i + 8:i + 12])
    body = data[i + 12:i + 12 + n]
    (dc,) = struct.unpack("<I", data[i + 12 + n:i + 16 + n])
    if hc != masked(head) or dc != masked(body):
        sys.exit(f"bad CRC in the record at byte {i}")
    events.append(fields(body)); i += 16 + n
errors = []
def check(ok, what):
    print(("ok: " if ok else "FAIL: ") + what)
    if not ok: errors.append(what)
first = events[0]
check(first.get(3) == [b"brain.Event:2"], "the first event is file_version brain.Event:2")
scalars = {}  # tag -> [(step, value, wall_time)]
for e in events[1:]:
    (wall,) = struct.unpack("<d", e[1][0])
    step = e.get(2, [0])[0]
    for v in fields(e[5][0])[1]:
        val = fields(v)
        tag = val[1][0].decode()
        (x,) = struct.unpack("<f", val[2][0])
        scalars.setdefault(tag, []).append((step, x, wall))
print(f"{len(events)} events, tags {sorted(scalars)}")
recs = [json.loads(l) for l in open(sys.argv[2])]
def same(tag, event, key):
    want = [(r["global_step"], r[key], r["time"]) for r in recs if r["event"] == event]
    got = scalars.get(tag, [])
    ok = len(got) == len(want) and all(
        gs == ws and math.isclose(gv, wv, rel_tol=1e-6, abs_tol=1e-9) and abs(gt - wt) < 0.01
        for (gs, gv, gt), (ws, wv, wt) in zip(got, want))
    check(ok, f"{tag}: {len(got)} values at the steps and times of the {event} records' {key} "
              f"(first {got[:1]}, want {want[:1]})")
same("train/loss", "step", "loss")
same("train/lr", "step", "lr")
same("train/samples_per_s", "step", "samples_per_s")
same("train/epoch_loss", "epoch", "train_loss")
same("val/loss", "epoch", "val_loss")
same("val/accuracy", "epoch", "val_accuracy")
check(len(set(v for _, v, _ in scalars.get("train/lr", []))) > 2, "the cosine lr changes")
sys.exit(1 if errors else 0)
PY
/usr/bin/python3 "$T/read.py" "$T/tb/run1" "$T/m.jsonl" | sed 's/^/  /'
[ "${PIPESTATUS[0]}" = 0 ] && pass "a reader from the format agrees with the metrics file" ||
  fail "the event file (above)"

# the reader is able to fail: one byte changed in the last record's data
mkdir -p "$T/bad"
cp "$T"/tb/run1/events.out.tfevents.* "$T/bad/"
f=$(ls "$T"/bad/events.out.tfevents.*)
size=$(stat -c %s "$f")
printf 'X' | dd of="$f" bs=1 seek=$((size - 8)) conv=notrunc 2>/dev/null
/usr/bin/python3 "$T/read.py" "$T/bad" "$T/m.jsonl" 2>&1 | grep -q "bad CRC" &&
  pass "the reader finds a changed byte by its CRC" || fail "the reader missed a changed byte"

# TensorBoard's own reader, where it is installed
cat >"$T/tb_read.py" <<'PY'
import json, math, sys
from tensorboard.backend.event_processing import event_accumulator
acc = event_accumulator.EventAccumulator(sys.argv[1], size_guidance={"scalars": 0})
acc.Reload()
recs = [json.loads(l) for l in open(sys.argv[2])]
steps = [r for r in recs if r["event"] == "step"]
epochs = [r for r in recs if r["event"] == "epoch"]
loss = acc.Scalars("train/loss")
val = acc.Scalars("val/accuracy")
assert [e.step for e in loss] == [r["global_step"] for r in steps], "train/loss steps"
assert all(math.isclose(e.value, r["loss"], rel_tol=1e-6) for e, r in zip(loss, steps))
assert [e.step for e in val] == [r["global_step"] for r in epochs], "val/accuracy steps"
assert all(math.isclose(e.value, r["val_accuracy"], rel_tol=1e-6) for e, r in zip(val, epochs))
print(f"tags {sorted(acc.Tags()['scalars'])}, {len(loss)} losses, {len(val)} accuracies")
PY
py=${MN_PYTHON:-/usr/bin/python3}
if "$py" -c "from tensorboard.backend.event_processing import event_accumulator" 2>/dev/null; then
  if r=$("$py" "$T/tb_read.py" "$T/tb/run1" "$T/m.jsonl" 2>&1); then
    pass "TensorBoard's EventAccumulator reads the same ($r)"
  else fail "TensorBoard's EventAccumulator: $r"; fi
else
  echo "SKIP: tensorboard is not importable with $py (set MN_PYTHON to a python with it): only the reader above checked the file"
fi

# a directory that cannot be made: the start fails with 74, naming it
touch "$T/file"
expect_exit 74 "log.tensorboard under a regular file" "$MN_BIN/mnrun" -np 1 "$T/t.conf" \
  --set log.tensorboard="$T/file/tb" --set snapshot.dir="$T/snap2"
expect_err "tensorboard: .*$T/file" "the error names the directory"
finish
