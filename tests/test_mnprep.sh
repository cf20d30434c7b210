# test_mnprep.sh: tools/mnprep.c end to end, checked with the HDF5 command-line tools.
#
# teacher: shapes, types and attributes (h5dump -H); the same seed gives identical files;
# 3 shards hold the rows of 1 file, in order; the classes are balanced. csv: a small file
# with a header, blank lines and CRLF converts to the right values; bad rows exit 65 naming
# file:line; a missing input exits 66. Writes: a failure exits 74, leaves no temp file
# and leaves an existing output as it was.
set -u
: "${MN_BIN:?}" "${MN_TMP:?}"
P="$MN_BIN/mnprep"
T="$MN_TMP"
rm -rf "$T" && mkdir -p "$T"
fails=0

fail() {
  echo "FAIL: $*" >&2
  fails=$((fails + 1))
}
# expect CODE NEEDLE CMD...: CMD exits CODE and its stderr contains NEEDLE.
expect() {
  local code=$1 needle=$2
  shift 2
  "$@" >"$T/out.txt" 2>"$T/err.txt"
  local rc=$?
  [ "$rc" = "$code" ] || fail "$* exited $rc, want $code: $(cat "$T/err.txt")"
  [ -z "$needle" ] || grep -qF -- "$needle" "$T/err.txt" ||
    fail "$*: stderr lacks '$needle': $(cat "$T/err.txt")"
}
# The values of a dataset, one per line, full precision.
values() {
  { h5dump -d "$2" -y -w 0 -m '%.9g' -O /dev/null -o /dev/stdout "$1" && echo; } |
    tr -s ', \n' '\n' | sed '/^$/d'
}
no_temps() {
  if ls "$1" | grep -q '\.tmp\.'; then fail "temp files left in $1: $(ls "$1")"; fi
}

# ---- usage ----------------------------------------------------------------------------
expect 0 "" "$P" --help
grep -q "default 60000" "$T/out.txt" || fail "--help does not state the default of --samples"
expect 64 "mnprep: error:" "$P" teacher
expect 64 "mnprep: error:" "$P" teacher --out "$T/u" --samples abc
expect 64 "mnprep: error:" "$P" frobnicate
expect 64 "mnprep: error:" "$P" csv --in x.csv

# ---- teacher --------------------------------------------------------------------------
small=(--samples 2000 --val 500 --dim 20 --seed 3)
expect 0 "" "$P" teacher --out "$T/a" "${small[@]}"
grep -q "a-train.h5" "$T/out.txt" || fail "teacher did not say what it wrote"
grep -q "class histogram" "$T/out.txt" || fail "teacher printed no class histogram"
h5dump -H "$T/a-train.h5" >"$T/h.txt" || fail "h5dump -H a-train.h5"
grep -A2 'DATASET "x"' "$T/h.txt" | grep -q 'H5T_IEEE_F32LE' || fail "/x is not float32"
grep -A2 'DATASET "x"' "$T/h.txt" | grep -q '( 2000, 20 )' || fail "/x is not [2000, 20]"
grep -A2 'DATASET "y"' "$T/h.txt" | grep -q 'H5T_STD_I32LE' || fail "/y is not int32"
grep -A2 'DATASET "y"' "$T/h.txt" | grep -q '( 2000 )' || fail "/y is not [2000]"
h5dump -H "$T/a-val.h5" | grep -q '( 500, 20 )' || fail "a-val.h5 /x is not [500, 20]"
h5dump -H -p "$T/a-train.h5" | grep -q 'CHUNKED ( 256, 20 )' || fail "/x is not chunked by 256 rows"
h5dump -a /format "$T/a-train.h5" | grep -q '"mn-dataset-1"' || fail "format attribute"
h5dump -a /classes "$T/a-train.h5" | grep -q '(0): 10' || fail "classes attribute"
h5dump -a /seed "$T/a-train.h5" | grep -q '(0): 3' || fail "seed attribute"
h5dump -a /hidden "$T/a-train.h5" | grep -q '(0): 16' || fail "hidden attribute"
no_temps "$T"

