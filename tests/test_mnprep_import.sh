# test_mnprep_import.sh: mnprep's imports without traps (issue 12, items 11-16), end to end
# through the real programs, the inputs written by python3's standard library only.
#
# 11: csv from a pipe, "-" and /dev/stdin converts every row (read once).
# 12: a first line is a header only when none of its fields is a number, and its skipping is
#     said; a semicolon, tab or quoted file keeps its first row.
# 13: a constant label column is refused with the hint --label last; a huge label is "out of
#     range"; pandas' to_csv() index column (unnamed in the header) is dropped with a note,
#     and a label column that counts the rows is refused with the hint --index skip.
# 14: .csv.gz; --delimiter; RFC 4180 quotes; .npz (stored and deflated) and two .npy files,
#     float32/float64 x, any integer y; Fortran-order, object and big-endian arrays refused;
#     an HDF5 file with other dataset names (--x --y).
# 15: --standardize: the training rows get mean 0, std 1 per feature (a constant feature is
#     centred only), the validation rows the same transform, /x attributes mean, std and
#     standardized; mnrun warns once when training features are far from unit scale and not
#     standardized, and not otherwise.
# 16: --val-fraction gives exactly round(N * F) rows; --stratify gives each class its share;
#     --split-out lists every row's split, matching the files.
# Every refusal: its exit code, a message naming the input and the line or row, no output
# and no temp file left.
. "$MN_SRC/tests/lib.sh"
P="$MN_BIN/mnprep"
T="$MN_TMP"

# expect CODE NEEDLE CMD...: CMD exits CODE and its stderr contains NEEDLE (fixed string).
expect() {
  local code=$1 needle=$2
  shift 2
  "$@" >"$T/out" 2>"$T/err"
  local rc=$?
  if [ "$rc" = "$code" ]; then pass "$* (exit $rc)"; else
    fail "$*: exit $rc, want $code"; sed 's/^/  | /' "$T/err" >&2; fi
  [ -z "$needle" ] || grep -qF -- "$needle" "$T/err" ||
    fail "$*: stderr lacks '$needle': $(cat "$T/err")"
}
# The values of a dataset, space-separated, full precision.
values() {
  { h5dump -A 0 -d "$2" -y -w 0 -m '%.9g' -O /dev/null -o /dev/stdout "$1" && echo; } |
    tr -s ', \n' '\n' | sed '/^$/d' | tr '\n' ' '
}
nrows() { h5dump -H -d /y "$1" | grep -oE 'SIMPLE \{ \( [0-9]+' | grep -oE '[0-9]+$'; }
no_output() { # no_output FILE: a refused run left neither FILE nor a temp file
  [ -e "$1" ] && fail "a refused run left $1"
  if ls "$T" | grep -q '\.tmp\.'; then fail "temp files left: $(ls "$T" | grep '\.tmp\.')"; fi
}

# ---- --help names every option of the imports, with its default -----------------------
"$P" --help >"$T/help" || fail "mnprep --help"
for opt in "--delimiter D" "--header auto|yes|no" "--index auto|skip|keep" "--x NAME --y NAME" \
  "--stratify" "--split-out FILE" "--standardize" "mnprep npy --in FILE.npz" "mnprep h5 --in"; do
  grep -qF -- "$opt" "$T/help" || fail "--help lacks '$opt'"
done
[ "$(grep -c '(default auto)' "$T/help")" = 3 ] || fail "--help: the defaults of --delimiter, --header, --index"

# ---- 11: read once: pipes and standard input ------------------------------------------
printf '1,0.5,2\n0,1,3\n2,4,5\n' >"$T/s.csv"
expect 0 "" "$P" csv --in - --out "$T/pipe.h5" < <(cat "$T/s.csv")
[ "$(values "$T/pipe.h5" /y)" = "1 0 2 " ] || fail "csv --in - from a pipe: /y $(values "$T/pipe.h5" /y)"
cat "$T/s.csv" | "$P" csv --in /dev/stdin --out "$T/stdin.h5" >/dev/null 2>"$T/err" ||
  fail "csv --in /dev/stdin from a pipe: $(cat "$T/err")"
