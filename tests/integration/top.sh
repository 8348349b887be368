#!/usr/bin/env bash
# `scanwatch top` live, in a tmux pane (120x30) on its own tmux server: the
# scanner's row appears with its kind while nmap runs; Enter opens the
# details; b blocks it (TTL, then y), u unblocks it; the view survives a
# resize to 80x24; q ends it with exit code 0. `top --once --json`, `--once`
# and a pipe print snapshots; no agent is one line and exit 1.
# SW_TOP_SCREEN=FILE keeps a capture of the screen taken during the scan.
source "$(dirname "$0")/lib.sh"
command -v tmux >/dev/null || fail "tmux is not installed (scripts/install-deps.sh)"
TM="${ID}-top"
SOCK="$WORK/sw.sock"
tm() { tmux -L "$TM" "$@"; }
cleanup() {
  tm kill-server 2>/dev/null || true
  lab_down
}
lab_up
trap cleanup EXIT
start_services
start_agent  # lib.sh keeps this lab's blocks in $WORK/blocks.json

screen() { tm capture-pane -p -t top 2>/dev/null || true; }
keys() { tm send-keys -t top "$@"; }
# wait_screen REGEX [seconds]: until the pane shows a line matching REGEX
wait_screen() {
  local pat=$1 secs=${2:-10}
  for _ in $(seq $((secs * 10))); do
    screen | grep -qE -- "$pat" && return 0
    sleep 0.1
  done
  echo "--- screen:" >&2; screen >&2
  fail "the screen never showed /$pat/ within ${secs}s"
}
row() { screen | grep -E "^ ?198\.18\.0\.2 " | head -1; }

# 1. no agent: one clear line, exit 1
set +e
out=$("$SCANWATCH" top --socket "$WORK/nobody.sock" 2>&1 </dev/null); rc=$?
set -e
[ "$rc" = 1 ] || fail "no agent: exit $rc, want 1"
[ "$(echo "$out" | wc -l)" = 1 ] || fail "no agent: not one line: $out"
echo "$out" | grep -q "no scanwatch agent is listening on $WORK/nobody.sock" || fail "unclear error: $out"

# 2. the live view while nmap scans (about 7 s at 300 probes/s)
tm new-session -d -s top -x 120 -y 30 \
  "'$SCANWATCH' top --socket '$SOCK' -d 0.5; echo \$? > '$WORK/top.rc'"
wait_screen '^SOURCE +KINDS +TOOL +PORTS +HOSTS +PROBES/s +FAILED% +FIRST +LAST +STATE'
wait_screen '^q quit'
in_scan nmap -n -Pn -sS --max-rate 300 -p 1-2000 "$TGT4" -oN "$WORK/nmap.txt" >/dev/null &
NMAP_PID=$!
wait_screen '^198\.18\.0\.2 +syn +nmap .* scanner' 10
sleep 1.5  # a few samples into the scan: a rate and a sparkline to show
log "live row: $(row)"
rate=$(row | awk '{print $6}')
if ! [[ "$rate" =~ ^[0-9]+(\.[0-9])?k?$ ]] || [ "$rate" = 0 ]; then fail "no probe rate during the scan: $(row)"; fi
[ -n "${SW_TOP_SCREEN:-}" ] && screen >"$SW_TOP_SCREEN"
screen | grep -qE '^packets/s [0-9]' || fail "no packets/s in the header"
screen | grep -q 'XDP .* on tg0' || fail "no XDP mode and interface in the header"

# 3. select it by filter, open the details
keys / 198.18.0.2 Enter
wait_screen "filter '198\.18\.0\.2'"
keys Enter
wait_screen 'details: 198\.18\.0\.2'
wait_screen '^ +syn +syn [0-9]+'
screen | grep -q 'port list is not kept' || fail "details do not say the port list is not kept"
screen | grep -q 'probes/s, last 60s: \[' || fail "no sparkline in the details"
screen | grep -q 'block: not blocked' || fail "details: block state missing"
wait $NMAP_PID || true

