#!/usr/bin/env bash
# The man page, the bash completion and the example config follow the
# program: every subcommand and option that `scanwatch --help` shows is in
# scanwatch(8) and completes; every config key of the schema is in the example
# and in the man page; every kind, evidence counter and JSON event the code
# can emit is in the man page. Needs no privileges.
# Usage: docs.sh SOURCE_DIR   (SCANWATCH = the built binary)
set -euo pipefail
SRC=${1:?source dir}
SCANWATCH=${SCANWATCH:?set SCANWATCH to the scanwatch binary}
MAN="$SRC/packaging/scanwatch.8"
COMPLETION="$SRC/packaging/scanwatch.bash-completion"
EXAMPLE="$SRC/packaging/scanwatch.toml"
errors=0
bad() { echo "FAIL: $*" >&2; errors=$((errors + 1)); }

# roff escapes \- for every dash of an option name
man_has() { grep -qF -- "${1//-/\\-}" "$MAN"; }

# --- subcommands and their options, from CLI11's help ----------------------
subcommands=$("$SCANWATCH" --help | awk '/^Subcommands:/{on=1; next} on && /^  [a-z]/{print $1}')
[ -n "$subcommands" ] || bad "no subcommands in 'scanwatch --help'"
# options of a help text: "-i,--iface TEXT ...", "--json TEXT", "-h,--help"
options_of() {
  "$SCANWATCH" "$@" --help | sed -n 's/^  \(-[-a-zA-Z0-9,]*\).*/\1/p' | tr ',' '\n' | grep -v '^$' | sort -u
}
[ "$(options_of run | grep -c .)" -ge 10 ] || bad "could not read the options of 'scanwatch run --help'"

# completion: source it the way bash-completion does, then ask it
if [ -r /usr/share/bash-completion/bash_completion ]; then
  # shellcheck disable=SC1091
  source /usr/share/bash-completion/bash_completion
else
  bad "bash-completion is not installed (scripts/install-deps.sh installs it)"
