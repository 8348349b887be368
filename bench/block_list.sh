#!/usr/bin/env bash
# The block list at scale (issue 15): blocks added per second through the
# control socket and from a CrowdSec decisions stream, with 1k, 10k and 100k
# blocks already in force, and the cost of listing them (blocks --json).
#
# One agent per size in a namespace with a veth (no traffic). The existing
# blocks come from a state file written beforehand (so the start-up's restore
# is timed too); the socket client is Python speaking the control protocol
# (one connection per request, as `scanwatch block` does, without its exec);
# the decisions stream is a small HTTP server answering like LAPI 1.4.6
# (startup=true: the existing decisions; the next pull: ADD new ones), so the
# figure is the agent's, not the LAPI's (see tests/integration/crowdsec.sh for
# the real LAPI).
# Usage: block_list.sh [--smoke]   (SCANWATCH = the built binary; SW_BL_SIZES="1000 10000
# 100000" the existing blocks per row, SW_BL_ADD=2000 the blocks sent through the socket)
set -euo pipefail
SCANWATCH=${SCANWATCH:?set SCANWATCH to the scanwatch binary}
SIZES=${SW_BL_SIZES:-1000 10000 100000}
ADD=${SW_BL_ADD:-2000}   # blocks per socket run
ADD_STREAM=10000
if [ "${1:-}" = --smoke ]; then SIZES="1000"; ADD=200; ADD_STREAM=500; fi
ID=swb$$
NS=$ID-bl
WORK=$(mktemp -d "/tmp/$ID.XXXX")
AGENT=""
FEED=""
cleanup() {
  set +e
  [ -n "$AGENT" ] && kill -INT "$AGENT" 2>/dev/null && wait "$AGENT" 2>/dev/null
  [ -n "$FEED" ] && kill "$FEED" 2>/dev/null
  ip netns pids "$NS" 2>/dev/null | xargs -r kill -9 2>/dev/null
  ip netns del "$NS" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
ip netns add "$NS"
ip -n "$NS" link set lo up
ip -n "$NS" link add bl0 type veth peer name bl1
ip -n "$NS" addr add 198.18.9.1/24 dev bl0
ip -n "$NS" link set bl0 up; ip -n "$NS" link set bl1 up
echo "k-$RANDOM$RANDOM" >"$WORK/key"; chmod 600 "$WORK/key"

cat >"$WORK/bench.py" <<'EOF'
import json, socket, sys, time, threading, http.server

def addr(i):  # distinct targets: 198.19.0.0/16, then 2001:2:ff::/64
    j = i - 65536
    return "198.19.%d.%d" % (i >> 8 & 255, i & 255) if i < 65536 else "2001:2:ff::%x:%x" % (j >> 16, j & 0xffff)

def state(path, n):
    now = time.time_ns()
    with open(path, "w") as f:
        json.dump([{"target": addr(i) + ("/32" if i < 65536 else "/128"), "expires_wall_ns": now + 3600 * 10**9,
                    "created_wall_ns": now, "reason_code": 1, "reason": "manual"} for i in range(n)], f)

def ask(sock, req):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sock)
    s.sendall((json.dumps(req) + "\n").encode())
    buf = b""
    while not buf.endswith(b"\n"):
        chunk = s.recv(1 << 20)
        if not chunk:
            break
        buf += chunk
    s.close()
    return json.loads(buf)

def socket_rate(sock, first, n):
    t = time.perf_counter()
    for i in range(first, first + n):
        r = ask(sock, {"cmd": "block", "target": addr(i)})
        assert r.get("ok"), r
    return n / (time.perf_counter() - t)

def list_time(sock):
    t = time.perf_counter()
    r = ask(sock, {"cmd": "blocks"})
    return time.perf_counter() - t, len(r["blocks"])

class Feed(http.server.BaseHTTPRequestHandler):
    existing, add, pulls = 0, 0, 0
    def log_message(self, *a): pass
    def do_GET(self):
        cls = type(self)
        def dec(i):
            return {"duration": "59m59.5s", "id": i + 1, "origin": "bench", "scenario": "bench",
                    "scope": "Ip", "type": "ban", "value": "2001:2:fe::%x:%x" % ((i + 1) >> 16, (i + 1) & 0xffff)}
        if "startup=true" in self.path:
            body = {"new": [dec(i) for i in range(cls.existing)], "deleted": None}
        elif cls.pulls == 1:
            cls.t_sent = time.time()
            body = {"new": [dec(i) for i in range(cls.existing, cls.existing + cls.add)], "deleted": None}
        else:
            body = {"new": None, "deleted": None}
        cls.pulls += 1
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        if cls.pulls == 2:
            open(sys.argv[3], "w").write("%.6f\n" % cls.t_sent)