# 4. block it for 10 minutes: asks for the TTL, then for confirmation
keys b
wait_screen 'block 198\.18\.0\.2 for how long'
keys 10m Enter
wait_screen 'block 198\.18\.0\.2 for 10m\? \(y/n\)'
keys y
wait_screen '^198\.18\.0\.2 .* blocked (10m|9m)'
wait_screen 'block: manual on 198\.18\.0\.2/32, '
"$SCANWATCH" blocks --json --socket "$SOCK" | grep -q "\"$SCAN4/32\"" || fail "blocks --json does not list the scanner"
[ "$(in_scan curl -s -o /dev/null -w '%{http_code}' -m 2 "http://$TGT4/" || true)" != 200 ] ||
  fail "the blocked scanner still reaches the web server"

# 5. unblock it
keys u
wait_screen 'unblock 198\.18\.0\.2/32\? \(y/n\)'
keys y
wait_screen '^198\.18\.0\.2 .* scanner'
"$SCANWATCH" blocks --json --socket "$SOCK" | grep -q "\"$SCAN4/32\"" && fail "still blocked after u"

# 6. a resize to 80x24 keeps the row, the header and the legend
keys Escape
tm resize-window -t top -x 80 -y 24
wait_screen '^SOURCE +KINDS +TOOL'
wait_screen '^198\.18\.0\.2 +syn'
wait_screen '^q quit .* h help'
[ "$(screen | awk '{ if (length($0) > 80) n++ } END { print n + 0 }')" = 0 ] || fail "lines wider than 80"
# SCORE, the default sort key, is kept at 80 columns (other columns go first)
screen | grep -qE '^SOURCE .* SCORE *$' || fail "no SCORE column at 80 columns: $(screen | grep '^SOURCE')"

# the sort menu, opened and closed, leaves nothing of itself on the table:
# with sampling paused the screen is still, so what the pane shows after the
# menu closes must equal a fresh redraw (Ctrl-L), attributes included (-e:
# a cell left in reverse video is a fragment too). Each way out of the menu,
# with and without the details pane.
keys p
wait_screen 'PAUSED|paused'
# cells() prints the pane cell by cell with what shows of each: the
# character, and reverse/underline/background (bold and the foreground show
# on a blank only through those); trailing blanks that show nothing go.
cells() {
  tm capture-pane -e -p -t top | python3 -c '
import re, sys
for line in sys.stdin.read().split("\n"):
    rev = ul = False; bg = ""; out = []
    for tok in re.split(r"(\x1b\[[0-9;]*m)", line):
        if tok.startswith("\x1b["):
            codes = [int(c) if c else 0 for c in tok[2:-1].split(";")]
            i = 0
            while i < len(codes):
                c = codes[i]
                if c == 0: rev = ul = False; bg = ""
                elif c == 7: rev = True
                elif c == 27: rev = False
                elif c == 4: ul = True
                elif c == 24: ul = False
                elif 40 <= c <= 47 or 100 <= c <= 107: bg = str(c)
                elif c == 49: bg = ""
                elif c in (38, 48):
                    n = 3 if codes[i + 1] == 5 else 5
                    if c == 48: bg = ";".join(map(str, codes[i:i + n]))
                    i += n - 1
                i += 1
        else:
            for ch in tok:
                out.append(ch + ("R" if rev else "") + ("U" if ul else "") + ("B" + bg if bg else ""))
    while out and out[-1] == " ":
        out.pop()
    print("|".join(out))'
}
settled() {  # the pane's cells once two captures 0.2 s apart agree
  local a b
  b=$(cells)
  for _ in $(seq 20); do sleep 0.2; a=$b; b=$(cells); [ "$a" = "$b" ] && break; done
  printf '%s\n' "$b"
}
menu_leaves_nothing() {  # WHAT details|table KEYS-TO-CLOSE...
  local what=$1 under=$2; shift 2
  keys Escape  # no message left to expire between the two captures; details closed
  if [ "$under" = details ]; then keys Enter; wait_screen 'details: '; fi
  keys s
  wait_screen 'sort by:'
  keys "$@"
  for _ in $(seq 50); do screen | grep -q 'sort by:' || break; sleep 0.1; done
  settled >"$WORK/menu.after"
  keys C-l
  settled >"$WORK/menu.redraw"
  if ! diff "$WORK/menu.after" "$WORK/menu.redraw" >"$WORK/menu.diff"; then
    echo "--- after closing the menu ($what), then after Ctrl-L:" >&2
    sed -n '1,40p' "$WORK/menu.diff" | tr -d '|' | cut -c1-200 >&2
    fail "the sort menu left fragments on the screen ($what)"
  fi
}
menu_leaves_nothing "Down Enter" table Down Enter
menu_leaves_nothing "Esc" table Escape
menu_leaves_nothing "s" table s
menu_leaves_nothing "Up Enter, details open" details Up Enter
menu_leaves_nothing "q, details open" details q
keys Escape p
wait_screen '^q quit'

# 7. help, then q: the process ends with 0
keys h
wait_screen 'press any key to go back'
keys x
wait_screen '^q quit'
keys q
for _ in $(seq 50); do tm has-session -t top 2>/dev/null || break; sleep 0.1; done
tm has-session -t top 2>/dev/null && fail "top did not end on q"
[ "$(cat "$WORK/top.rc" 2>/dev/null)" = 0 ] || fail "top exit code $(cat "$WORK/top.rc" 2>/dev/null) after q"

# 8. snapshots for scripts
"$SCANWATCH" top --once --json --socket "$SOCK" >"$WORK/once.json"
python3 - "$WORK/once.json" "$SCAN4" <<'PY' || fail "top --once --json does not list the scanner: $(cat "$WORK/once.json")"
import json, sys
j = json.load(open(sys.argv[1]))
rows = [s for s in j["sources"] if s["src"] == sys.argv[2]]
assert rows and "syn" in rows[0]["kinds"] and rows[0]["scanner"], rows
assert j["totals"]["scanners_now"] >= 1 and j["totals"]["packets"] > 0, j["totals"]
PY
"$SCANWATCH" top --once --socket "$SOCK" | grep -qE '^198\.18\.0\.2 +syn +nmap' || fail "top --once has no scanner row"
# not a terminal: a snapshot, not a hanging full-screen view
timeout 5 "$SCANWATCH" top --socket "$SOCK" </dev/null | grep -qE '^198\.18\.0\.2 +syn' ||
  fail "top without a terminal did not print a snapshot"

stop_agent
echo "PASS top"
