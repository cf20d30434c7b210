# test_bad_input.sh: bad config and bad data through mnrun, on 2 real ranks. Each case
# asserts the documented exit code (docs/exit-codes.md) and that the message names what
# and where; none may leave a file damaged (the data files are compared before/after).
. "$MN_SRC/tests/lib.sh"
T=$MN_TMP
"$MN_BIN/mnprep" teacher --out "$T/ok" --samples 400 --val 100 --dim 8 --classes 3 \
  --hidden 8 >/dev/null || fail "mnprep ok"
"$MN_BIN/mnprep" teacher --out "$T/wide" --samples 400 --val 0 --dim 9 --classes 3 \
  --hidden 8 >/dev/null || fail "mnprep wide"
"$MN_BIN/mnprep" teacher --out "$T/many" --samples 400 --val 0 --dim 8 --classes 7 \
  --hidden 8 >/dev/null || fail "mnprep many"
echo "not an hdf5 file" >"$T/junk.h5"
sums_before=$(md5sum "$T"/*.h5)

conf() { # conf NAME TRAIN [more [data] lines...]
  local name=$1 train=$2
  shift 2
  { printf '[model]\nlayers = 8,16,3\n[data]\ntrain = %s\nbatch_size = 10\n' "$train"
    for l in "$@"; do printf '%s\n' "$l"; done # more [data] keys
    printf '[schedule]\nepochs = 1\n[log]\nprogress = off\n'; } >"$T/$name.conf"
  echo "$T/$name.conf"
}

# config errors: exit 64 with file:line and the key, before any rank starts
c=$(conf good "$T/ok-train.h5")
printf '[model]\nlayers = 8,16,3\n[data]\ntrain = %s\nbatch_sise = 10\n[schedule]\nepochs = 1\n' \
  "$T/ok-train.h5" >"$T/typo.conf"
expect_exit 64 "misspelt key" "$MN_BIN/mnrun" -np 2 "$T/typo.conf"
expect_err "typo.conf:5: .*batch_sise" "misspelt key names file:line and key"
expect_exit 64 "bad --set value" "$MN_BIN/mnrun" -np 2 --set data.batch_size=zero "$c"
expect_err "batch_size" "bad --set names the key"
expect_exit 64 "out-of-range --set" "$MN_BIN/mnrun" -np 2 --set optimizer.momentum=1.5 "$c"
expect_err "momentum" "out-of-range names the key"
expect_exit 66 "missing config" "$MN_BIN/mnrun" -np 2 "$T/nope.conf"
expect_err "nope.conf" "missing config is named"

# data errors: 66 for a missing file, 65 for bad contents; the file and dataset named
expect_exit 66 "missing train file" "$MN_BIN/mnrun" -np 2 "$(conf miss "$T/absent.h5")"
expect_err "absent.h5" "missing file is named"
expect_exit 66 "glob matching nothing" "$MN_BIN/mnrun" -np 2 "$(conf glob "$T/none-*.h5")"
expect_err "none-\*.h5" "glob is named"
expect_exit 66 "missing val file" "$MN_BIN/mnrun" -np 2 "$(conf mval "$T/ok-train.h5" "val = $T/gone.h5")"
expect_err "gone.h5" "missing val file is named"
expect_exit 65 "not an HDF5 file" "$MN_BIN/mnrun" -np 2 "$(conf junk "$T/junk.h5")"
expect_err "junk.h5" "junk file is named"
expect_exit 65 "wrong feature count" "$MN_BIN/mnrun" -np 2 "$(conf wide "$T/wide-train.h5")"
expect_err "wide-train.h5.*/x.*9" "wrong D names file, /x and the size"
expect_exit 65 "label out of range" "$MN_BIN/mnrun" -np 2 "$(conf many "$T/many-train.h5")"
expect_err "many-train.h5.*/y" "bad label names file and /y"
expect_exit 65 "fewer samples than world x batch" "$MN_BIN/mnrun" -np 2 \
  --set data.batch_size=300 "$c"
expect_err "ok-train.h5.*fewer than world x batch" "too small a dataset is named"
expect_exit 65 "shards with different D" "$MN_BIN/mnrun" -np 2 \
  "$(conf mix "$T/ok-train.h5,$T/wide-train.h5")"
expect_err "wide-train.h5" "the odd shard is named"

# a FIFO as the training set: refused at once (opening it waited for a writer forever)
mkfifo "$T/fifo.data" # (not *.h5: the md5sum of the data files at the end would block on it)
expect_exit 66 "a FIFO as data.train" timeout 120 "$MN_BIN/mnrun" -np 2 "$(conf fifo "$T/fifo.data")"
expect_err "fifo.data: is not a regular file \(a FIFO\)" "the FIFO is named"

# a GPU or NCCL asked for where there is none: 69, saying why (only on a machine without GPUs)
if [ ! -e /dev/nvidia0 ]; then
  expect_exit 69 "compute.device = gpu without a GPU" "$MN_BIN/mnrun" -np 2 --set compute.device=gpu "$c"
  expect_err "compute.device = gpu: .*(no usable CUDA device|no CUDA device is visible|has no CUDA|no NVIDIA driver is installed|the NVIDIA driver is too old)" \
    "the missing GPU is named"
  expect_exit 69 "comm.backend = nccl on the CPU" "$MN_BIN/mnrun" -np 2 --set comm.backend=nccl "$c"
  expect_err "nccl needs a GPU" "the CPU rank is named"
fi
expect_exit 64 "nccl with device = cpu" "$MN_BIN/mnrun" -np 2 --set comm.backend=nccl \
  --set compute.device=cpu "$c"
expect_err "nccl needs \[compute\] device = gpu or auto" "the contradiction is named"

# a snapshot.dir that cannot be created or written: 74 at once, before the first step,
# naming the directory and the reason (issue 11, item 7; full and read-only file systems
# are in test_snapshot_disk.sh)
echo "a file" >"$T/plainfile"
expect_exit 74 "snapshot.dir through a regular file" "$MN_BIN/mnrun" -np 2 \
  --set snapshot.dir="$T/plainfile/snaps" --set log.progress=plain "$c"
expect_err "plainfile.*(Not a directory|cannot create directory|not a directory)" \
  "the snapshot directory and the reason are named"
grep -q "step " "$T/out" && fail "a step was trained before the snapshot.dir check" ||
  pass "no step was trained"

# and the good config still trains
expect_exit 0 "good config trains" "$MN_BIN/mnrun" -np 2 "$c"

[ "$(md5sum "$T"/*.h5)" = "$sums_before" ] && pass "no data file changed" || fail "a data file changed"
finish
