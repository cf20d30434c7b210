# test_export.sh: mninfo --export writes a trained MLP's parameters as safetensors that
# other tools read without mn. A reader written here from the format's specification alone
# (Python's standard library: an 8-byte little-endian header length, a JSON header, raw
# little-endian float32) finds the torch.nn.Sequential names and shapes, and its own
# forward pass (Linear, ReLU, ..., Linear) over the validation set gives the probabilities
# mneval gives (1e-5) and so the same predictions. Where PyTorch is importable, the file
# also loads into torch.nn.Sequential with load_state_dict, with the same outputs. Bad
# input: a missing snapshot (66), an unwritable output (74, nothing left behind). Then
# weights in: model.init_from with the exported file, with a snapshot, and with a file
# written without mn starts a fresh run from those weights; another shape (65, the tensor
# named), a missing file (66); a run that resumes keeps its own weights.
. "$MN_SRC/tests/lib.sh"

"$MN_BIN/mnprep" teacher --out data/ex --samples 2048 --val 256 --dim 24 >/dev/null ||
  fail "mnprep teacher"
cat >ex.conf <<'CONF'
[model]
layers = 24,48,32,10
[data]
train = data/ex-train.h5
val = data/ex-val.h5
batch_size = 64
[schedule]
epochs = 1
[log]
progress = off
CONF
expect_exit 0 "a 2-rank run" "$MN_BIN/mnrun" -np 2 ex.conf
expect_exit 0 "mninfo --export" "$MN_BIN/mninfo" --export model.safetensors snapshots/ex
grep -q "model.safetensors: 24,48,32,10 (mlp), step 16" out && pass "export says what it wrote" ||
  fail "export: $(cat out)"
expect_exit 0 "mneval --predict" "$MN_BIN/mneval" --predict pred.csv snapshots/ex
h5dump -d /x -y -w 0 -m %.9g -o x.txt data/ex-val.h5 >/dev/null || fail "h5dump /x"

cat >read.py <<'PY'
import json, math, struct, sys, array, csv
raw = open("model.safetensors", "rb").read()
(n,) = struct.unpack("<Q", raw[:8])
header = json.loads(raw[8:8 + n])
meta = header.pop("__metadata__")
assert meta["format"] == "pt" and meta["mn_layers"] == "24,48,32,10", meta
names = sorted(header, key=lambda k: header[k]["data_offsets"][0])
assert names == ["0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias"], names
dims = [24, 48, 32, 10]
t = {}
for k, e in header.items():
    assert e["dtype"] == "F32", e
    a, b = e["data_offsets"]
    v = array.array("f")
    v.frombytes(raw[8 + n + a:8 + n + b])
    if sys.byteorder != "little":
        v.byteswap()
    t[k] = (e["shape"], v)
for l in range(3):
    assert t["%d.weight" % (2 * l)][0] == [dims[l + 1], dims[l]]
    assert t["%d.bias" % (2 * l)][0] == [dims[l + 1]]