# labels in range and balanced: no class above 3x the mean share (200 of 2000)
values "$T/a-train.h5" /y | sort -n | uniq -c >"$T/hist.txt"
[ "$(wc -l <"$T/hist.txt")" = 10 ] || fail "not all 10 classes occur: $(cat "$T/hist.txt")"
awk '$1 > 600 || $2 < 0 || $2 > 9 { bad = 1 } END { exit bad }' "$T/hist.txt" ||
  fail "unbalanced or out-of-range labels: $(cat "$T/hist.txt")"

# the same seed gives the same files; another seed does not
expect 0 "" "$P" teacher --out "$T/a2" "${small[@]}"
h5diff "$T/a-train.h5" "$T/a2-train.h5" >/dev/null || fail "same seed, different train files"
h5diff "$T/a-val.h5" "$T/a2-val.h5" >/dev/null || fail "same seed, different val files"
expect 0 "" "$P" teacher --out "$T/c" --samples 2000 --val 500 --dim 20 --seed 4
h5diff -q "$T/a-train.h5" "$T/c-train.h5" >/dev/null && fail "seeds 3 and 4 give the same rows"

# 3 shards hold the rows of the single file, in order, and the same validation set
expect 0 "" "$P" teacher --out "$T/b" "${small[@]}" --shards 3
for k in 0 1 2; do
  [ -f "$T/b-train-0000$k-of-00003.h5" ] || fail "shard $k missing"
done
for d in /x /y; do
  for k in 0 1 2; do values "$T/b-train-0000$k-of-00003.h5" $d; done >"$T/sharded.txt"
  values "$T/a-train.h5" $d >"$T/single.txt"
  [ "$(wc -l <"$T/single.txt")" -gt 1000 ] || fail "h5dump gave too few values of $d"
  cmp -s "$T/sharded.txt" "$T/single.txt" || fail "3 shards differ from 1 file in $d"
done
h5diff "$T/a-val.h5" "$T/b-val.h5" >/dev/null || fail "sharding changed the validation set"
h5dump -H "$T/b-train-00000-of-00003.h5" | grep -q '( 666, 20 )' || fail "shard 0 is not 666 rows"

# --val 0 writes no validation file
expect 0 "" "$P" teacher --out "$T/nv" --samples 100 --val 0 --dim 4
[ -e "$T/nv-val.h5" ] && fail "--val 0 wrote a validation file"

# ---- csv ------------------------------------------------------------------------------
printf 'label,a,b,c\r\n3,1.5,-2,0.25\r\n\r\n0,4,5e-1,6\n  \n2, 7 ,8,9\n' >"$T/ok.csv"
expect 0 "" "$P" csv --in "$T/ok.csv" --out "$T/ok.h5"
[ "$(values "$T/ok.h5" /x | tr '\n' ' ')" = "1.5 -2 0.25 4 0.5 6 7 8 9 " ] ||
  fail "csv /x values: $(values "$T/ok.h5" /x | tr '\n' ' ')"
[ "$(values "$T/ok.h5" /y | tr '\n' ' ')" = "3 0 2 " ] || fail "csv /y values"
h5dump -a /classes "$T/ok.h5" | grep -q '(0): 4' || fail "csv classes attribute (max + 1)"
h5dump -H "$T/ok.h5" | grep -q '( 3, 3 )' || fail "csv /x shape"
# label last, same rows
printf '1.5,-2,0.25,3\n4,0.5,6,0\n7,8,9,2\n' >"$T/last.csv"
expect 0 "" "$P" csv --in "$T/last.csv" --out "$T/last.h5" --label last
h5diff "$T/ok.h5" "$T/last.h5" /x /x >/dev/null || fail "--label last: different /x"
h5diff "$T/ok.h5" "$T/last.h5" /y /y >/dev/null || fail "--label last: different /y"
# shards and a validation split: every row lands exactly once
awk 'BEGIN { for (i = 0; i < 300; i++) printf "%d,%d,%d\n", i % 5, i, -i }' >"$T/many.csv"
expect 0 "" "$P" csv --in "$T/many.csv" --out "$T/m.h5" --shards 2 --val-fraction 0.2 \
  --val-out "$T/mv.h5"
for f in m-00000-of-00002.h5 m-00001-of-00002.h5 mv.h5; do
  [ -f "$T/$f" ] || fail "$f missing"
done
{ for f in m-00000-of-00002.h5 m-00001-of-00002.h5 mv.h5; do values "$T/$f" /x; done; } |
  awk 'NR % 2 == 1' | sort -n >"$T/rows.txt"
