#!/usr/bin/env bash
# `cmake --install` into a scratch DESTDIR puts exactly the expected files in
# the usual places, and each of them works: the binary runs and reports the
# project's version, the man page is gzip'd roff that lints clean, the unit
# passes `systemd-analyze verify`, the completion and example are the sources.
# Needs no privileges.
# Usage: install_tree.sh BUILD_DIR SOURCE_DIR VERSION
set -euo pipefail
BUILD=${1:?build dir} SRC=${2:?source dir} VERSION=${3:?version}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

DESTDIR="$tmp/root" cmake --install "$BUILD" --prefix /usr >"$tmp/install.log"
root="$tmp/root"

# exactly these files (a new installed file must be added here on purpose)
got=$(cd "$root" && find . \( -type f -o -type l \) | sed 's|^\./|/|' | sort)
want=$(sort <<'EOF'
/usr/sbin/scanwatch
/usr/lib/systemd/system/scanwatch.service
/usr/share/man/man8/scanwatch.8.gz
/usr/share/bash-completion/completions/scanwatch
/usr/share/doc/scanwatch/examples/scanwatch.toml
EOF
)
[ "$got" = "$want" ] || fail "installed files differ:
$(diff <(echo "$want") <(echo "$got"))"
# nothing under /etc unless asked for (the .deb ships the conffile)
[ ! -e "$root/etc" ] || fail "a plain install wrote to /etc"

[ -x "$root/usr/sbin/scanwatch" ] || fail "the binary is not executable"
v=$("$root/usr/sbin/scanwatch" --version)
[ "$v" = "scanwatch $VERSION" ] || fail "installed binary says '$v', the project is $VERSION"
cmp -s "$root/usr/share/bash-completion/completions/scanwatch" "$SRC/packaging/scanwatch.bash-completion" ||
  fail "completion differs from packaging/scanwatch.bash-completion"
cmp -s "$root/usr/share/doc/scanwatch/examples/scanwatch.toml" "$SRC/packaging/scanwatch.toml" ||
  fail "example config differs from packaging/scanwatch.toml"
for f in usr/lib/systemd/system/scanwatch.service usr/share/man/man8/scanwatch.8.gz \
         usr/share/doc/scanwatch/examples/scanwatch.toml usr/share/bash-completion/completions/scanwatch; do
  [ "$(stat -c %a "$root/$f")" = 644 ] || fail "$f has mode $(stat -c %a "$root/$f"), want 644"
done

# man page: gzip'd, the source, lint-clean, renders
gzip -t "$root/usr/share/man/man8/scanwatch.8.gz" || fail "man page is not gzip"
zcat "$root/usr/share/man/man8/scanwatch.8.gz" | cmp -s - "$SRC/packaging/scanwatch.8" || fail "man page differs from its source"
warnings=$(zcat "$root/usr/share/man/man8/scanwatch.8.gz" | groff -man -ww -z 2>&1)
[ -z "$warnings" ] || fail "groff warns about scanwatch.8: $warnings"
text=$(zcat "$root/usr/share/man/man8/scanwatch.8.gz" | groff -man -Tutf8 2>/dev/null)
grep -q "scanwatch - detect and block nmap port scans" <<<"$text" || fail "man page does not render its NAME"

# unit: systemd's own checker, with the installed binary and man page in place
unit="$root/usr/lib/systemd/system/scanwatch.service"
grep -qx 'ExecStart=/usr/sbin/scanwatch run --config /etc/scanwatch/scanwatch.toml' "$unit" || fail "unit ExecStart"
grep -qx 'ExecReload=/bin/kill -HUP $MAINPID' "$unit" || fail "unit ExecReload"
grep -qx 'Restart=on-failure' "$unit" || fail "unit Restart"
grep -qx 'CapabilityBoundingSet=CAP_BPF CAP_NET_ADMIN CAP_PERFMON CAP_SYS_RESOURCE' "$unit" || fail "unit capabilities"
grep -qx 'StateDirectory=scanwatch' "$unit" || fail "unit StateDirectory"
# (a copy whose ExecStart names the DESTDIR binary: verify checks that the
# command exists; --root would also need the whole of systemd under DESTDIR)
mkdir "$tmp/verify"
sed "s|^ExecStart=/usr/sbin/scanwatch |ExecStart=$root/usr/sbin/scanwatch |" "$unit" >"$tmp/verify/scanwatch.service"
out=$(cd "$tmp/verify" && MANPATH="$root/usr/share/man" systemd-analyze verify scanwatch.service 2>&1) ||
  fail "systemd-analyze verify: $out"
[ -z "$out" ] || fail "systemd-analyze verify warns: $out"

echo "install_tree.sh: $(wc -l <<<"$got") files installed and checked"
