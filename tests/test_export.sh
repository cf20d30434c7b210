# test_export.sh: mninfo --export writes a trained MLP's parameters as safetensors that
# other tools read without mn. A reader written here from the format's specification alone
# (Python's standard library: an 8-byte little-endian header length, a JSON header, raw
# little-endian float32) finds the torch.nn.Sequential names and shapes, and its own
# forward pass (Linear, ReLU, ..., Linear) over the validation set gives the probabilities
# mneval gives (1e-5) and so the same predictions. Where PyTorch is importable, the file
# also loads into torch.nn.Sequential with load_state_dict, with the same outputs. Bad
# input: a missing snapshot (66), an unwritable output (74, nothing left behind).
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

expect_exit 66 "--export of a missing snapshot" "$MN_BIN/mninfo" --export m2.safetensors snapshots/none
expect_exit 74 "--export into a missing directory" "$MN_BIN/mninfo" --export no/dir/m.safetensors snapshots/ex
[ ! -e no ] && pass "nothing left behind" || fail "left: $(ls -R no)"
expect_exit 64 "--export and --json together" "$MN_BIN/mninfo" --export m3.safetensors --json snapshots/ex
finish