seq 0 299 | cmp -s - "$T/rows.txt" || fail "csv split: rows lost or duplicated"
nval=$(values "$T/mv.h5" /y | wc -l)
[ "$nval" = 60 ] || fail "validation split has $nval of 300 rows, want exactly 60"

# bad rows: 65 naming file:line
printf '1,2,3\n4,5\n' >"$T/short.csv"
expect 65 "short.csv:2: expected 3 fields, found 2" "$P" csv --in "$T/short.csv" --out "$T/x.h5"
printf '1,2,3\n4,5,6\n1,2,abc\n' >"$T/nan.csv"
expect 65 "nan.csv:3: field 3 'abc' is not a number" "$P" csv --in "$T/nan.csv" --out "$T/x.h5"
printf 'h,a\n1,2\nx,3\n' >"$T/lab.csv"
expect 65 "lab.csv:3: label 'x' is not an integer" "$P" csv --in "$T/lab.csv" --out "$T/x.h5"
printf '1,2\n-1,3\n' >"$T/neg.csv"
expect 65 "neg.csv:2: label '-1' is negative" "$P" csv --in "$T/neg.csv" --out "$T/x.h5"
# NaN, Inf and values beyond float32 are refused (never written as NaN or +Inf), also on
# the first line (which is a data row, not a header); a label whose class count would not
# fit is out of range (it overflowed the count of classes)
printf '1,2,3\n4,nan,6\n' >"$T/nanv.csv"
expect 65 "nanv.csv:2: field 2 'nan' is NaN or infinite" "$P" csv --in "$T/nanv.csv" --out "$T/x.h5"
printf '1,2,3\n4,5,-inf\n' >"$T/inf.csv"
expect 65 "inf.csv:2: field 3 '-inf' is NaN or infinite" "$P" csv --in "$T/inf.csv" --out "$T/x.h5"
printf '1,NaN,3\n4,5,6\n' >"$T/nan1.csv"
expect 65 "nan1.csv:1: field 2 'NaN' is NaN or infinite" "$P" csv --in "$T/nan1.csv" --out "$T/x.h5"
printf '1,2,3\n4,1e39,6\n' >"$T/big.csv"
expect 65 "big.csv:2: field 2 '1e39' is out of the float32 range" "$P" csv --in "$T/big.csv" \
  --out "$T/x.h5"
printf '1,2\n2147483647,3\n' >"$T/maxlab.csv"
expect 65 "maxlab.csv:2: label 2147483647 is out of range" "$P" csv --in "$T/maxlab.csv" \
  --out "$T/x.h5"
expect 66 "no such file" "$P" csv --in "$T/absent.csv" --out "$T/x.h5"
[ -e "$T/x.h5" ] && fail "a failed csv run left x.h5"
no_temps "$T"

# ---- failed writes --------------------------------------------------------------------
echo "a file, not a directory" >"$T/afile"
expect 74 "cannot write" "$P" teacher --out "$T/afile/p" --samples 100 --val 10 --dim 4
[ "$(cat "$T/afile")" = "a file, not a directory" ] || fail "a failed write changed $T/afile"
# missing directories above the output are made (the quickstart writes into data/)
expect 0 "" "$P" teacher --out "$T/new/dir/p" --samples 100 --val 10 --dim 4
[ -f "$T/new/dir/p-train.h5" ] || fail "--out into a new directory wrote nothing"
# an existing output survives a failed run (bad input, and a failed write of a sibling)
cp "$T/ok.h5" "$T/keep.h5"
expect 65 "short.csv:2" "$P" csv --in "$T/short.csv" --out "$T/ok.h5"
cmp -s "$T/ok.h5" "$T/keep.h5" || fail "a failed csv run changed the existing output"
cp "$T/a-train.h5" "$T/d-train.h5"
cp "$T/a-train.h5" "$T/d-keep.h5"
mkdir "$T/d-val.h5" # the validation output cannot be written
expect 74 "d-val.h5" "$P" teacher --out "$T/d" --samples 100 --val 10 --dim 4
cmp -s "$T/d-train.h5" "$T/d-keep.h5" || fail "a failed teacher run changed d-train.h5"
no_temps "$T"

if [ "$fails" -gt 0 ]; then
  echo "test_mnprep: $fails check(s) failed" >&2
  exit 1
fi
echo "test_mnprep: ok"
