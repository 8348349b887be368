#!/usr/bin/env bash
# Gateway mode: scanner -- gw -- target in three namespaces, forwarding on in
# gw, the agent in gw on both interfaces (-i outside -i inside). The protected
# host's answers reach XDP as ingress on "inside"; TC egress ignores forwarded
# packets. The same scans must get the same kinds as in host mode.
#
#   scanner 198.18.1.2 / 2001:2:1::2 (sc0) -- outside 198.18.1.1 / 2001:2:1::1
#   inside 198.18.0.254 / 2001:2::fe -- target 198.18.0.1 / 2001:2::1 (tg0)
source "$(dirname "$0")/lib.sh"

GSCAN4=198.18.1.2 GSCAN6=2001:2:1::2

gw_lab_up() {
  trap lab_down EXIT
  for ns in "$NS_SCAN" "$NS_GW" "$NS_TGT"; do
    ip netns add "$ns"
    ip -n "$ns" link set lo up
  done
  ip link add sc0 netns "$NS_SCAN" type veth peer name outside netns "$NS_GW"
  ip link add inside netns "$NS_GW" type veth peer name tg0 netns "$NS_TGT"
  ip -n "$NS_SCAN" addr add "$GSCAN4/24" dev sc0
  ip -n "$NS_SCAN" -6 addr add "$GSCAN6/64" dev sc0 nodad
  ip -n "$NS_GW" addr add 198.18.1.1/24 dev outside
  ip -n "$NS_GW" -6 addr add 2001:2:1::1/64 dev outside nodad
  ip -n "$NS_GW" addr add 198.18.0.254/24 dev inside
  ip -n "$NS_GW" -6 addr add 2001:2::fe/64 dev inside nodad
  ip -n "$NS_TGT" addr add "$TGT4/24" dev tg0
  ip -n "$NS_TGT" -6 addr add "$TGT6/64" dev tg0 nodad
  ip -n "$NS_SCAN" link set sc0 up
  ip -n "$NS_GW" link set outside up
  ip -n "$NS_GW" link set inside up
  ip -n "$NS_TGT" link set tg0 up
  ip -n "$NS_SCAN" route add default via 198.18.1.1
  ip -n "$NS_SCAN" -6 route add default via 2001:2:1::1
  ip -n "$NS_TGT" route add default via 198.18.0.254
  ip -n "$NS_TGT" -6 route add default via 2001:2::fe
  ip netns exec "$NS_GW" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 >/dev/null
  lab_tune "$NS_TGT"
  ip netns exec "$NS_SCAN" ping -c1 -W2 "$TGT4" >/dev/null || fail "lab: no IPv4 route to the target"
  for _ in 1 2 3 4 5; do ip netns exec "$NS_SCAN" ping -6 -c1 -W1 "$TGT6" >/dev/null && break; sleep 0.5; done ||
    true
  ip netns exec "$NS_SCAN" ping -6 -c1 -W2 "$TGT6" >/dev/null || fail "lab: no IPv6 route to the target"
}

P="-p 1-200,2222"
CASES=$(cat <<EOF
gw-syn     | $GSCAN4 | syn                    | nmap | -sS $P -Pn $TGT4
gw-connect | $GSCAN4 | connect                | unknown | -sT $P -Pn $TGT4
gw-version | $GSCAN4 | syn,service-detect,rpc | nmap | -sV $P -Pn $TGT4
gw-udp     | $GSCAN4 | udp                    | nmap | -sU $P -Pn $TGT4
gw-syn6    | $GSCAN6 | syn                    | nmap | -6 -sS $P -Pn $TGT6
EOF
)

gw_lab_up; start_services
AGENT_NS=$NS_GW
AGENT_IFACES="-i outside -i inside"
run_cases <<<"$CASES"
# the target never appears as a scanner (its answers are not probes)
for f in "$WORK"/gw-*.json; do
  ! grep '"event":"scan"' "$f" | grep -q "\"src\":\"\\($TGT4\\|$TGT6\\)\"" || fail "target reported in $f"
done
echo "PASS gateway ($CASES_RUN cases${CASES_FAILED:+; explore mode, wrong: $CASES_FAILED})"
