# test_mnprep_tokens.sh: mnprep text and mnprep tokens (tools/prep_text.c, prep_tokens.c),
# checked with h5dump against the inputs.
#
# text: three files made here (one empty, one reached through a symlink) read through a
# quoted glob (a directory among the matches is skipped with a note): tokens = bytes,
# train + val = all bytes, the last round(n * F) bytes of each file in the val file and the
# rest in the train file, in file order; vocab_size 256, tokenizer "byte", uint16; two runs
# give identical files. tokens: an llm.c .bin written here (python3, stdlib struct) imports
# to the same uint16 tokens with vocab_size 50257 and tokenizer gpt2; a wrong magic, an
# unknown version, a file shorter or longer than its header, and a token >= --vocab exit 65
# naming the file (and the token's position); a missing file exits 66; nothing is left
# under the output's name or as a temp file after a failure.
. "$MN_SRC/tests/lib.sh" # fail, finish; a fresh $MN_TMP
P="$MN_BIN/mnprep"
T="$MN_TMP"
mkdir -p "$T/in/sub"
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
# The values of /tokens, one per line.
tokens() {
  { h5dump -A 0 -d /tokens -y -w 0 -O /dev/null -o /dev/stdout "$1" && echo; } |
    tr -s ', \n' '\n' | sed '/^$/d'
}
# The bytes [from, from + count) of a file, one decimal per line.
bytes() { tail -c +$(($2 + 1)) "$1" | head -c "$3" | od -An -v -tu1 -w1 | tr -d ' '; }
no_temps() {
  if ls "$1" | grep -q '\.tmp\.'; then fail "temp files left in $1: $(ls "$1")"; fi
}

# ---- text ------------------------------------------------------------------------------
printf 'The quick brown fox jumps over the lazy dog.\nUTF-8: \xc3\xa9t\xc3\xa9.\n' >"$T/in/a.txt"
: >"$T/in/b.txt"
head -c 3000 /dev/urandom >"$T/real-c.bin" # every byte value, reached through a symlink
ln -s "$T/real-c.bin" "$T/in/c.txt"
expect 0 "skipped" "$P" text --out "$T/lic" --val-fraction 0.25 "$T/in/*"
grep -q "from 3 files" "$T/out.txt" || fail "summary: $(cat "$T/out.txt")"
h5dump -H -A "$T/lic-train.h5" >"$T/h.txt" || fail "h5dump lic-train.h5"
grep -q 'H5T_STD_U16LE' "$T/h.txt" || fail "/tokens is not uint16"
grep -A8 'ATTRIBUTE "vocab_size"' "$T/h.txt" | grep -q '(0): 256' || fail "vocab_size is not 256"
grep -A10 'ATTRIBUTE "tokenizer"' "$T/h.txt" | grep -q '"byte"' || fail "tokenizer is not byte"
: >"$T/want-train.txt"
: >"$T/want-val.txt"
for f in a.txt b.txt c.txt; do
  n=$(stat -L -c %s "$T/in/$f")
  v=$(python3 -c "print(round($n * 0.25))")
  bytes "$T/in/$f" 0 $((n - v)) >>"$T/want-train.txt"
  bytes "$T/in/$f" $((n - v)) "$v" >>"$T/want-val.txt"
done
tokens "$T/lic-train.h5" >"$T/got-train.txt"
tokens "$T/lic-val.h5" >"$T/got-val.txt"
cmp -s "$T/want-train.txt" "$T/got-train.txt" || fail "train tokens are not the files' first bytes"
cmp -s "$T/want-val.txt" "$T/got-val.txt" || fail "val tokens are not the files' last bytes"
total=$(cat "$T/in/a.txt" "$T/in/c.txt" | wc -c)
[ $(($(wc -l <"$T/got-train.txt") + $(wc -l <"$T/got-val.txt"))) = "$total" ] ||
  fail "train + val tokens != $total bytes"
expect 0 "" "$P" text --out "$T/again" --val-fraction 0.25 "$T/in/*"
cmp -s "$T/lic-train.h5" "$T/again-train.h5" && cmp -s "$T/lic-val.h5" "$T/again-val.h5" ||
  fail "two runs of mnprep text differ"
