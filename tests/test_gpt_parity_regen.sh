# test_gpt_parity_regen.sh: the committed PyTorch fixture (tests/fixtures/gpt_torch.h5) is
# what tests/ref/gpt_torch.py writes, and mn matches the torch installed here too.
#
# Where /usr/bin/python3 imports torch and h5py (CI needs neither: test_gpt_parity reads the
# committed file): regenerates the fixture into $MN_TMP, compares it with the committed one,
# and runs test_gpt_parity on the fresh one. Elsewhere it says why and exits 77 (skipped).
#
# The comparison: the same datasets, shapes, dtypes and shape attributes; the inputs the
# seed makes (/params, /tokens, /targets) bit for bit; what torch computed from them
# (/logits, /loss, /grads, /updated) within TOL = 1e-6 of each tensor's scale
# (max |new - committed| / max |committed|), room for another torch build or CPU to sum in
# another order (the same torch on the same machine writes the same bits: "identical").
# As in test_gpt_parity, an updated weight whose gradient is 0 up to rounding (the key
# biases of attention) takes an AdamW step that rounding decides, of at most lr: there the
# two may differ by up to 2 lr.
. "$MN_SRC/tests/lib.sh"
PY=/usr/bin/python3

for mod in torch h5py; do
  if ! "$PY" -c "import $mod" 2>/dev/null; then
    echo "skipped: $PY cannot import $mod (the committed fixture is checked by test_gpt_parity)"
    exit 77
  fi
done

fresh="$MN_TMP/gpt_torch.h5"
if "$PY" "$MN_SRC/tests/ref/gpt_torch.py" "$fresh" >"$MN_TMP/out" 2>"$MN_TMP/err"; then
  pass "gpt_torch.py: $(cat "$MN_TMP/out")"
else
  fail "gpt_torch.py failed"
  sed 's/^/  | /' "$MN_TMP/err" >&2
  finish
fi

if "$PY" - "$MN_SRC/tests/fixtures/gpt_torch.h5" "$fresh" >"$MN_TMP/out" 2>&1 <<'EOF'; then
import sys

import h5py
import numpy as np

TOL = 1e-6
committed, fresh = (h5py.File(p, "r") for p in sys.argv[1:3])
bad = []


def datasets(f):
    out = {}
    def add(name, obj):
        if isinstance(obj, h5py.Dataset):
            out[name] = obj

    f.visititems(add)
    return out


a, b = datasets(committed), datasets(fresh)
if set(a) != set(b):
    bad.append(f"datasets differ: only committed {sorted(set(a) - set(b))}, "
               f"only fresh {sorted(set(b) - set(a))}")
for k in ("vocab", "padded_vocab", "context", "layers", "heads", "width", "batch", "seed",
          "lr", "beta1", "beta2", "eps", "weight_decay", "decayed"):
    if committed.attrs.get(k) != fresh.attrs.get(k):
        bad.append(f"attribute {k}: committed {committed.attrs.get(k)}, fresh {fresh.attrs.get(k)}")
lr = float(committed.attrs["lr"])
worst, worst_at, identical = 0.0, "", True
for name in sorted(set(a) & set(b)):
    x, y = a[name][()], b[name][()]
    if x.shape != y.shape or x.dtype != y.dtype:
        bad.append(f"{name}: committed {x.dtype}{x.shape}, fresh {y.dtype}{y.shape}")
        continue
    identical &= np.array_equal(x, y)
    if name.split("/")[0] in ("params", "tokens", "targets"):
        if not np.array_equal(x, y):
            bad.append(f"{name}: the seeded inputs differ (another torch's random numbers?)")
        continue
    x, y = np.atleast_1d(x).astype(np.float64), np.atleast_1d(y).astype(np.float64)
    diff = np.abs(x - y)
    if name.startswith("updated/"):
        g = committed["grads/" + name.split("/", 1)[1]][()]
        noise = np.abs(g) <= 1e-5 * np.abs(g).max()
        if (diff[noise] > 2 * lr).any():
            bad.append(f"{name}: a step on a gradient of 0 larger than lr")
        diff = np.where(noise, 0.0, diff)
    err = diff.max() / max(np.abs(x).max(), np.finfo(np.float32).tiny)
    if err > worst:
        worst, worst_at = err, name
    if err > TOL:
        bad.append(f"{name}: differs by {err:.3g} of its scale (tolerance {TOL})")
print("identical" if identical else f"worst difference {worst:.3g} of the scale ({worst_at})")
for line in bad:
    print("  " + line)
sys.exit(1 if bad else 0)
EOF
  pass "the committed fixture matches the fresh one: $(head -n 1 "$MN_TMP/out")"
else
  fail "the committed fixture differs from what tests/ref/gpt_torch.py writes here"
  sed 's/^/  | /' "$MN_TMP/out" >&2
fi

if MN_GPT_FIXTURE="$fresh" "$MN_BIN/test_gpt_parity" >"$MN_TMP/out" 2>&1; then
  pass "test_gpt_parity on the fresh fixture"
else
  fail "test_gpt_parity on the fresh fixture"
  sed 's/^/  | /' "$MN_TMP/out" >&2
fi
finish
