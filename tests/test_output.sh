# test_output.sh: what mnrun and the ranks print (docs/metrics.md, "On the terminal"):
# - stdout and stderr to files (not a terminal): no "\r" and no ESC in either, even though
#   mnrun's stderr is a terminal when its stdout is a file (`mnrun ... > log` from a
#   terminal): "terminal" is decided on stdout, where the progress goes; and stdout to a
#   terminal with stderr to a file: redrawn on the one, plain lines in the other;
# - on a pseudo-terminal (python3's pty): the progress line redraws in place, and a log line
#   written while it is open is never glued onto it: "\r" ESC[K clears the line first, so
#   that every log line starts at column 0; at -np 1 (direct) and -np 2 (through mpirun,
#   whose two pipes keep no order between stdout and stderr);
# - every log line of mnrun and of the ranks starts with an ISO 8601 UTC timestamp with
#   milliseconds.
. "$MN_SRC/tests/lib.sh"
T=$MN_TMP
small_run 1200 200 3
cat >>"$T/t.conf" <<CONF
[log]
interval = 1
[snapshot]
every_steps = 7
CONF
ts='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z '
esc=$(printf '\033')

# 1. both streams to files, progress auto
"$MN_BIN/mnrun" -np 2 "$T/t.conf" --set snapshot.dir="$T/s1" >"$T/out1" 2>"$T/err1"
[ $? = 0 ] || fail "np 2 to files: exit $?"
grep -q "^epoch 1 step 1/" "$T/out1" && pass "np 2 to files: plain progress lines" ||
  fail "np 2 to files: no progress lines: $(head -3 "$T/out1")"
for f in out1 err1; do
  if grep -q "$(printf '\r')" "$T/$f" || grep -q "$esc" "$T/$f"; then
    fail "np 2 to files: \\r or ESC in $f: $(od -c "$T/$f" | head -5)"
  else pass "np 2 to files: no \\r nor ESC in $f"; fi
done

# pty_run.py STREAMS TTY FILE CMD...: CMD with STREAMS (both, stdout or stderr) on a
# pseudo-terminal and the other stream, if any, into FILE; what the terminal got goes to TTY
cat >"$T/pty_run.py" <<'PY'
import os, pty, subprocess, sys
streams, tty, other = sys.argv[1:4]
m, s = pty.openpty()
f = open(other, "wb") if streams != "both" else None
p = subprocess.Popen(sys.argv[4:], stdin=s, stdout=s if streams != "stderr" else f,
                     stderr=s if streams != "stdout" else f)
os.close(s)
if f:
    f.close()
data = b""
while True:
    try:
        b = os.read(m, 65536)
    except OSError:
        break
    if not b:
        break
    data += b
rc = p.wait()
open(tty, "wb").write(data)
sys.exit(rc)
PY

# 2. stdout to a file and stderr to a terminal (mnrun ... > log): the file gets no \r nor ESC
/usr/bin/python3 "$T/pty_run.py" stderr "$T/tty_err" "$T/out2" "$MN_BIN/mnrun" -np 2 "$T/t.conf" \
  --set snapshot.dir="$T/s2" || fail "stdout to a file, stderr to a pty: exit $?"
grep -q "^epoch 1 step 1/" "$T/out2" && ! grep -q "$(printf '\r')" "$T/out2" &&
  ! grep -q "$esc" "$T/out2" && pass "stdout to a file, stderr to a terminal: plain lines" ||
  fail "stdout to a file, stderr to a terminal: $(od -c "$T/out2" | head -5)"

# 3. one pseudo-terminal for both (the direct launch at -np 1: the rank writes to it itself;
# then -np 2 through mpirun: the redraw reaches the ranks through MN_TTY)
cat >"$T/check_pty.py" <<'PY'
# every log line starts at column 0: at the start, after a newline, or after "\r" ESC[K
import re, sys
data = open(sys.argv[1], "rb").read().decode()
need_glue_case = sys.argv[2] == "1"
# a log line, with or without its timestamp (that is checked apart)
ts = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z )?(mnrun: |mn\[r\d+ [^]]*\] )")
bad, cleared, n = [], 0, 0
for mt in ts.finditer(data):
    n += 1
    before = data[max(0, mt.start() - 4):mt.start()]
    if mt.start() == 0 or before.endswith("\n"):
        continue
    if before.endswith("\r\x1b[K"):
        cleared += 1
        continue
    bad.append(repr(data[max(0, mt.start() - 60):mt.start() + 40]))