expect 0 "" "$P" text --out "$T/noval" --val-fraction 0 "$T/in/a.txt"
[ -e "$T/noval-val.h5" ] && fail "--val-fraction 0 wrote a validation file"
expect 66 "no such file" "$P" text --out "$T/x" "$T/in/missing.txt"
expect 66 "no file matches" "$P" text --out "$T/x" "$T/in/*.none"
expect 66 "is a directory" "$P" text --out "$T/x" "$T/in/sub"
expect 64 "--val-fraction" "$P" text --out "$T/x" --val-fraction 1 "$T/in/a.txt"
expect 64 "--out" "$P" text "$T/in/a.txt"
no_temps "$T"

# ---- tokens ----------------------------------------------------------------------------
# bin FILE MAGIC VERSION NCLAIMED TOKENS...: an llm.c token file.
bin() {
  python3 - "$@" <<'PY'
import struct, sys
path, magic, version, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
toks = [int(t) for t in sys.argv[5:]]
header = [magic, version, n] + [0] * 253
with open(path, "wb") as f:
    f.write(struct.pack("<256i", *header))
    f.write(struct.pack("<%dH" % len(toks), *toks))
PY
}
bin "$T/s0.bin" 20240520 1 5 50256 0 1 15496 995
bin "$T/s1.bin" 20240520 1 3 7 8 9
expect 0 "" "$P" tokens --out "$T/gpt/shards.h5" "$T/s0.bin" "$T/s1.bin"
grep -q "(8 tokens) from 2 llm.c files" "$T/out.txt" || fail "summary: $(cat "$T/out.txt")"
[ "$(tokens "$T/gpt/shards.h5" | tr '\n' ' ')" = "50256 0 1 15496 995 7 8 9 " ] ||
  fail "imported tokens: $(tokens "$T/gpt/shards.h5" | tr '\n' ' ')"
h5dump -H -A "$T/gpt/shards.h5" >"$T/h.txt"
grep -q 'H5T_STD_U16LE' "$T/h.txt" || fail "imported /tokens is not uint16"
grep -A8 'ATTRIBUTE "vocab_size"' "$T/h.txt" | grep -q '(0): 50257' ||
  fail "vocab_size is not 50257"
grep -A10 'ATTRIBUTE "tokenizer"' "$T/h.txt" | grep -q '"gpt2"' || fail "tokenizer is not gpt2"

cp "$T/gpt/shards.h5" "$T/gpt/keep.h5"
bin "$T/magic.bin" 20240326 1 2 1 2
expect 65 "magic.bin: not an llm.c token file: magic 20240326, expected 20240520" \
  "$P" tokens --out "$T/gpt/shards.h5" "$T/s0.bin" "$T/magic.bin"
cmp -s "$T/gpt/shards.h5" "$T/gpt/keep.h5" || fail "a failed import changed the existing output"
bin "$T/v2.bin" 20240520 2 2 1 2
expect 65 "v2.bin: unknown llm.c token file version 2" "$P" tokens --out "$T/gpt/v.h5" "$T/v2.bin"
bin "$T/short.bin" 20240520 1 5 1 2 3
expect 65 "short.bin: shorter than its header says: 5 tokens" "$P" tokens --out "$T/gpt/s.h5" \
  "$T/short.bin"
bin "$T/long.bin" 20240520 1 2 1 2 3
expect 65 "long.bin: longer than its header says" "$P" tokens --out "$T/gpt/l.h5" "$T/long.bin"
head -c 100 "$T/s0.bin" >"$T/stub.bin"
expect 65 "stub.bin: 100 bytes, shorter than the 1024-byte header" "$P" tokens --out "$T/gpt/t.h5" \
  "$T/stub.bin"
bin "$T/big.bin" 20240520 1 4 5 6 60000 7
expect 65 "big.bin: token 2 (byte offset 1028) = 60000 is outside [0, 50257)" \
  "$P" tokens --out "$T/gpt/b.h5" "$T/big.bin"
expect 65 "s0.bin: token 0 (byte offset 1024) = 50256 is outside [0, 1000)" \
  "$P" tokens --out "$T/gpt/b.h5" --vocab 1000 "$T/s0.bin"
expect 66 "nothing.bin: no such file" "$P" tokens --out "$T/gpt/n.h5" "$T/nothing.bin"
for f in v s l t b n; do [ -e "$T/gpt/$f.h5" ] && fail "a failed import left $f.h5"; done
no_temps "$T/gpt"

finish