[ "$(nrows "$T/stdin.h5")" = 3 ] || fail "csv --in /dev/stdin from a pipe: $(nrows "$T/stdin.h5") rows, want 3"
[ "$(values "$T/stdin.h5" /x)" = "0.5 2 1 3 4 5 " ] || fail "csv /dev/stdin /x: $(values "$T/stdin.h5" /x)"
expect 65 "(stdin): no data rows" "$P" csv --in - --out "$T/empty.h5" </dev/null
no_output "$T/empty.h5"

# ---- 12: headers --------------------------------------------------------------------
printf '1,2,abc\n0,3,4\n1,5,6\n' >"$T/bad1.csv" # a bad first row, not a header
expect 65 "bad1.csv:1: field 3 'abc' is not a number" "$P" csv --in "$T/bad1.csv" --out "$T/b1.h5"
no_output "$T/b1.h5"
printf 'label,a,b\n1,2,3\n0,4,5\n' >"$T/hdr.csv" # a header: said on stderr
expect 0 "hdr.csv:1: skipped a header line: 'label,a,b'" "$P" csv --in "$T/hdr.csv" --out "$T/hdr.h5"
[ "$(values "$T/hdr.h5" /y)" = "1 0 " ] || fail "header file /y: $(values "$T/hdr.h5" /y)"
printf 'y,0,1\n1,2,3\n0,4,5\n' >"$T/numhdr.csv" # a header with numeric names: --header yes
expect 65 "numhdr.csv:1: label 'y' is not an integer (if line 1 is a header: --header yes)" \
  "$P" csv --in "$T/numhdr.csv" --out "$T/nh.h5"
expect 0 "skipped a header line" "$P" csv --in "$T/numhdr.csv" --out "$T/nh.h5" --header yes
[ "$(nrows "$T/nh.h5")" = 2 ] || fail "--header yes: $(nrows "$T/nh.h5") rows, want 2"
expect 0 "" "$P" csv --in "$T/s.csv" --out "$T/nohdr.h5" --header no
printf '1;2;3\n0;4;5\n1;6;7\n' >"$T/semi.csv" # semicolons: every row kept, none a header
expect 0 "delimiter ';'" "$P" csv --in "$T/semi.csv" --out "$T/semi.h5"
[ "$(values "$T/semi.h5" /x)" = "2 3 4 5 6 7 " ] || fail "semicolon file /x: $(values "$T/semi.h5" /x)"
printf '1\t2\t3\n0\t4\t5\n' >"$T/tab.csv"
expect 0 "" "$P" csv --in "$T/tab.csv" --out "$T/tab.h5" --delimiter tab
[ "$(values "$T/tab.h5" /x)" = "2 3 4 5 " ] || fail "tab file /x: $(values "$T/tab.h5" /x)"
printf '"1","2","3"\r\n"0","4","5"\r\n' >"$T/quoted.csv"
expect 0 "" "$P" csv --in "$T/quoted.csv" --out "$T/quoted.h5"
[ "$(values "$T/quoted.h5" /y)" = "1 0 " ] || fail "quoted file /y: $(values "$T/quoted.h5" /y)"
printf '1;2;3\n0;4;x\n' >"$T/semibad.csv" # the error names the line, the first row kept
expect 65 "semibad.csv:2: field 3 'x' is not a number" "$P" csv --in "$T/semibad.csv" --out "$T/sb.h5"
printf '1;2;3\n' >"$T/semi1.csv" # the wrong delimiter given: a hint
expect 65 "(is the delimiter right? --delimiter)" "$P" csv --in "$T/semi1.csv" --out "$T/sb.h5" \
  --delimiter comma
