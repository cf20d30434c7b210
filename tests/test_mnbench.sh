# test_mnbench.sh: mnbench end to end on the CPU at 1 and 2 ranks, on a small model and a
# reduced size range: it exits 0, prints the three tables, and its JSON file holds every
# field with sane values (no wrong element in any allreduce check, positive finite
# bandwidths and throughputs, efficiencies in (0, 1.5], the mn/raw ratio at 2 ranks, the
# model's predictions from 8 to 1024 ranks); the plot is an SVG when gnuplot is here, and
# without gnuplot the table and JSON still come and stderr says no plot was made. Then
# strong scaling; a tiny gpt (its gradient bytes from the registry, its tokens/s); and the errors: bad options exit 64, a failed run exits 69 naming its log.
# Timing values are only checked for sanity, never against a figure.
. "$MN_SRC/tests/lib.sh"
export TMPDIR="$MN_TMP" # mnbench keeps the scratch directory of a failed run: keep it here

"$MN_BIN/mnprep" teacher --out data/small --samples 4096 --val 0 --dim 64 >/dev/null ||
  fail "mnprep teacher"
small=(--set model.layers=64,512,512,10 --set data.train=data/small-train.h5 --set data.val=)
conf="$MN_SRC/examples/quickstart.conf"

# json_num KEY [N]: the Nth (default 1st) number of KEY in out.json
json_num() { grep -o "\"$1\":[^,}]*" out.json | sed -n "${2:-1}p" | cut -d: -f2; }
# all_positive KEY: every value of KEY in out.json is a positive finite number
all_positive() {
  local vals
  vals=$(grep -o "\"$1\":[^,}]*" out.json | cut -d: -f2)
  [ -n "$vals" ] && ! echo "$vals" | grep -qv '^[0-9.e+-]*$' &&
    echo "$vals" | awk '$1 <= 0 { bad = 1 } END { exit bad }'
}

# ---- the sweep at 1 and 2 ranks ----
expect_exit 0 "mnbench --np 1,2 on the small model" \
  "$MN_BIN/mnbench" --np 1,2 --min-bytes 4K --max-bytes 1M --iters 3 --warmup 1 --steps 100 \
  "${small[@]}" --json out.json "$conf"
cat out err
grep -qE "^# +size +count +type +redop +root +time +algbw +busbw +#wrong +time +algbw +busbw +#wrong" out &&
  pass "the allreduce table has nccl-tests' header" || fail "no nccl-tests header"
grep -qE "^ +1048576 +262144 +float +sum +-1 " out && pass "a row of 1 MB in bytes, as nccl-tests" ||
  fail "no 1048576-byte row"
