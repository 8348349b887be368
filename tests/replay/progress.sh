#!/usr/bin/env bash
# `scanwatch replay` progress on a terminal. In a tmux pane (its raw output
# logged with pipe-pane), a replay that takes more than a second shows
# "N packets, P% of the file, R packets/s", rewritten in place (\r ... ESC[K)
# and erased before a verdict's line and before the summary line; a short
# replay shows none; with stderr a file there is none, and the JSON events
# conclude the same.
# Usage: progress.sh SCANWATCH
set -euo pipefail
SCANWATCH=${1:?usage: progress.sh SCANWATCH}
command -v tmux >/dev/null || { echo "FAIL: tmux is not installed (scripts/install-deps.sh)"; exit 1; }
T=$(mktemp -d /tmp/sw-progress.XXXX)
TM="swprogress$$"
tm() { tmux -L "$TM" "$@"; }
cleanup() { tm kill-server 2>/dev/null || true; rm -rf "$T"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# A capture that takes seconds: 4 million SYNs from 256 sources to 256 ports
# (gzip: small on disk; about 3 s with one packet thread on this 2-core VM,
# where 1.5 million once took a little over a second and so showed a single
# progress line); and a short one.
N=4000000
python3 - "$T/big.pcap.gz" $N "$T/short.pcap" 2000 <<'PY'
import gzip, struct, sys
def csum(b):
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff
def write(f, n):
    # One block of 65,536 frames (256 sources x 256 ports), written again
    # with the seconds of its timestamps moved on: building every frame
    # anew took longer than the replay it exists for.
    f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
    eth = b"\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x08\x00"
    recs = []
    for j in range(65536):
        src = bytes([198, 18, 1, j & 255]); dst = bytes([198, 18, 0, 2])
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40, j, 0, 64, 6, 0, src, dst)
        ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
        tcp = struct.pack("!HHIIBBHHH", 40000 + (j & 1023), 1 + (j >> 8), j, 0, 0x50, 0x02, 1024, 0, 0)
        frame = eth + ip + tcp
        recs.append(struct.pack("<IIII", 0, j * 10, len(frame), len(frame)) + frame)
    size = len(recs[0])
    block = bytearray(b"".join(recs))
    for k in range((n + 65535) // 65536):
        m = min(65536, n - k * 65536)
        for j in range(m):
            struct.pack_into("<I", block, j * size, 1700000000 + k)
        f.write(block[:m * size])
with gzip.open(sys.argv[1], "wb", compresslevel=1) as f:
    write(f, int(sys.argv[2]))
with open(sys.argv[3], "wb") as f:
    write(f, int(sys.argv[4]))
PY

# on_tty NAME FILE: replays FILE in a tmux pane; raw output in $T/NAME.raw,
# the last screen in $T/NAME.screen, events in $T/NAME.json
on_tty() {
  local name=$1 file=$2
  tm new-session -d -s "$name" -x 100 -y 12 \
    "while [ ! -e '$T/$name.go' ]; do sleep 0.05; done; '$SCANWATCH' replay --threads 1 --json '$T/$name.json' '$file'; echo \"rc=\$?\" >'$T/$name.rc'; sleep 60"
  tm pipe-pane -o -t "$name" "cat >'$T/$name.raw'"
  touch "$T/$name.go"
  for _ in $(seq 1200); do [ -s "$T/$name.rc" ] && break; sleep 0.1; done
  [ "$(cat "$T/$name.rc" 2>/dev/null)" = rc=0 ] || fail "replay of $file in a pane: $(cat "$T/$name.rc" 2>/dev/null || echo 'no exit after 120 s')"
  sleep 0.3
  tm capture-pane -p -t "$name" >"$T/$name.screen"
  tm kill-session -t "$name"
}

on_tty big "$T/big.pcap.gz"
on_tty short "$T/short.pcap"
"$SCANWATCH" replay --threads 1 --json "$T/file.json" "$T/big.pcap.gz" 2>"$T/file.err" ||
  fail "replay with stderr a file: exit $?"

python3 - "$T" $N <<'PY'
import json, re, sys
T, N = sys.argv[1], int(sys.argv[2])
def fail(m):
    print("FAIL: " + m); sys.exit(1)
raw = open(T + "/big.raw", "rb").read().decode("utf-8", "replace")
line = re.compile(r"\rscanwatch: replay: ([0-9,]+) packets, ([0-9]+)% of the file, ([0-9,]+) packets/s\x1b\[K")
shown = [(int(p.replace(",", "")), int(c), int(r.replace(",", ""))) for p, c, r in line.findall(raw)]
if len(shown) < 2:
    fail("a replay of several seconds on a terminal showed %d progress lines: %r" % (len(shown), raw[:400]))
if any(b[0] < a[0] or b[1] < a[1] for a, b in zip(shown, shown[1:])):
    fail("progress went backwards: %r" % shown)
if shown[-1][0] > N or shown[-1][1] > 100 or not all(r > 0 for _, _, r in shown):
    fail("progress out of range: %r" % shown[-1])
last = raw.rfind("packets/s\x1b[K")
tail = raw[last + len("packets/s\x1b[K"):]
if not re.match(r"\r\x1b\[Kscanwatch: replayed %d packets" % N, tail):
    fail("the progress line is not erased before the summary: %r" % tail[:120])
screen = open(T + "/big.screen").read()
if "% of the file" in screen or "replayed %d packets" % N not in screen:
    fail("the final screen: %r" % screen)
short = open(T + "/short.raw", "rb").read().decode("utf-8", "replace")
if "% of the file" in short or "replayed 2000 packets" not in short:
    fail("a replay shorter than a second showed progress: %r" % short[:300])
err = open(T + "/file.err").read()
if "\r" in err or "\x1b" in err or "% of the file" in err or "\nscanwatch: replayed %d packets" % N not in err:
    fail("stderr a file: want the verdicts and the summary only, got %r" % err[-300:])
# On the terminal a verdict printed while the line was shown starts on a
# line of its own: the progress line was erased first.
for m in re.finditer(r"packets/s\x1b\[K", raw):
    nxt = raw[m.end():m.end() + 20]
    if not (nxt.startswith("\r") or nxt == ""):
        fail("something was printed after the progress line without erasing it: %r" % raw[m.end():m.end() + 80])
if raw.replace("\r\n", "\n").count("\nscanwatch: 198.18.1.") + raw.startswith("scanwatch: 198") < 200:
    fail("the verdict lines are missing from the terminal")
# The same events either way. (Replay's stream of re-reports is not the same
# line for line from run to run, progress or not: compare what it concludes,
# the summary and each scanner's kinds.)
def outcome(path):
    done, kinds = None, {}
    for l in open(path):
        e = json.loads(l)
        if e["event"] == "replay_done":
            done = {k: v for k, v in e.items() if k not in ("seconds", "packets_per_second")}
        elif e["event"] == "scan":
            kinds.setdefault(e["src"], set()).update(e["kinds"])
    return done, kinds
a, b = outcome(T + "/big.json"), outcome(T + "/file.json")
if a != b or not a[0] or len(a[1]) != 256:
    fail("the JSON differs between a terminal and a file: %r vs %r" % (a[0], b[0]))
print("PASS replay progress: %d lines on a terminal (%d%% .. %d%%, last %s packets/s), none on a file or a short replay; the same %d scanners"
      % (len(shown), shown[0][1], shown[-1][1], format(shown[-1][2], ","), len(a[1])))
PY