if __name__ == "__main__":
    if sys.argv[1] == "state":
        state(sys.argv[2], int(sys.argv[3]))
    elif sys.argv[1] == "socket":
        print("%.0f" % socket_rate(sys.argv[2], int(sys.argv[3]), int(sys.argv[4])))
    elif sys.argv[1] == "list":
        t, n = list_time(sys.argv[2])
        print("%.3f %d" % (t, n))
    elif sys.argv[1] == "feed":
        Feed.existing, Feed.add = int(sys.argv[4]), int(sys.argv[5])
        http.server.ThreadingHTTPServer(("198.18.9.1", int(sys.argv[2])), Feed).serve_forever()
EOF

start_agent() {  # start_agent STATEDIR [args]: waits for "started"
  local d=$1; shift
  mkdir -p "$d"; chmod 700 "$d"
  : >"$d/ev.json"
  ip netns exec "$NS" "$SCANWATCH" run -i bl0 --json "$d/ev.json" --socket "$d/sock" --pin-dir "/sys/fs/bpf/$ID" \
    --state-file "$d/blocks.json" --max-blocks 1000000 -q "$@" 2>"$d/err" &
  AGENT=$!
  for _ in $(seq 600); do grep -q '"event":"started"' "$d/ev.json" 2>/dev/null && return 0; sleep 0.05; done
  cat "$d/err" >&2; echo "agent did not start" >&2; exit 1
}
stop_agent() { kill -INT "$AGENT"; wait "$AGENT" || true; AGENT=""; }

printf '%-9s %-12s %-14s %-16s %-14s %-18s\n' existing restore_s socket_adds/s blocks_json_s stream_adds/s stream_startup_s
for n in $SIZES; do
  d="$WORK/s$n"; mkdir -p "$d"; chmod 700 "$d"
  python3 "$WORK/bench.py" state "$d/blocks.json" "$n"
  t0=$(date +%s.%N)
  start_agent "$d"
  t1=$(date +%s.%N)
  rate=$(python3 "$WORK/bench.py" socket "$d/sock" 300000 "$ADD")
  read -r lt rows < <(python3 "$WORK/bench.py" list "$d/sock")
  [ "$rows" -ge "$n" ] || { echo "blocks --json gave $rows rows" >&2; exit 1; }
  stop_agent
  # the decisions stream: startup brings n, the next pull ADD_STREAM more
  port=$((20000 + n % 9973))
  ip netns exec "$NS" python3 "$WORK/bench.py" feed "$port" "$d/sent" "$n" "$ADD_STREAM" &
  FEED=$!
  # the agent's first pull must find it listening (else a 4 s back-off is measured)
  ip netns exec "$NS" python3 - "$port" <<'EOF'
import socket, sys, time
for _ in range(200):
    try:
        socket.create_connection(("198.18.9.1", int(sys.argv[1])), timeout=1).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.05)
sys.exit("the fake LAPI did not listen")
EOF
  rm -f "$d/blocks.json"
  ts0=$(date +%s.%N)
  start_agent "$d" --crowdsec-url "http://198.18.9.1:$port/" --crowdsec-key-file "$WORK/key" --crowdsec-pull-interval 2s
  srate=$(python3 - "$d/ev.json" "$d/sent" "$n" "$ADD_STREAM" "$ts0" <<'EOF'
import json, sys, time, os
from datetime import datetime
ev_path, sent_path, n, add, t_launch = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
deadline = time.time() + 120
def ts(e): return datetime.fromisoformat(e["ts"].replace("Z", "+00:00")).timestamp()
while time.time() < deadline:
    lines = open(ev_path).readlines()
    sync = [json.loads(l) for l in lines if '"event":"crowdsec_sync"' in l]
    blocks = [json.loads(l) for l in lines if '"by":"crowdsec"' in l and '"event":"block"' in l]
    if sync and len(blocks) >= add and os.path.exists(sent_path):
        break
    time.sleep(0.2)
else:
    sys.exit("stream: only %d blocks" % len(blocks))
if sync[0]["in_force"] != n:
    sys.exit("stream: the full list put %d blocks in force, want %d" % (sync[0]["in_force"], n))
startup = ts(sync[0]) - t_launch  # the full list in force (one crowdsec_sync event)
t_sent = float(open(sent_path).read())
took = ts(blocks[-1]) - t_sent
print("%.0f %.2f" % (add / took, startup))
EOF
)
  stop_agent
  kill "$FEED"; wait "$FEED" 2>/dev/null || true; FEED=""
  read -r stream_rate stream_startup <<<"$srate"
  printf '%-9s %-12.2f %-14s %-16s %-14s %-18s\n' "$n" "$(python3 -c "print($t1 - $t0)")" "$rate" "$lt" "$stream_rate" "$stream_startup"
done