fi
# shellcheck disable=SC1090
source "$COMPLETION"
complete_words() {  # complete_words WORD... : completions of the last word
  COMP_WORDS=(scanwatch "$@")
  COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
  COMP_LINE="${COMP_WORDS[*]}"
  COMP_POINT=${#COMP_LINE}
  COMPREPLY=()
  _scanwatch scanwatch "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
  printf '%s\n' "${COMPREPLY[@]}"
}

got=$(complete_words "" | sort | tr '\n' ' ')
want=$(sort <<<"$subcommands" | tr '\n' ' ')
[ "$got" = "$want" ] || bad "completion of subcommands: got '$got', want '$want'"

for sub in $subcommands; do
  grep -q "^\.B $sub\b" "$MAN" || bad "scanwatch(8) does not describe the subcommand '$sub'"
  grep -q "^\.B $sub$" "$MAN" || grep -q "^\.B $sub \\\\fI" "$MAN" || bad "scanwatch(8) has no synopsis/command entry for '$sub'"
  offered=$(complete_words "$sub" "-")
  for opt in $(options_of "$sub"); do
    man_has "$opt" || bad "scanwatch(8) does not mention '$sub $opt'"
    [ "$opt" = -h ] && continue  # --help is offered
    grep -qxF -- "$opt" <<<"$offered" || bad "bash completion does not offer '$sub $opt'"
  done
done

# values the completion knows
got=$(complete_words run --xdp-mode "" | sort | tr '\n' ' ')
[ "$got" = "auto generic native " ] || bad "completion of --xdp-mode: '$got'"
got=$(complete_words run -i "")
for ifc in /sys/class/net/*; do
  grep -qxF "${ifc##*/}" <<<"$got" || bad "completion of -i lacks interface ${ifc##*/}"
done
tmpd=$(mktemp -d)
trap 'rm -rf "$tmpd"' EXIT
touch "$tmpd/a.toml" "$tmpd/b.pcapng" "$tmpd/c.txt"
got=$(cd "$tmpd" && complete_words run --config "" | sort | tr '\n' ' ')
[ "$got" = "a.toml " ] || bad "completion of --config should offer the .toml file: '$got'"
got=$(cd "$tmpd" && complete_words replay "" | sort | tr '\n' ' ')
[ "$got" = "b.pcapng " ] || bad "completion of replay FILE should offer the capture: '$got'"
got=$(cd "$tmpd" && complete_words run --json "" | sort | tr '\n' ' ')
[ "$got" = "- a.toml b.pcapng c.txt " ] || bad "completion of run --json should offer - and files: '$got'"

# --- the config schema (issue 8), the example and the man page --------------
schema="agent.interfaces agent.xdp_mode agent.socket agent.socket_group agent.pin_dir agent.sweep_ms agent.max_sources
agent.duration detect.min_ports detect.min_hosts detect.alert_score detect.probe_timeout
block.enabled block.ttl block.score block.unverified block.fast_path block.max_blocks
block.max_new_per_sec block.state_file block.allow output.json output.syslog
output.metrics_listen output.quiet crowdsec.lapi_url crowdsec.machine_id crowdsec.machine_password_file
crowdsec.machine_password crowdsec.bouncer_key_file crowdsec.bouncer_key crowdsec.pull_interval
crowdsec.origins crowdsec.scenarios_containing crowdsec.scenarios_not_containing"
example_keys=$(python3 - "$EXAMPLE" <<'PY'
import sys, tomllib
with open(sys.argv[1], "rb") as f:
    d = tomllib.load(f)
for table, keys in d.items():
    for k in keys:
        print(f"{table}.{k}")
PY
) || bad "the example config is not valid TOML"
got=$(tr ' ' '\n' <<<"$example_keys" | sort | tr '\n' ' ')
want=$(tr ' \n' '\n\n' <<<"$schema" | grep -v '^$' | sort | tr '\n' ' ')
[ "$got" = "$want" ] || bad "example config keys differ from the schema: got '$got', want '$want'"
for k in $want; do
  table=${k%%.*} key=${k#*.}
  grep -q "^\.SS \[$table\]" "$MAN" || bad "scanwatch(8) has no [$table] section"
  grep -q "^\.BR ${key//_/_} " "$MAN" || bad "scanwatch(8) does not describe the key $k"
  # each key says whether SIGHUP applies it
  python3 - "$EXAMPLE" "$table" "$key" <<'PY' || bad "example config: $k does not say whether SIGHUP applies it"
import re, sys
path, table, key = sys.argv[1:]
text = open(path).read()
section = text.split(f"[{table}]", 1)[1]
comment = re.search(r"((?:^#.*\n)+)" + re.escape(key) + r" =", section, re.M)
sys.exit(0 if comment and "SIGHUP:" in comment.group(1) else 1)
PY
done

# --- kinds, evidence counters and events the code emits ---------------------
kinds=$(sed -n '/kKindNames\[kKindCount\] = {/,/};/p' "$SRC/userspace/detect/detector.cpp" | grep -o '"[a-z-]*"' | tr -d '"')
[ "$(grep -c . <<<"$kinds")" -ge 16 ] || bad "could not read the kinds from detector.cpp"
for k in $kinds; do
  grep -q "^\.B ${k//-/\\\\-}$" "$MAN" || grep -q "^\.BR .*\b${k//-/\\\\-}\b" "$MAN" ||
    bad "scanwatch(8) KINDS lacks '$k'"
done
# the evidence names: the second column of abi.h's SW_COUNTERS table
counters=$(grep -oE '^\s*X\([A-Z_]+, *"[a-z_0-9]+"' "$SRC/include/scanwatch/abi.h" | grep -oE '"[a-z_0-9]+"' | tr -d '"')
[ "$(grep -c . <<<"$counters")" -ge 32 ] || bad "could not read the evidence counters from abi.h's SW_COUNTERS"
for c in $counters timeouts decoy; do
  sed -n '/^\.SH EVIDENCE/,/^\.SH /p' "$MAN" | grep -qw -- "$c" || bad "scanwatch(8) EVIDENCE lacks '$c'"
done
events=$(grep -rhoE '("event"\]? ?= ?"|\{"event", ")[a-z_]+' "$SRC/userspace" | grep -oE '[a-z_]+$' | sort -u)
# block and unblock events get their name from a variable
events=$(printf '%s\nblock\nunblock\n' "$events" | sort -u)
[ "$(grep -c . <<<"$events")" -ge 6 ] || bad "could not read the event names from userspace/"
for e in $events; do
  grep -q "^\.SS $e$" "$MAN" || bad "scanwatch(8) EVENTS lacks '$e'"
done

if [ "$errors" -gt 0 ]; then
  echo "docs.sh: $errors problems" >&2
  exit 1
fi
echo "docs.sh: $(wc -w <<<"$subcommands") subcommands, $(wc -w <<<"$want") config keys, $(wc -w <<<"$kinds") kinds, $(wc -w <<<"$events") events: all documented"
