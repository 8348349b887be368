#!/usr/bin/env bash
# Installs everything scanwatch needs to build, test and demo, from Debian's
# packages. Idempotent; needs root (apt-get). Set SCANWATCH_SKIP_APT=1 to skip.
set -euo pipefail

packages=(
  # build
  build-essential cmake ninja-build pkg-config clang llvm
  libbpf-dev bpftool libelf-dev zlib1g-dev
  libcli11-dev nlohmann-json3-dev libtomlplusplus-dev libpcap-dev libncurses-dev
  libcpp-httplib-dev
  libgtest-dev
  # libFuzzer and the ASan/UBSan runtimes for clang (only recommended by clang)
  libclang-rt-dev
  # lab, tests and demo
  iproute2 iputils-ping nmap ncat curl tcpdump tmux procps python3
  # the xdp-filter column of bench/prog_bench.cpp
  xdp-tools
  # the other scanners the live tests run (tool attribution)
  hping3 masscan zmap
  # packaging tests: cpack's dpkg-shlibdeps (dpkg-dev), systemd-analyze verify,
  # the completion's helpers, man page lint
  dpkg-dev systemd bash-completion groff-base
  # the CrowdSec test: a private Local API (crowdsec -no-cs) and cscli
  crowdsec
)

# --list: print the package names, one a line (tests/package/deps.py reads them)
if [ "${1:-}" = --list ]; then
  printf '%s\n' "${packages[@]}"
  exit 0
fi
if [ "${SCANWATCH_SKIP_APT:-0}" = 1 ]; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "install-deps: run as root (apt-get install)" >&2
  exit 1
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# crowdsec's postinst registers with CrowdSec's central API and fails offline
# unless this file exists and is not empty; scanwatch only uses a private LAPI.
if [[ " ${missing[*]} " == *" crowdsec "* && ! -s /etc/crowdsec/online_api_credentials.yaml ]]; then
  mkdir -p /etc/crowdsec
  echo "# offline: no central API (written by scanwatch's install-deps.sh)" >/etc/crowdsec/online_api_credentials.yaml
fi
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