no_output "$T/sb.h5"
# RFC 4180: a quoted header field with a comma and doubled quotes is one field
printf '"label","a, the ""first""",b\n1,2,3\n0,4,5\n' >"$T/rfc.csv"
expect 0 "skipped a header line" "$P" csv --in "$T/rfc.csv" --out "$T/rfc.h5"
h5dump -H "$T/rfc.h5" | grep -q '( 2, 2 )' || fail "RFC 4180 header: /x is not [2, 2]"

# ---- 13: labels -----------------------------------------------------------------------
printf '1,0.5,0\n1,0.7,0\n1,0.1,1\n1,0.9,1\n' >"$T/last.csv" # the label is last
expect 65 "every one of the 4 rows has label 1" "$P" csv --in "$T/last.csv" --out "$T/l.h5"
grep -qF -- "--label last" "$T/err" || fail "a constant label column does not hint --label last"
no_output "$T/l.h5"
printf '3,0.5\n' >"$T/one.csv" # one row: one class too
expect 65 "every one of the 1 rows has label 3" "$P" csv --in "$T/one.csv" --out "$T/l.h5"
expect 0 "" "$P" csv --in "$T/last.csv" --out "$T/l.h5" --label last
[ "$(values "$T/l.h5" /y)" = "0 0 1 1 " ] && [ "$(values "$T/l.h5" /x)" = "1 0.5 1 0.699999988 1 0.100000001 1 0.899999976 " ] || fail "--label last /y: $(values "$T/l.h5" /y)"
printf '1,2\n99999999999,3\n' >"$T/huge.csv"
expect 65 "huge.csv:2: label 99999999999 is out of range (at most 1048575)" \
  "$P" csv --in "$T/huge.csv" --out "$T/h.h5"
printf '1,2\n99999999999999999999999,3\n' >"$T/huger.csv"
expect 65 "huger.csv:2: label 99999999999999999999999 is out of range" \
  "$P" csv --in "$T/huger.csv" --out "$T/h.h5"
no_output "$T/h.h5"
# pandas DataFrame.to_csv(): an unnamed index column first, then the label
printf ',label,a,b\n0,1,0.5,2\n1,0,1,3\n2,2,4,5\n3,1,6,7\n' >"$T/pandas.csv"
expect 0 "the first column has no name" "$P" csv --in "$T/pandas.csv" --out "$T/pd.h5"
[ "$(values "$T/pd.h5" /y)" = "1 0 2 1 " ] || fail "pandas index: /y $(values "$T/pd.h5" /y)"
[ "$(values "$T/pd.h5" /x)" = "0.5 2 1 3 4 5 6 7 " ] || fail "pandas index: /x $(values "$T/pd.h5" /x)"
expect 65 "the labels are 0, 1, 2, ... 3, the row numbers" "$P" csv --in "$T/pandas.csv" \
  --out "$T/pd2.h5" --index keep
# to_csv(header=False): the index is the first column, read as a label that counts the rows
tail -n +2 "$T/pandas.csv" >"$T/pandas_nh.csv"
expect 65 "(--index skip)" "$P" csv --in "$T/pandas_nh.csv" --out "$T/pd3.h5"
no_output "$T/pd3.h5"
expect 0 "" "$P" csv --in "$T/pandas_nh.csv" --out "$T/pd3.h5" --index skip
cmp -s <(values "$T/pd3.h5" /x) <(values "$T/pd.h5" /x) || fail "--index skip: /x differs"

# ---- 14: formats ----------------------------------------------------------------------
python3 - "$T" <<'PY' || fail "python3 could not write the inputs"
import gzip, struct, sys, zipfile
T = sys.argv[1]
def npy(descr, shape, payload, fortran=False):
    h = "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }" % (
        descr, "True" if fortran else "False",
        "(%d,)" % shape[0] if len(shape) == 1 else "(%s)" % ", ".join(map(str, shape)))
    h += " " * ((64 - (10 + len(h) + 1) % 64) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(h)) + h.encode() + payload