# what a parser of nccl-tests output does: skip '#' lines, read size and busbw (fields 1, 8 and
# 12), and the "# Avg bus bandwidth" line
# (busbw is only checked to be a number: a row slowed by a loaded machine may print 0.00)
num='^[0-9]+(\.[0-9]+)?$'
rows=$(awk -v num="$num" '/^#/ || NF < 13 { next }
  $1 ~ /^[0-9]+$/ && $8 ~ num && $12 ~ num && $9 == 0 && $13 == 0 { n++ } END { print n + 0 }' out)
[ "$rows" = 9 ] && pass "a nccl-tests parser reads 9 rows with a busbw each and #wrong 0" ||
  fail "nccl-tests parser read $rows rows"
grep -qE "^# Avg bus bandwidth +: [0-9.]+" out && grep -q "^# Out of bounds values : 0 OK" out &&
  pass "the nccl-tests summary lines" || fail "no '# Avg bus bandwidth' line"
grep -q "summed" out && ! grep -q "averaged" out && pass "the header says the path sums" ||
  fail "the header does not say the path sums"
grep -qE "at 2 ranks, 1 MB: mn busbw [0-9.]+ GB/s, raw [0-9.]+ GB/s: mn reaches [0-9.]+% of raw" out &&
  pass "the mn/raw ratio is printed" || fail "no mn/raw line"
grep -q "training, weak scaling: batch 128 per rank, 100 steps" out && pass "the training table" ||
  fail "no training table"
grep -qE "^ +1024 +[0-9.]+ +[0-9.]+ +[0-9.]+ +-$" out && pass "the model's row at 1024 ranks" ||
  fail "no model row at 1024 ranks"

[ -s out.json ] && pass "out.json written" || fail "no out.json"
if command -v python3 >/dev/null; then
  python3 -m json.tool out.json >/dev/null && pass "out.json parses" || fail "out.json is not JSON"
fi
[ "$(json_num params)" = 301066 ] && pass "params 64*512+512 + 512*512+512 + 512*10+10 = 301066" ||
  fail "params $(json_num params)"
# the gradient is the registry's flat buffer: each tensor starts on 64 floats (256 bytes), so
# the 10 floats of the last bias are padded to 64: 301120 floats
[ "$(json_num flat)" = 301120 ] && [ "$(json_num grad_bytes)" = 1204480 ] &&
  [ "$(json_num grad_bytes 2)" = 1204480 ] && pass "the gradient: 301120 floats, 1204480 bytes" ||
  fail "flat $(json_num flat), grad_bytes $(json_num grad_bytes) $(json_num grad_bytes 2)"
# the allreduce at 2 ranks: 4 KB .. 1 MB is 9 sizes, each checked on both paths
nsizes=$(grep -c '"bytes":' out.json)
[ "$nsizes" = 9 ] && pass "9 sizes at 2 ranks" || fail "$nsizes sizes, want 9"
[ "$(grep -o '"wrong":0' out.json | wc -l)" = 18 ] && pass "#wrong is 0 on both paths at every size" ||
  fail "wrong elements: $(grep -o '"wrong":[0-9]*' out.json | sort | uniq -c | tr '\n' ' ')"
grep -q '"ranks":2,"ok":true,"path":"host"' out.json && pass "the sweep at 2 ranks ran on the host path" ||
  fail "no sweep at 2 ranks"
for k in time_us algbw_GBps busbw_GBps ratio samples_per_s step_ms compute_ms elapsed_s \
  compute_per_sample_us machine_busbw_GBps; do
  all_positive "$k" && pass "every $k is positive" || fail "$k: $(grep -o "\"$k\":[^,}]*" out.json | tr '\n' ' ')"
done
ratio=$(json_num ratio 10) # after the 9 per-size ratios: the sweep's ratio at its largest size
check_float "$ratio > 0.05 && $ratio < 20" && pass "mn/raw ratio $ratio" || fail "mn/raw ratio '$ratio'"
for k in comm_ms io_wait_ms alpha_us; do
  vals=$(grep -o "\"$k\":[^,}]*" out.json | cut -d: -f2 | tr '\n' ' ')
  echo "$vals" | awk '{ for (i = 1; i <= NF; i++) if (!($i >= 0)) exit 1 }' && [ -n "$vals" ] &&
    pass "$k >= 0 ($vals)" || fail "$k: '$vals'"
done
# training: ranks 1 and 2, efficiency 1 at 1 rank and in (0, 1.5] at 2
train=$(sed -n '/^"training"/,/^"model"/p' out.json)
echo "$train" | grep -q '"ranks":1,"ok":true,"batch_per_rank":128,"global_batch":128,"steps":100,' &&
  pass "training at 1 rank: 100 steps of 128" || fail "training at 1 rank: $train"
echo "$train" | grep -q '"ranks":2,"ok":true,"batch_per_rank":128,"global_batch":256,"steps":100,' &&
  pass "training at 2 ranks: 100 steps of 256" || fail "training at 2 ranks: $train"
effs=$(echo "$train" | grep -o '"efficiency":[^,}]*' | cut -d: -f2 | tr '\n' ' ')
echo "$effs" | awk '{ exit !($1 == 1 && $2 > 0 && $2 <= 1.5) }' && pass "efficiency $effs" ||
  fail "efficiency '$effs'"