redraws = len(re.findall(r"\repoch \d+ step \d+/\d+", data))
print(f"{n} log lines, {cleared} after a cleared progress line, {redraws} redraws")
if bad:
    sys.exit("glued log lines:\n" + "\n".join(bad[:5]))
if redraws < 2:
    sys.exit("the progress line does not redraw in place")
if n == 0 or (need_glue_case and cleared == 0):
    sys.exit("no log line came while a progress line was open: the case is not tested")
PY
/usr/bin/python3 "$T/pty_run.py" both "$T/tty1" - "$MN_BIN/mnrun" -np 1 "$T/t.conf" \
  --set snapshot.dir="$T/s3" || fail "np 1 on a pty: exit $?"
if r=$(/usr/bin/python3 "$T/check_pty.py" "$T/tty1" 1 2>&1); then
  pass "np 1 on a pty: redrawn, no log line glued to it ($r)"
else fail "np 1 on a pty: $r"; fi
/usr/bin/python3 "$T/pty_run.py" both "$T/tty2" - "$MN_BIN/mnrun" -np 2 "$T/t.conf" \
  --set snapshot.dir="$T/s4" || fail "np 2 on a pty: exit $?"
# through mpirun, the rank's stdout and stderr come in two pipes, in no fixed order
if r=$(/usr/bin/python3 "$T/check_pty.py" "$T/tty2" 1 2>&1); then
  pass "np 2 on a pty (through mpirun): redrawn (MN_TTY), no log line glued to it ($r)"
else fail "np 2 on a pty: $r"; fi

# 4. stdout to a terminal, stderr to a file (mnrun 2> log): the progress redraws on the
# terminal, and the log file gets no \r nor ESC
for np in 1 2; do
  /usr/bin/python3 "$T/pty_run.py" stdout "$T/tty_out$np" "$T/err_out$np" "$MN_BIN/mnrun" -np $np \
    "$T/t.conf" --set snapshot.dir="$T/s6$np" || fail "np $np, stdout to a pty: exit $?"
  grep -q "$(printf '\r')epoch 1 step" "$T/tty_out$np" && grep -q "snapshot" "$T/err_out$np" &&
    ! grep -q "$(printf '\r')" "$T/err_out$np" && ! grep -q "$esc" "$T/err_out$np" &&
    pass "np $np, stdout to a terminal and stderr to a file: redrawn there, plain lines here" ||
    fail "np $np, stdout to a pty, stderr to a file: $(od -c "$T/err_out$np" | head -5)"
done

# 5. timestamps on every log line, of the ranks and of mnrun
n=$(grep -c . "$T/err1")
[ "$n" -gt 3 ] && [ "$(grep -cE "${ts}mn\[r0 " "$T/err1")" = "$n" ] &&
  pass "every one of the ranks' $n log lines has a timestamp" ||
  fail "ranks' log lines without a timestamp: $(grep -vE "$ts" "$T/err1" | head -3)"
"$MN_BIN/mnrun" -np 2 "$T/t.conf" --set data.train="$T/missing.h5" \
  --set snapshot.dir="$T/s5" >"$T/out5" 2>"$T/err5"
grep -qE "${ts}mnrun: rank 0 on host .* failed \(exit 66" "$T/err5" &&
  pass "mnrun's own report line has a timestamp" ||
  fail "mnrun's report line: $(grep mnrun "$T/err5" | head -3)"
bad=$(grep -vE "$ts" "$T/err5" | grep -v '^ ')
[ -z "$bad" ] && pass "every log line of a failed run has a timestamp" ||
  fail "lines without a timestamp: $bad"
finish