rows = [[0.5, -1.0, 2.0], [1.5, 3.0, -4.0], [0.25, 8.0, 1.0], [7.0, 0.0, -0.5]]
labels = [2, 0, 1, 2]
x32 = npy("<f4", (4, 3), b"".join(struct.pack("<3f", *r) for r in rows))
x64 = npy("<f8", (4, 3), b"".join(struct.pack("<3d", *r) for r in rows))
y64 = npy("<i8", (4,), struct.pack("<4q", *labels))
yu8 = npy("|u1", (4,), bytes(labels))
open(T + "/x64.npy", "wb").write(x64)
open(T + "/yu8.npy", "wb").write(yu8)
with zipfile.ZipFile(T + "/a.npz", "w", zipfile.ZIP_STORED) as z:
    z.writestr("x.npy", x32); z.writestr("y.npy", y64)
with zipfile.ZipFile(T + "/c.npz", "w", zipfile.ZIP_DEFLATED) as z:  # np.savez_compressed
    z.writestr("features.npy", x64); z.writestr("labels.npy", yu8)
with zipfile.ZipFile(T + "/noy.npz", "w") as z:
    z.writestr("x.npy", x32); z.writestr("arr_0.npy", y64)
open(T + "/fortran.npy", "wb").write(npy("<f4", (4, 3), x32[-48:], fortran=True))
open(T + "/object.npy", "wb").write(npy("|O", (4,), b"\x80\x02"))
open(T + "/big.npy", "wb").write(npy(">f4", (4, 3), b"".join(struct.pack(">3f", *r) for r in rows)))
open(T + "/yfloat.npy", "wb").write(npy("<f4", (4,), struct.pack("<4f", *labels)))
open(T + "/yneg.npy", "wb").write(npy("<i4", (4,), struct.pack("<4i", 1, 0, -3, 1)))
open(T + "/ybig.npy", "wb").write(npy("<u8", (4,), struct.pack("<4Q", 1, 0, 2**63 + 5, 1)))
open(T + "/xnan.npy", "wb").write(npy("<f8", (4, 3), x64[-96:-8] + struct.pack("<d", float("nan"))))
open(T + "/x3.npy", "wb").write(npy("<f4", (3, 3), x32[-48:-12]))
with gzip.open(T + "/g.csv.gz", "wt") as f:
    f.write("label,a,b,c\n" + "".join("%d,%g,%g,%g\n" % (l, *r) for l, r in zip(labels, rows)))
PY
want_x="0.5 -1 2 1.5 3 -4 0.25 8 1 7 0 -0.5 "
expect 0 "" "$P" csv --in "$T/g.csv.gz" --out "$T/g.h5"
[ "$(values "$T/g.h5" /x)" = "$want_x" ] || fail ".csv.gz /x: $(values "$T/g.h5" /x)"
awk 'BEGIN { for (i = 0; i < 2000; i++) printf "%d,%d,%d\n", i % 2, i, -i }' | gzip |
  head -c 3000 >"$T/cut.csv.gz" # a truncated gzip file is an error, not fewer rows
expect 65 "cut.csv.gz: cannot decompress: unexpected end of file" "$P" csv --in "$T/cut.csv.gz" \
  --out "$T/cut.h5"
no_output "$T/cut.h5"
expect 0 "" "$P" npy --in "$T/a.npz" --out "$T/a.h5"
[ "$(values "$T/a.h5" /x)" = "$want_x" ] || fail ".npz /x: $(values "$T/a.h5" /x)"
[ "$(values "$T/a.h5" /y)" = "2 0 1 2 " ] || fail ".npz /y: $(values "$T/a.h5" /y)"
expect 0 "" "$P" npy --in "$T/c.npz" --x features --y labels --out "$T/c.h5"
h5diff "$T/a.h5" "$T/c.h5" /x /x >/dev/null || fail "deflated .npz, float64 x: /x differs"
h5diff "$T/a.h5" "$T/c.h5" /y /y >/dev/null || fail "deflated .npz, uint8 y: /y differs"
expect 0 "" "$P" npy --x "$T/x64.npy" --y "$T/yu8.npy" --out "$T/two.h5"
h5diff "$T/a.h5" "$T/two.h5" >/dev/null || fail "two .npy files differ from the .npz"
expect 65 "noy.npz: no array 'y' (member y.npy; it holds: x.npy, arr_0.npy)" \
  "$P" npy --in "$T/noy.npz" --out "$T/n.h5"