# the model: this machine and two networks, each with 8 predictions in (0, 1]
model=$(sed -n '/^"model"/,$p' out.json)
[ "$(echo "$model" | grep -c '"name":')" = 3 ] && pass "3 model lines" || fail "model: $model"
for n in 8 1024; do
  e=$(echo "$model" | grep -o "\"ranks\":$n,\"efficiency\":[^}]*" | cut -d: -f3 | tr '\n' ' ')
  echo "$e" | awk '{ if (NF != 3) exit 1; for (i = 1; i <= NF; i++) if (!($i > 0 && $i <= 1)) exit 1 }' &&
    pass "predictions at $n ranks: $e" || fail "predictions at $n ranks: '$e'"
done
if command -v gnuplot >/dev/null; then
  grep -q '"plot":"out.svg"' out.json && grep -q "<svg" out.svg && pass "the plot out.svg" ||
    fail "no plot: $(grep -o '"plot[^,]*' out.json)"
  grep -q "message size (bytes)" out.svg && pass "the plot has bus bandwidth against message size" ||
    fail "no bus bandwidth against message size in out.svg"
else
  echo "SKIP: gnuplot not installed: the plot itself is not checked"
fi

# ---- without gnuplot: no plot, said so, table and JSON all the same ----
expect_exit 0 "mnbench without gnuplot" env MN_GNUPLOT=/nonexistent/gnuplot \
  "$MN_BIN/mnbench" --np 2 --no-train --max-bytes 64K --iters 2 --warmup 1 "${small[@]}" \
  --json nogp.json "$conf"
expect_err "no plot made: gnuplot not found" "stderr says no plot was made"
grep -q '"plot":null' nogp.json && [ ! -e nogp.svg ] && pass "JSON plot null, no SVG" ||
  fail "plot without gnuplot: $(grep -o '"plot[^,]*' nogp.json)"
grep -q "mn reaches" out && pass "the table without gnuplot" || fail "no table without gnuplot"

# ---- training only: exit 0 and a whole plot (it was 74 and a half-drawn SVG) ----
expect_exit 0 "mnbench --no-allreduce" "$MN_BIN/mnbench" --np 1,2 --no-allreduce --steps 10 \
  "${small[@]}" --json noar.json "$conf"
if command -v gnuplot >/dev/null; then
  grep -q '"plot":"noar.svg"' noar.json && grep -q "scaling efficiency" noar.svg &&
    ! grep -q "bus bandwidth" noar.svg && pass "--no-allreduce: the efficiency plot alone" ||
    fail "--no-allreduce plot: $(grep -o '"plot[^,]*' noar.json)"
fi

# ---- strong scaling: global batch 64 over 1 and 2 ranks ----
expect_exit 0 "mnbench --global-batch 64" "$MN_BIN/mnbench" --np 1,2 --no-allreduce --steps 10 \
  --global-batch 64 --no-plot "${small[@]}" --json strong.json "$conf"
grep -q '"mode":"strong"' strong.json &&
  grep -q '"ranks":1,"ok":true,"batch_per_rank":64,"global_batch":64' strong.json &&
  grep -q '"ranks":2,"ok":true,"batch_per_rank":32,"global_batch":64' strong.json &&
  pass "strong scaling: 64 then 2 x 32" || fail "strong scaling: $(grep -o '"batch_per_rank[^,]*' strong.json)"

