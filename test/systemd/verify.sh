#!/usr/bin/env bash
# Checks the systemd integration files of AeroLog without a running systemd (works in
# containers where PID 1 is not systemd and aerolog-sidecar is not installed):
#   - aerolog-sidecar.service with `systemd-analyze verify` (ExecStart pointed at an existing
#     executable in a temporary copy of the unit),
#   - aerolog.sysusers.conf with `systemd-sysusers --dry-run`, then for real into a scratch root,
#   - aerolog.tmpfiles.conf with `systemd-tmpfiles --create` into that scratch root,
#   - sidecar.toml, when the built daemon is given: it must start with it and stop cleanly.
# Any warning or error about our files fails the script.
#
# Usage: test/systemd/verify.sh <repo>/systemd [path/to/built/aerolog-sidecar]
set -euo pipefail

usage() { echo "usage: $0 SYSTEMD_DIR [AEROLOG_SIDECAR_BINARY]" >&2; exit 2; }
[ $# -ge 1 ] && [ $# -le 2 ] || usage
dir=$(cd "$1" && pwd) || usage
exe=${2:-/bin/true}
[ -x "$exe" ] && [ -f "$exe" ] || { echo "verify: $exe is not an executable file" >&2; exit 2; }
[[ $exe == /* ]] || exe=$PWD/$exe
case $exe in *[[:space:]]*) echo "verify: the executable path must not contain spaces: $exe" >&2; exit 2 ;; esac

unit=aerolog-sidecar.service
sysusers=aerolog.sysusers.conf
tmpfiles=aerolog.tmpfiles.conf
config=sidecar.toml
for f in "$unit" "$sysusers" "$tmpfiles" "$config"; do
  [ -f "$dir/$f" ] || { echo "verify: $dir/$f is missing" >&2; exit 1; }
done
for tool in systemd-analyze systemd-sysusers systemd-tmpfiles; do
  if ! command -v "$tool" > /dev/null; then
    echo "verify: $tool not found; install the 'systemd' package (scripts/deps.sh does)" >&2
    exit 1
  fi
done

# systemd tools log to the journal when they think they run under it; force plain stderr and
# make sure warnings are not filtered out by an inherited log level.
export SYSTEMD_LOG_TARGET=console SYSTEMD_LOG_LEVEL=info SYSTEMD_LOG_COLOR=0 SYSTEMD_PAGER=cat

tmp=$(mktemp -d "${TMPDIR:-/tmp}/aerolog-systemd-verify.XXXXXX")
cleanup() {
  if [ -n "${sidecar_pid:-}" ]; then kill "$sidecar_pid" 2> /dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
status=0

# Fails the step if the tool failed or printed anything about the named file.
check() { # name rc output-file pattern
  local name=$1 rc=$2 out=$3 pattern=$4
  if [ "$rc" -ne 0 ] || grep -q -- "$pattern" "$out"; then
    echo "$name: FAILED (exit status $rc)" >&2
    sed 's/^/  /' "$out" >&2
    status=1
  else
    echo "$name: ok"
  fi
}

# --- the unit ---------------------------------------------------------------------------
# Same file name (systemd derives the unit name from it), ExecStart rewritten to an existing
# executable: verify refuses commands that are not executable.
mkdir "$tmp/unit"
sed "s|^ExecStart=/usr/bin/aerolog-sidecar\\b|ExecStart=$exe|" "$dir/$unit" > "$tmp/unit/$unit"
grep -q "^ExecStart=$exe" "$tmp/unit/$unit" || {
  echo "verify: $unit has no 'ExecStart=/usr/bin/aerolog-sidecar ...' line to rewrite" >&2
  exit 1
}
rc=0
systemd-analyze verify --man=no --generators=no --recursive-errors=no "$tmp/unit/$unit" \
  > "$tmp/analyze.out" 2>&1 || rc=$?
check "systemd-analyze verify" "$rc" "$tmp/analyze.out" "$unit"
# aerolog-ship.service: the same check (ExecStart pointed at the same existing executable).
ship_unit=aerolog-ship.service
[ -f "$dir/$ship_unit" ] || { echo "verify: $dir/$ship_unit is missing" >&2; exit 1; }
sed "s|^ExecStart=/usr/bin/aerolog-ship\\b|ExecStart=$exe|" "$dir/$ship_unit" > "$tmp/unit/$ship_unit"
rc=0
systemd-analyze verify --man=no --generators=no --recursive-errors=no "$tmp/unit/$ship_unit" \
  > "$tmp/analyze.out" 2>&1 || rc=$?
check "systemd-analyze verify (ship)" "$rc" "$tmp/analyze.out" "$ship_unit"

# --- sysusers -----------------------------------------------------------------------------
root=$tmp/root
mkdir -p "$root/etc"
rc=0
systemd-sysusers --dry-run --root="$root" "$dir/$sysusers" > "$tmp/sysusers.out" 2>&1 || rc=$?
check "systemd-sysusers --dry-run" "$rc" "$tmp/sysusers.out" "$sysusers"
# For real into the scratch root, so tmpfiles can resolve the user and group names.
rc=0
systemd-sysusers --root="$root" "$dir/$sysusers" > "$tmp/sysusers.out" 2>&1 || rc=$?
if [ "$rc" -eq 0 ] && ! grep -q '^aerolog:[^:]*:[0-9]*:[0-9]*:[^:]*:/var/lib/aerolog:' "$root/etc/passwd"; then
  echo "no system user aerolog with home /var/lib/aerolog was created" >> "$tmp/sysusers.out"
  rc=1
fi
if [ "$rc" -eq 0 ] && ! grep -q '^aerolog:' "$root/etc/group"; then
  echo "no group aerolog was created" >> "$tmp/sysusers.out"
  rc=1
fi
check "systemd-sysusers --root" "$rc" "$tmp/sysusers.out" "$sysusers"

# --- tmpfiles (systemd 252's systemd-tmpfiles has no --dry-run) -------------------------
rc=0
systemd-tmpfiles --root="$root" --create "$dir/$tmpfiles" > "$tmp/tmpfiles.out" 2>&1 || rc=$?
if [ "$rc" -eq 0 ]; then
  uid=$(awk -F: '$1 == "aerolog" { print $3 }' "$root/etc/passwd")
  gid=$(awk -F: '$1 == "aerolog" { print $3 }' "$root/etc/group")
  expect() { # path mode uid gid
    local got
    got=$(stat -c '%F %a %u %g' "$root$1" 2> /dev/null || echo missing)
    if [ "$got" != "directory $2 $3 $4" ]; then
      echo "$1: expected 'directory $2 $3 $4', got '$got'" >> "$tmp/tmpfiles.out"
      rc=1
    fi
  }
  expect /var/lib/aerolog 750 "$uid" "$gid"
  expect /etc/aerolog 755 0 0
  expect /dev/shm/aerolog 3770 "$uid" "$gid"
fi
check "systemd-tmpfiles --create --root" "$rc" "$tmp/tmpfiles.out" "$tmpfiles"

# --- the example configuration -----------------------------------------------------------
if [ "$exe" != /bin/true ] && [[ "$("$exe" --help 2>&1)" == *--config* ]]; then
  mkdir -p "$tmp/run/shm" "$tmp/run/wal"
  rc=0
  # Flags override the file: run in scratch directories, log to stderr, no journald detection.
  env -u JOURNAL_STREAM "$exe" --config "$dir/$config" --shm-dir "$tmp/run/shm" --wal-dir "$tmp/run/wal" \
    --log-file - > "$tmp/config.out" 2>&1 &
  sidecar_pid=$!
  for _ in $(seq 50); do
    grep -q ' ready: ' "$tmp/config.out" && break
    kill -0 "$sidecar_pid" 2> /dev/null || break
    sleep 0.1
  done
  if grep -q ' ready: ' "$tmp/config.out"; then
    kill -TERM "$sidecar_pid"
  else
    echo "aerolog-sidecar did not become ready with $config" >> "$tmp/config.out"
    kill -TERM "$sidecar_pid" 2> /dev/null || true
    rc=1
  fi
  wait "$sidecar_pid" || rc=$?
  sidecar_pid=
  check "aerolog-sidecar --config $config" "$rc" "$tmp/config.out" "$config"
fi

# ship.toml must parse: with a sink that is not there, --once fails on the sink (exit 1), not
# on the file (exit 2).
ship=$(dirname "$exe")/aerolog-ship
if [ "$exe" != /bin/true ] && [ -x "$ship" ]; then
  mkdir -p "$tmp/ship/wal" "$tmp/ship/state"
  rc=0
  env -u JOURNAL_STREAM "$ship" --config "$dir/ship.toml" --wal-dir "$tmp/ship/wal" --state-dir "$tmp/ship/state" \
    --nats-url nats://127.0.0.1:9 --once > "$tmp/ship.out" 2>&1 || rc=$?
  if [ "$rc" -eq 1 ] && grep -q 'nats' "$tmp/ship.out"; then rc=0; else echo "expected exit 1 (sink down), got $rc" >> "$tmp/ship.out"; rc=1; fi
  check "aerolog-ship --config ship.toml" "$rc" "$tmp/ship.out" "ship.toml"
fi

if [ "$status" -eq 0 ]; then
  echo "all systemd checks: ok"
fi
exit "$status"