expect 65 "fortran.npy: a Fortran-order array is not supported" \
  "$P" npy --x "$T/fortran.npy" --y "$T/yu8.npy" --out "$T/n.h5"
expect 65 "object.npy: an object array (dtype=object) is not supported" \
  "$P" npy --x "$T/x64.npy" --y "$T/object.npy" --out "$T/n.h5"
expect 65 "big.npy: a big-endian array is not supported" \
  "$P" npy --x "$T/big.npy" --y "$T/yu8.npy" --out "$T/n.h5"
expect 65 "yfloat.npy: y must be an integer array" \
  "$P" npy --x "$T/x64.npy" --y "$T/yfloat.npy" --out "$T/n.h5"
expect 65 "yneg.npy: row 2: label '-3' is negative" \
  "$P" npy --x "$T/x64.npy" --y "$T/yneg.npy" --out "$T/n.h5"
expect 65 "ybig.npy: row 2: label is out of range" \
  "$P" npy --x "$T/x64.npy" --y "$T/ybig.npy" --out "$T/n.h5"
expect 65 "xnan.npy: row 3: feature 2 is NaN or infinite" \
  "$P" npy --x "$T/xnan.npy" --y "$T/yu8.npy" --out "$T/n.h5"
expect 65 "x3.npy has 3 rows but" "$P" npy --x "$T/x3.npy" --y "$T/yu8.npy" --out "$T/n.h5"
expect 66 "absent.npz: no such file" "$P" npy --in "$T/absent.npz" --out "$T/n.h5"
expect 65 "s.csv: not an .npz (zip) archive" "$P" npy --in "$T/s.csv" --out "$T/n.h5"
no_output "$T/n.h5"
# HDF5 with other names (h5copy renames); the default names are /x and /y
h5copy -i "$T/a.h5" -o "$T/named.h5" -s /x -d /features && h5copy -i "$T/a.h5" -o "$T/named.h5" \
  -s /y -d /labels || fail "h5copy"
expect 65 "named.h5: no dataset /x (name others with --x NAME --y NAME)" \
  "$P" h5 --in "$T/named.h5" --out "$T/n.h5"
expect 0 "" "$P" h5 --in "$T/named.h5" --x /features --y /labels --out "$T/named-out.h5"
h5diff "$T/a.h5" "$T/named-out.h5" /x /x >/dev/null || fail "h5 --x: /x differs"
expect 65 "dataset /features: expected integers [N]" \
  "$P" h5 --in "$T/named.h5" --x /features --y /features --out "$T/n.h5"
no_output "$T/n.h5"
expect 64 "--label is an option of mnprep csv" "$P" npy --in "$T/a.npz" --out "$T/n.h5" --label last

# ---- 15: --standardize, and mnrun's warning -------------------------------------------
# column a: 1..4 (mean 2.5, std sqrt(1.25)); column b constant 7 (std 1: centred to 0)
printf '0,1,7\n1,2,7\n0,3,7\n1,4,7\n' >"$T/st.csv"
expect 0 "" "$P" csv --in "$T/st.csv" --out "$T/st.h5" --standardize
h5dump -a /x/standardized "$T/st.h5" | grep -q '(0): 1' || fail "no /x standardized = 1"
h5dump -a /x/mean "$T/st.h5" | grep -q '(0): 2.5, 7' || fail "/x mean: $(h5dump -a /x/mean "$T/st.h5")"
h5dump -m '%.17g' -w 0 -a /x/std "$T/st.h5" | grep -qE '1\.118033988749[0-9]*, 1$' ||
  fail "/x std: $(h5dump -a /x/std "$T/st.h5")"
