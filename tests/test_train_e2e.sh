# test_train_e2e.sh: real training through mnrun on 1, 2 and 4 ranks (real mpirun, real
# HDF5 files from mnprep): the loss falls and validation accuracy on the teacher data
# passes the threshold stated below; the metrics file ends with a complete summary.
. "$MN_SRC/tests/lib.sh"

# Threshold: an MLP trained 4 epochs on 16,000 samples of a 128-feature, 5-class teacher
# reaches well above 80% on held-out data (chance is about 20-30%); the loss must fall to
# less than half of its first value.
THRESHOLD=0.80

"$MN_BIN/mnprep" teacher --out "$MN_TMP/t" --samples 16000 --val 2000 --dim 128 --classes 5 \
  --seed 3 >/dev/null || fail "mnprep teacher"
cat >"$MN_TMP/t.conf" <<CONF
[model]
layers = 128,256,128,5
[data]
train = $MN_TMP/t-train.h5
val = $MN_TMP/t-val.h5
batch_size = 32
[optimizer]
lr = 0.05
[schedule]
epochs = 4
lr_schedule = cosine
warmup_steps = 20
[log]
interval = 20
CONF

for np in 1 2 4; do
  m="$MN_TMP/m$np.jsonl"
  expect_exit 0 "mnrun -np $np trains" "$MN_BIN/mnrun" -np "$np" "$MN_TMP/t.conf" --metrics "$m" \
    --set snapshot.dir="$MN_TMP/snap$np"
  [ -s "$m" ] || { fail "no metrics at np $np"; continue; }
  world=$(json_field "$m" summary world)
  first=$(json_field "$m" summary first_loss)
  final=$(json_field "$m" summary final_loss)
  acc=$(json_field "$m" summary val_accuracy)
  steps=$(json_field "$m" summary steps)
  echo "np $np: world $world steps $steps loss $first -> $final, val accuracy $acc"
  [ "$world" = "$np" ] || fail "summary world $world, want $np"
  # 16000 samples / (np x 32) per epoch, dropped remainder, 4 epochs
  [ "$steps" = "$((16000 / (np * 32) * 4))" ] || fail "np $np: $steps steps"
  check_float "$final < 0.5 * $first" || fail "np $np: loss did not fall: $first -> $final"
  check_float "$acc >= $THRESHOLD" || fail "np $np: val accuracy $acc < $THRESHOLD"
  for k in samples_per_s compute_s comm_s io_wait_s epochs; do
    v=$(json_field "$m" summary $k)
    [ -n "$v" ] && [ "$v" != null ] || fail "np $np: summary lacks $k"
  done
  n_epoch=$(grep -c '"event":"epoch"' "$m")
  [ "$n_epoch" = 4 ] || fail "np $np: $n_epoch epoch records"
done
finish