xs = [float(s) for s in open("x.txt").read().replace(",", " ").split()]
rows = [xs[i * 24:(i + 1) * 24] for i in range(len(xs) // 24)]
assert len(rows) == 256
pred = list(csv.DictReader(open("pred.csv")))
worst = 0.0
for i, x in enumerate(rows):
    h = x
    for l in range(3):
        (o, inp), w = t["%d.weight" % (2 * l)]
        b = t["%d.bias" % (2 * l)][1]
        h = [b[j] + sum(w[j * inp + k] * h[k] for k in range(inp)) for j in range(o)]
        if l < 2:
            h = [max(0.0, v) for v in h]
    m = max(h)
    e = [math.exp(v - m) for v in h]
    p = [v / sum(e) for v in e]
    q = [float(pred[i]["p%d" % c]) for c in range(10)]
    worst = max(worst, max(abs(a - b) for a, b in zip(p, q)))
    top = max(range(10), key=lambda c: p[c])
    assert top == int(pred[i]["pred"]) or abs(p[top] - p[int(pred[i]["pred"])]) < 1e-5, (i, p, q)
assert worst < 1e-5, worst
print("max |p - p_mneval| = %.2e" % worst)
PY
/usr/bin/python3 read.py >py.out 2>&1 && pass "a reader from the spec: names, shapes, outputs = mneval's ($(cat py.out))" ||
  fail "the spec reader: $(tail -5 py.out)"

if /usr/bin/python3 -c "import torch" 2>/dev/null; then
  cat >torch_load.py <<'PY'
import csv, json, struct, torch
raw = open("model.safetensors", "rb").read()
(n,) = struct.unpack("<Q", raw[:8])
header = json.loads(raw[8:8 + n]); header.pop("__metadata__")
try:
    from safetensors.torch import load_file
    state = load_file("model.safetensors")
except ImportError:
    state = {k: torch.frombuffer(bytearray(raw[8 + n + e["data_offsets"][0]:8 + n + e["data_offsets"][1]]),
                                 dtype=torch.float32).reshape(e["shape"]) for k, e in header.items()}
net = torch.nn.Sequential(torch.nn.Linear(24, 48), torch.nn.ReLU(), torch.nn.Linear(48, 32),
                          torch.nn.ReLU(), torch.nn.Linear(32, 10))
net.load_state_dict(state)
xs = [float(s) for s in open("x.txt").read().replace(",", " ").split()]
p = torch.softmax(net(torch.tensor(xs).reshape(-1, 24)), dim=1)
q = torch.tensor([[float(r["p%d" % c]) for c in range(10)] for r in csv.DictReader(open("pred.csv"))])
assert (p - q).abs().max().item() < 1e-5, (p - q).abs().max().item()
PY
  /usr/bin/python3 torch_load.py >torch.out 2>&1 && pass "torch.nn.Sequential.load_state_dict: same outputs" ||
    fail "torch: $(tail -5 torch.out)"
else
  echo "SKIP: PyTorch not importable: the load_state_dict check is not run"
fi

# ---- model.init_from: weights in ----
# the exported file as a fresh run's weights; lr 1e-30 for one step keeps them, so the new
# run's validation equals the old one's
acc0=$(grep -o '"accuracy":[^,]*' <("$MN_BIN/mneval" --json snapshots/ex) | head -1 | cut -d: -f2)
still=(--set schedule.max_steps=1 --set optimizer.lr=1e-30 --set optimizer.momentum=0)
for src in model.safetensors "$("$MN_BIN/mninfo" --latest snapshots/ex)"; do
  rm -rf snapshots/init
  expect_exit 0 "init_from $src" "$MN_BIN/mnrun" -np 2 ex.conf --set model.init_from="$src" \
    --set snapshot.dir=snapshots/init "${still[@]}"
  expect_err "initial weights from $src" "the run says where its weights come from"
  acc1=$(grep -o '"accuracy":[^,]*' <("$MN_BIN/mneval" --json snapshots/init) | head -1 | cut -d: -f2)
  check_float "$acc1 == $acc0" && pass "init_from $src: accuracy $acc1 = the exported model's" ||
    fail "init_from $src: accuracy $acc1, the exported model's $acc0"
done
# a file made without mn (Python's standard library): zero weights, the last bias 1 for
# class 3: every row is predicted 3
cat >foreign.py <<'PY'
import json, struct
dims, names, blobs, off, header = [24, 48, 32, 10], [], b"", 0, {}
for l in range(3):
    for kind, shape in (("weight", [dims[l + 1], dims[l]]), ("bias", [dims[l + 1]])):
        n = shape[0] * (shape[1] if len(shape) > 1 else 1)
        vals = [0.0] * n
        if l == 2 and kind == "bias":
            vals[3] = 1.0
        data = struct.pack("<%df" % n, *vals)
        header["%d.%s" % (2 * l, kind)] = {"dtype": "F32", "shape": shape, "data_offsets": [off, off + len(data)]}
        blobs += data
        off += len(data)
h = json.dumps(header).encode()
h += b" " * (-len(h) % 8)
open("foreign.safetensors", "wb").write(struct.pack("<Q", len(h)) + h + blobs)
PY
/usr/bin/python3 foreign.py || fail "foreign.py"
rm -rf snapshots/init
expect_exit 0 "init_from a file made without mn" "$MN_BIN/mnrun" -np 1 ex.conf \
  --set model.init_from=foreign.safetensors --set snapshot.dir=snapshots/init "${still[@]}"
"$MN_BIN/mneval" --predict foreign.csv snapshots/init >/dev/null
[ "$(cut -d, -f2 foreign.csv | sed 1d | sort -u)" = 3 ] && pass "every row predicted 3, as the weights say" ||
  fail "predictions: $(cut -d, -f2 foreign.csv | sed 1d | sort | uniq -c | tr '\n' ' ')"
expect_exit 65 "init_from weights of another shape" "$MN_BIN/mnrun" -np 1 ex.conf \
  --set model.layers=24,64,10 --set model.init_from=model.safetensors --set snapshot.dir=snapshots/x
expect_err "init_from: model.safetensors: 0.weight is 48x24 in the file, 64x24 here" \
  "the tensor of another shape is named"
expect_exit 66 "init_from a missing file" "$MN_BIN/mnrun" -np 1 ex.conf \
  --set model.init_from=none.safetensors --set snapshot.dir=snapshots/x
expect_exit 0 "init_from on a run that resumes" "$MN_BIN/mnrun" -np 1 ex.conf \
  --set model.init_from=foreign.safetensors --set schedule.epochs=2
expect_err "model.init_from foreign.safetensors: not used, the run resumed" "a resume keeps its own weights"

expect_exit 66 "--export of a missing snapshot" "$MN_BIN/mninfo" --export m2.safetensors snapshots/none
expect_exit 74 "--export into a missing directory" "$MN_BIN/mninfo" --export no/dir/m.safetensors snapshots/ex
[ ! -e no ] && pass "nothing left behind" || fail "left: $(ls -R no)"
expect_exit 64 "--export and --json together" "$MN_BIN/mninfo" --export m3.safetensors --json snapshots/ex
finish