values "$T/st.h5" /x | awk '{ for (i = 1; i <= NF; i += 2) { s += $i; q += $i * $i; if ($(i + 1) != 0) c = 1 }
  exit !(s * s < 1e-10 && (q / 4 - 1)^2 < 1e-10 && !c) }' ||
  fail "standardized /x is not mean 0, std 1 (constant column 0): $(values "$T/st.h5" /x)"
# with a validation split: the statistics of the training rows only, applied to both
awk 'BEGIN { for (i = 0; i < 200; i++) printf "%d,%d,%d\n", i % 2, i * 3, 1000 + i }' >"$T/sv.csv"
expect 0 "" "$P" csv --in "$T/sv.csv" --out "$T/svt.h5" --val-fraction 0.25 --val-out "$T/svv.h5" \
  --standardize --split-out "$T/sv-split.csv"
h5dump -a /x/mean "$T/svv.h5" | grep '(0)' >"$T/vm" &&
  h5dump -a /x/mean "$T/svt.h5" | grep '(0)' | cmp -s - "$T/vm" ||
  fail "validation file: not the training mean"
mean=$(h5dump -m '%.17g' -a /x/mean -y -w 0 "$T/svt.h5" | grep -oE '[0-9.e+-]+, [0-9.e+-]+' | cut -d, -f1)
std=$(h5dump -m '%.17g' -a /x/std -y -w 0 "$T/svt.h5" | grep -oE '[0-9.e+-]+, [0-9.e+-]+' | cut -d, -f1)
# the training mean of column a, from the split file
want=$(awk -F, 'NR > 1 && $2 == "train" { s += $1 * 3; n++ } END { printf "%.6f", s / n }' "$T/sv-split.csv")
check_float "($mean - $want)^2 < 1e-6" || fail "training mean $mean, want $want (training rows only)"
# val row values transformed with the training statistics: x = (3 * row - mean) / std
awk -F, 'NR > 1 && $2 == "val" { print $1 }' "$T/sv-split.csv" >"$T/valrows"
values "$T/svv.h5" /x | tr ' ' '\n' | awk 'NR % 2 == 1' | paste - "$T/valrows" |
  awk -v m="$mean" -v s="$std" '{ d = $1 - (3 * $2 - m) / s; if (d * d > 1e-8) bad = 1 } END { exit bad }' ||
  fail "validation rows not transformed with the training statistics"
# mnrun: a raw-scale training set gets one warning (rank 0 only, also with 2 ranks); a
# standardized one none
cat >"$T/raw.conf" <<CONF
[model]
layers = 2,8,2
[data]
train = $T/raw.h5
val = $T/rawv.h5
batch_size = 10
[schedule]
epochs = 1
[log]
progress = off
CONF
awk 'BEGIN { for (i = 0; i < 100; i++) printf "%d,%d,%d\n", i % 2, (i * 37) % 256, (i * 11) % 256 }' \
  >"$T/raw.csv"
"$P" csv --in "$T/raw.csv" --out "$T/raw.h5" --val-fraction 0.2 --val-out "$T/rawv.h5" >/dev/null ||
  fail "mnprep raw.csv"
expect_exit 0 "a raw-scale set trains" "$MN_BIN/mnrun" -np 2 "$T/raw.conf" --set snapshot.dir="$T/sn1"
[ "$(grep -c 'not standardized' "$T/err")" = 1 ] ||
  fail "want one scale warning with 2 ranks: $(grep -c 'not standardized' "$T/err")"
expect_err "raw.h5: features reach \|x\| = 2[0-9]+ .*mnprep --standardize" "the warning names the file and the fix"
"$P" csv --in "$T/raw.csv" --out "$T/raw.h5" --val-fraction 0.2 --val-out "$T/rawv.h5" \
  --standardize >/dev/null || fail "mnprep raw.csv --standardize"
