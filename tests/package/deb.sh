#!/usr/bin/env bash
# `cpack -G DEB` builds a .deb whose metadata and contents are right: name,
# version, architecture, section, maintainer, description; Depends naming the
# package of every shared library the binary links (dpkg-shlibdeps), among
# them libbpf1 and libpcap0.8; the config as a conffile; maintainer scripts
# that are executable shell; the files in their places and the binary the
# one that was built. Needs no privileges (a few seconds).
# Usage: deb.sh BUILD_DIR SOURCE_DIR VERSION   (SCANWATCH = the built binary)
set -euo pipefail
BUILD=${1:?build dir} SRC=${2:?source dir} VERSION=${3:?version}
SCANWATCH=${SCANWATCH:?set SCANWATCH to the scanwatch binary}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

(cd "$tmp" && cpack -G DEB --config "$BUILD/CPackConfig.cmake" -B "$tmp/out" >"$tmp/cpack.log" 2>&1) ||
  { cat "$tmp/cpack.log" >&2; fail "cpack -G DEB failed"; }
arch=$(dpkg --print-architecture)
deb="$tmp/out/scanwatch_${VERSION}_${arch}.deb"
[ -f "$deb" ] || fail "no $deb; cpack made: $(ls "$tmp/out")"

field() { dpkg-deb -f "$deb" "$1"; }
[ "$(field Package)" = scanwatch ] || fail "Package: $(field Package)"
[ "$(field Version)" = "$VERSION" ] || fail "Version: $(field Version)"
[ "$(field Architecture)" = "$arch" ] || fail "Architecture: $(field Architecture)"
[ "$(field Section)" = net ] || fail "Section: $(field Section)"
[[ "$(field Maintainer)" =~ ^[^\<]+\ \<[^@\>]+@[^\>]+\>$ ]] || fail "Maintainer: $(field Maintainer)"
desc=$(field Description)
[[ "$(head -1 <<<"$desc")" == "detect and block nmap port scans with XDP" ]] || fail "Description synopsis: $desc"
[ "$(wc -l <<<"$desc")" -ge 3 ] || fail "Description has no long text: $desc"

# Depends: the package of every library the binary needs, versioned by shlibs
depends=$(field Depends)
pkgs=$(tr ',' '\n' <<<"$depends" | sed 's/^ *//; s/ .*//')
for p in libbpf1 libpcap0.8 libc6 libstdc++6; do
  grep -qx "$p" <<<"$pkgs" || fail "Depends lacks $p: $depends"
done
grep -q 'libbpf1 (>= ' <<<"$depends" || fail "Depends has no version for libbpf1: $depends"
for lib in $(readelf -d "$SCANWATCH" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p'); do
  path=$(ldconfig -p | awk -v l="$lib" '$1 == l && !p {p = $NF} END {print p}')
  [ -n "$path" ] || fail "cannot find $lib"
  # dpkg knows the path the package shipped: the symlink or its target
  owner=$( (dpkg -S "$path" 2>/dev/null || dpkg -S "$(readlink -f "$path")" 2>/dev/null || true) |
    awk -F: 'NR == 1 {print $1}')
  [ -n "$owner" ] || fail "no package owns $path ($lib)"
  grep -qx "$owner" <<<"$pkgs" || fail "Depends lacks $owner (for $lib): $depends"
done

# control members: conffiles and the maintainer scripts
dpkg-deb -e "$deb" "$tmp/control"
[ "$(cat "$tmp/control/conffiles")" = /etc/scanwatch/scanwatch.toml ] ||
  fail "conffiles: $(cat "$tmp/control/conffiles")"
for s in postinst prerm postrm; do
  [ -x "$tmp/control/$s" ] || fail "$s missing or not executable"
  sh -n "$tmp/control/$s" || fail "$s is not valid sh"
done
grep -q 'install -d -m 0700 /var/lib/scanwatch' "$tmp/control/postinst" || fail "postinst does not create /var/lib/scanwatch"
# postinst run in a scratch root: it makes the state directory (the systemctl
# calls are skipped: no /run/systemd/system there)
if grep -q '/var/lib/scanwatch' "$tmp/control/postinst"; then
  sed "s|/var/lib/scanwatch|$tmp/fakeroot/var/lib/scanwatch|g; s|/run/systemd/system|$tmp/nonexistent|g" \
    "$tmp/control/postinst" >"$tmp/postinst.test"
  sh "$tmp/postinst.test" configure "" || fail "postinst configure failed"
  [ "$(stat -c %a "$tmp/fakeroot/var/lib/scanwatch")" = 700 ] || fail "postinst: state directory mode"
fi

# contents: paths, owners, modes
listing=$(dpkg-deb -c "$deb")
for f in ./usr/sbin/scanwatch ./usr/lib/systemd/system/scanwatch.service ./usr/share/man/man8/scanwatch.8.gz \
         ./usr/share/bash-completion/completions/scanwatch ./usr/share/doc/scanwatch/examples/scanwatch.toml \
         ./etc/scanwatch/scanwatch.toml; do
  line=$(awk -v f="$f" '$6 == f' <<<"$listing")
  [ -n "$line" ] || fail "the .deb lacks $f"
  [ "$(awk '{print $2}' <<<"$line")" = root/root ] || fail "$f is not owned by root: $line"
done
awk '$6 == "./usr/sbin/scanwatch" {print $1}' <<<"$listing" | grep -qx -- '-rwxr-xr-x' || fail "binary mode"
dpkg-deb -x "$deb" "$tmp/x"
build_id() { readelf -n "$1" | sed -n 's/.*Build ID: *//p'; }
[ -n "$(build_id "$SCANWATCH")" ] && [ "$(build_id "$tmp/x/usr/sbin/scanwatch")" = "$(build_id "$SCANWATCH")" ] ||
  fail "the packaged binary is not the built one (build-id)"
readelf -S "$tmp/x/usr/sbin/scanwatch" | grep -q '\.debug_info' && fail "the packaged binary is not stripped"
[ "$("$tmp/x/usr/sbin/scanwatch" --version)" = "scanwatch $VERSION" ] || fail "packaged binary --version"
cmp -s "$tmp/x/etc/scanwatch/scanwatch.toml" "$SRC/packaging/scanwatch.toml" || fail "/etc config differs from the example"

echo "deb.sh: $(basename "$deb"), $(wc -l <<<"$listing") entries, Depends: $depends"
