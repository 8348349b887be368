#!/usr/bin/env bash
# Bad input: one clear line on stderr naming the problem, exit 2 for usage
# errors and 1 for runtime ones (missing files, no agent). Runs without a lab;
# interfaces that are down and a second agent are in cleanup.sh / faults.sh.
set -u
SCANWATCH=${SCANWATCH:?}
T=$(mktemp -d /tmp/sw-bad.XXXX)
trap 'rm -rf "$T"' EXIT
expect() {
  local want=$1 pattern=$2; shift 2
  out=$("$SCANWATCH" "$@" 2>&1 >/dev/null); rc=$?
  [ "$rc" = "$want" ] || { echo "FAIL: '$*' exit $rc, want $want: $out"; exit 1; }
  [ "$(printf '%s\n' "$out" | wc -l)" = 1 ] || { echo "FAIL: '$*' printed more than one line: $out"; exit 1; }
  printf '%s' "$out" | grep -q -- "$pattern" || { echo "FAIL: '$*' said: $out"; exit 1; }
}
expect 2 "does not exist" run -i nosuch0
expect 2 "xdp-mode" run -i lo --xdp-mode turbo
expect 2 "not an IPv4 or IPv6" run -i lo --allow 300.1.2.3/8 --duration 1
expect 2 "prefix length" run -i lo --allow 198.18.0.0/33 --duration 1
expect 2 "duration" run -i lo --probe-timeout 5x
expect 2 "unknown command 'frobnicate'" frobnicate
expect 2 "at least one interface" run
expect 2 "cannot read the config file" run --config /nonexistent/sw.toml
expect 2 "unknown key" run --config <(printf "[detect]\nmin_prots = 5\n")
# addresses, CIDRs, TTLs, durations
expect 2 "'300.1.2.3' is not an IPv4 or IPv6" block 300.1.2.3
expect 2 "'2001:2::/129' has a bad prefix length" block 2001:2::/129
expect 2 "'198.18.0.0/33' has a bad prefix length" unblock 198.18.0.0/33
expect 2 "'nonsense' is not an IPv4 or IPv6" unblock nonsense
expect 2 "target is required" block
expect 2 "\-\-ttl: '5x' is not a duration" block 198.18.0.5 --ttl 5x
expect 2 "\-\-ttl: '-1' is not a duration" block 198.18.0.5 --ttl -1
expect 2 "\-\-block-ttl: '0x' is not a duration" run -i lo --block-ttl 0x
expect 2 "\-\-duration: 'abc' is not a duration" run -i lo --duration abc
expect 2 "\-\-duration: '-1' is not a duration" run -i lo --duration -1
expect 2 "\-\-duration: '0' is not a duration (must be positive" run -i lo --duration 0
# durations take units everywhere: the interface check comes after the flags were accepted
expect 2 "interface 'nosuch0' does not exist" run -i nosuch0 --duration 1h
expect 2 "interface 'nosuch0' does not exist" run -i nosuch0 --duration 90
expect 2 "interface 'nosuch0' does not exist" run --config <(printf "[agent]\ninterfaces = [\"nosuch0\"]\nduration = \"2m\"\n[block]\nttl = 3600\n[detect]\nprobe_timeout = 2.5\n")
expect 2 "block.ttl" run --config <(printf "[block]\nttl = -5\n")
# numbers in scanwatch's words, not CLI11's ("Value abc not in range 1 to 65536")
expect 2 "^scanwatch: \-\-min-ports: 'abc' is not a whole number (1-65536)$" run -i lo --min-ports abc
expect 2 "^scanwatch: \-\-min-ports: '0' is out of range (1-65536)$" run -i lo --min-ports 0
expect 2 "^scanwatch: \-\-delay: '0.05' is out of range (0.1 to 3600)$" top --delay 0.05
expect 2 "^scanwatch: \-\-alert-score: 'high' is not a number (0.5 to 1)$" replay x.pcap --alert-score high
expect 2 "^scanwatch: \-\-threads: '-1' is not a whole number (0-256)$" replay x.pcap --threads -1
expect 2 "\-\-max-sources" run -i lo --max-sources 12
expect 2 "\-\-allow: 'nonsense'" run -i lo --allow nonsense
expect 2 "does not exist" run -i lo -i nosuch0 --duration 1
# CrowdSec's stream filters (checked before anything is attached)
CS="--crowdsec-url http://198.18.0.10:8080/ --crowdsec-key-file /nonexistent/key"
(umask 077; echo secret >"$T/key")
# shellcheck disable=SC2086
expect 2 "^scanwatch: \-\-crowdsec-origins: an empty word (a list is WORD,WORD,...)$" run -i lo $CS --crowdsec-origins cscli,,crowdsec
# shellcheck disable=SC2086
expect 2 "^scanwatch: \-\-crowdsec-origins: an empty word" run -i lo $CS --crowdsec-origins ,
# shellcheck disable=SC2086
expect 2 "^scanwatch: \-\-crowdsec-scenarios-containing: 'a.x09b' holds a byte" run -i lo $CS --crowdsec-scenarios-containing "$(printf 'a\tb')"
expect 2 "excludes every scenario \-\-crowdsec-scenarios-containing 'ssh-bf'" run -i lo --crowdsec-url http://198.18.0.10:8080/ \
  --crowdsec-key-file "$T/key" --crowdsec-scenarios-containing ssh-bf --crowdsec-scenarios-not-containing ssh