expect_exit 0 "a standardized set trains" "$MN_BIN/mnrun" -np 1 "$T/raw.conf" --set snapshot.dir="$T/sn2"
grep -q 'not standardized' "$T/err" && fail "a standardized set got the scale warning"
"$P" teacher --out "$T/tt" --samples 200 --val 0 --dim 2 --classes 2 >/dev/null || fail "teacher"
expect_exit 0 "a unit-scale set trains" "$MN_BIN/mnrun" -np 1 "$T/raw.conf" \
  --set data.train="$T/tt-train.h5" --set snapshot.dir="$T/sn3"
grep -q 'not standardized' "$T/err" && fail "a unit-scale set got the scale warning"

# ---- 16: exact and stratified splits, --split-out -------------------------------------
# 300 rows, row i has x = i and class 0 for i < 240, 1..3 after (80% class 0)
awk 'BEGIN { for (i = 0; i < 300; i++) printf "%d,%d\n", i < 240 ? 0 : 1 + i % 3, i }' >"$T/sp.csv"
expect 0 "" "$P" csv --in "$T/sp.csv" --out "$T/spt.h5" --val-fraction 0.1 --val-out "$T/spv.h5" \
  --split-out "$T/split.csv"
[ "$(nrows "$T/spv.h5")" = 30 ] || fail "--val-fraction 0.1 of 300: $(nrows "$T/spv.h5") rows, want 30"
[ "$(nrows "$T/spt.h5")" = 270 ] || fail "--val-fraction 0.1 of 300: $(nrows "$T/spt.h5") training rows"
head -n 1 "$T/split.csv" | grep -qx "row,split" || fail "split file header: $(head -n 1 "$T/split.csv")"
[ "$(wc -l <"$T/split.csv")" = 301 ] || fail "split file: $(wc -l <"$T/split.csv") lines, want 301"
awk -F, 'NR > 1 && $2 == "val" { print $1 }' "$T/split.csv" >"$T/sv"
values "$T/spv.h5" /x | tr ' ' '\n' | sed '/^$/d' | cmp -s - "$T/sv" ||
  fail "split file's val rows are not the rows of the validation file"
awk -F, 'NR > 1 && $2 == "train" { print $1 }' "$T/split.csv" >"$T/st"
values "$T/spt.h5" /x | tr ' ' '\n' | sed '/^$/d' | cmp -s - "$T/st" ||
  fail "split file's train rows are not the rows of the training file"
printf '0,1\n1,2\n0,3\n1,4\n0,5\n1,6\n0,7\n' >"$T/seven.csv" # round(7 * 0.5) = 4
expect 0 "" "$P" csv --in "$T/seven.csv" --out "$T/7t.h5" --val-fraction 0.5 --val-out "$T/7v.h5"
[ "$(nrows "$T/7v.h5")" = 4 ] || fail "--val-fraction 0.5 of 7: $(nrows "$T/7v.h5") rows, want 4"
# stratified: class 0 gives 24 of 240, classes 1..3 give 2 of 20 each
expect 0 "" "$P" csv --in "$T/sp.csv" --out "$T/sst.h5" --val-fraction 0.1 --val-out "$T/ssv.h5" \
  --stratify
[ "$(values "$T/ssv.h5" /y | tr ' ' '\n' | sed '/^$/d' | sort -n | uniq -c | awk '{ printf "%s:%s ", $2, $1 }')" = \
  "0:24 1:2 2:2 3:2 " ] || fail "--stratify: val classes $(values "$T/ssv.h5" /y)"
expect 64 "--stratify needs --val-fraction" "$P" csv --in "$T/sp.csv" --out "$T/n.h5" --stratify
# an unwritable split file: exit 74, no dataset written
expect 74 "cannot write" "$P" csv --in "$T/sp.csv" --out "$T/sw.h5" --split-out "$T/s.csv/x.csv"
no_output "$T/sw.h5"

finish