# ---- a gpt: its gradient from the registry, its tokens/s ----
# vocab 256, context 16, 1 block, 2 heads, width 64: every tensor is a multiple of 64 floats
# (the registry's 256-byte alignment), so the flat buffer holds exactly the parameters:
# wte 256x64 + wpe 16x64 + one block (12 C^2 + 13 C = 49984) + ln_f 2x64 = 67520 floats,
# 270080 bytes of gradient
"$MN_BIN/mnprep" text --out data/gpt "$MN_SRC"/docs/*.md >/dev/null || fail "mnprep text"
gpt=(--set model.type=gpt --set model.vocab=256 --set model.context=16 --set model.layers=1
  --set model.heads=2 --set model.width=64 --set data.train=data/gpt-train.h5 --set data.val=
  --set data.batch_size=4 --set optimizer.kind=adamw --set optimizer.lr=0.001)
expect_exit 0 "mnbench on a tiny gpt" "$MN_BIN/mnbench" --np 1,2 --min-bytes 4K --max-bytes 64K \
  --iters 2 --warmup 1 --steps 10 --no-plot "${gpt[@]}" --json gpt.json "$conf"
cat out
grep -q '"model_type":"gpt"' gpt.json && grep -q '"tokens_per_sample":16' gpt.json &&
  pass "gpt.json says a gpt of 16 tokens a sample" ||
  fail "gpt.json: $(head -c 400 gpt.json)"
grep -q '"flat":67520,"grad_bytes":270080,"params":67520,' gpt.json &&
  pass "the gpt's gradient: 67520 floats, 270080 bytes (the registry's flat buffer)" ||
  fail "gpt sizes: $(grep -o '"flat[^m]*' gpt.json)"
grep -q '"grad_bytes":270080' <(sed -n '/^"model"/,$p' gpt.json) &&
  pass "the scaling model sends the gpt's 270080 bytes" || fail "model grad_bytes"
grep -q "gradient 270080 bytes" out && grep -q "gpt vocab 256, context 16, 1 blocks, 2 heads, width 64" out &&
  pass "the report names the gpt and its gradient" || fail "report header: $(head -n 1 out)"
# tokens/s = samples/s x 16 at each rank count, in the JSON and in the table
tps=$(sed -n '/^"training"/,/^"model"/p' gpt.json | awk '
  match($0, /"samples_per_s":[^,]*/) { s = substr($0, RSTART + 16, RLENGTH - 16)
    match($0, /"tokens_per_s":[^,]*/); t = substr($0, RSTART + 15, RLENGTH - 15)
    n++; if (!(s > 0) || t < 16 * s * 0.999 || t > 16 * s * 1.001) bad = 1 }
  END { print n + 0, bad + 0 }')
[ "$tps" = "2 0" ] && pass "tokens_per_s = 16 x samples_per_s at 1 and 2 ranks" ||
  fail "tokens_per_s: $tps: $(grep -o '"[a-z]*_per_s":[^,]*' gpt.json | tr '\n' ' ')"
grep -qE "^ +ranks +batch +samples/s .* tokens/s +MFU$" out &&
  grep -qE "^ +2 +4 +[0-9]+ .* [0-9]+ +-$" out && pass "the training table has tokens/s (no MFU: no peak on the CPU)" ||
  fail "no tokens/s column"
grep -qE "c = [0-9.]+ us/sample \(a sequence of 16 tokens: [0-9.]+ us/token\)" out &&
  pass "the model's c per token" || fail "no c per token"

# ---- errors ----
expect_exit 64 "--np 0" "$MN_BIN/mnbench" --np 0 "$conf"
expect_exit 64 "--global-batch 3 at 2 ranks" "$MN_BIN/mnbench" --np 1,2 --global-batch 3 "$conf"
expect_exit 64 "--overlap 2" "$MN_BIN/mnbench" --overlap 2 "$conf"
expect_exit 69 "a training run that fails" "$MN_BIN/mnbench" --np 1 --no-allreduce --no-plot \
  --set data.train=missing.h5 --json fail.json "$conf"
expect_err "training at 1 rank.*mnrun exited 66 \(log: .*train-n1.log\)" "the failure names its log"
grep -q '"ranks":1,"ok":false' fail.json && pass "the JSON marks the failed point" ||
  fail "fail.json: $(cat fail.json 2>/dev/null | head -c 300)"
finish