expect 2 "filters need \-\-crowdsec-key-file" run -i lo --crowdsec-url http://198.18.0.10:8080/ --crowdsec-machine m \
  --crowdsec-password-file "$T/key" --crowdsec-origins cscli
expect 2 "crowdsec.origins: expected an array of strings" run --config <(printf "[crowdsec]\norigins = \"cscli\"\n")
# capture files: missing, not a capture, an empty file
expect 1 "cannot open '$T/none.pcap'" replay "$T/none.pcap"
printf 'this is not a capture\n' > "$T/text.pcap"
expect 1 "'$T/text.pcap' is not a pcap or pcapng capture" replay "$T/text.pcap"
: > "$T/empty.pcap"
expect 1 "$T/empty.pcap" replay "$T/empty.pcap"
head -c 4096 /dev/urandom > "$T/random.pcapng"
expect 1 "$T/random.pcapng" replay "$T/random.pcapng"
# no agent on the socket, for every client command
for cmd in status blocks "top --once" "block 198.18.0.5" "unblock 198.18.0.5"; do
  # shellcheck disable=SC2086
  expect 1 "no scanwatch agent is listening on $T/no.sock" $cmd --socket "$T/no.sock"
done
# a socket path that is something else
expect 1 "no scanwatch agent is listening on $T" status --socket "$T"
# a stuck agent: it listens but never accepts, its backlog full. Every client
# command gives up after 3 s with one line (it used to hang in connect()).
python3 - "$T/stuck.sock" <<'PY' &
import os, socket, sys, time
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(0)
held = []
for _ in range(4):  # fill the backlog
    c = socket.socket(socket.AF_UNIX); c.setblocking(False)
    try: c.connect(sys.argv[1])
    except OSError: pass
    held.append(c)
open(sys.argv[1] + ".ready", "w").close()
time.sleep(60)
PY
STUCK=$!
for _ in $(seq 50); do [ -e "$T/stuck.sock.ready" ] && break; sleep 0.1; done
for cmd in status "block 198.18.0.5"; do
  t0=$(date +%s%N)
  # shellcheck disable=SC2086
  expect 1 "the agent on $T/stuck.sock did not answer within 3 s" $cmd --socket "$T/stuck.sock"
  ms=$((($(date +%s%N) - t0) / 1000000))
  [ "$ms" -lt 6000 ] || { echo "FAIL: '$cmd' against a stuck agent took $ms ms"; exit 1; }
done
kill "$STUCK"
echo "PASS bad_input"
