#!/usr/bin/env bash
# Builds the Debian package with cpack, unpacks it into a scratch root with dpkg -x, and checks
# that every file is where the systemd unit and the docs expect it.
set -euo pipefail
build=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$build" && cpack -G DEB -B "$work/pkg" > "$work/cpack.log" 2>&1) || { cat "$work/cpack.log"; exit 1; }
deb=$(ls "$work"/pkg/*.deb)
info=$(dpkg-deb --info "$deb")  # (not piped into grep -q: pipefail would see dpkg-deb's SIGPIPE)
grep -q "Depends: .*liburing2" <<< "$info" || { echo "deb: Depends is missing liburing2"; exit 1; }
grep -q "conffiles" <<< "$info" || { echo "deb: /etc/aerolog/sidecar.toml is not a conffile"; exit 1; }
root=$work/root
dpkg -x "$deb" "$root"
fail() { echo "deb: $*"; exit 1; }
for f in usr/bin/aerolog-sidecar usr/bin/aerologctl usr/bin/aerolog-replay; do
  [ -x "$root/$f" ] || fail "$f missing or not executable"
done
unit=$root/usr/lib/systemd/system/aerolog-sidecar.service
[ -f "$unit" ] || fail "unit not at /usr/lib/systemd/system"
exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
bin=${exec_start%% *}
[ -x "$root$bin" ] || fail "ExecStart binary $bin is not in the package"
config=$(echo "$exec_start" | sed -n 's/.*--config \([^ ]*\).*/\1/p')
[ -f "$root$config" ] || fail "config $config named by ExecStart is not in the package"
[ -f "$root/usr/lib/sysusers.d/aerolog.conf" ] || fail "sysusers.d snippet missing"
[ -f "$root/usr/lib/tmpfiles.d/aerolog.conf" ] || fail "tmpfiles.d snippet missing"
[ -f "$root/usr/include/aerolog/producer.hpp" ] || fail "headers missing"
ls "$root"/usr/lib/*/libaerolog.a "$root"/usr/lib/libaerolog.a > /dev/null 2>&1 || ls "$root"/usr/lib*/libaerolog* > /dev/null 2>&1 || fail "library missing"
[ -n "$(find "$root/usr" -name aerologConfig.cmake)" ] || fail "CMake package config missing"
[ -n "$(find "$root/usr" -name aerolog.pc)" ] || fail "pkg-config file missing"
[ -f "$root/usr/share/aerolog/alog.py" ] || fail "alog.py missing"
pkg="$root/usr/lib/python3/dist-packages"
[ -f "$pkg/aerolog/__init__.py" ] || fail "the aerolog Python package is not where Debian's python3 looks"
PYTHONPATH="$pkg" /usr/bin/python3 -c "import aerolog.stream, aerolog.tables" || fail "the packaged aerolog package does not import"
# Its native part beside it, found without being named (AEROLOG_FRAMES_LIB unset).
[ -f "$pkg/aerolog/libaerolog_frames.so" ] || fail "libaerolog_frames.so is not beside the Python package"
env -u AEROLOG_FRAMES_LIB PYTHONPATH="$pkg" /usr/bin/python3 -c "import sys, aerolog.frames as f; sys.exit(f.NATIVE is None)" ||
  fail "the packaged aerolog package does not load its libaerolog_frames.so"
"$root$bin" --help > /dev/null || fail "the packaged sidecar does not run"
"$root/usr/bin/aerologctl" --help > /dev/null || fail "the packaged aerologctl does not run"
echo "deb test: $(basename "$deb") unpacks with every file where the unit expects it"
