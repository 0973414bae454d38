#!/usr/bin/env bash
# What aerolog-ship costs while it has nothing to do: CPU seconds over a window in which every
# stream is caught up (8 streams, one NATS sink). nats-server runs on 127.0.0.1 in a temp dir.
#   test/bench/bench_ship_idle.sh [BUILD_DIR] [SECONDS] [STREAMS]
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
window=${2:-10}
nstreams=${3:-8}
work=$(mktemp -d /tmp/aerolog-bench-idle.XXXXXX)
shm=$(mktemp -d /dev/shm/aerolog-bench-idle.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2> /dev/null || true; done
  wait 2> /dev/null || true
  rm -rf "$work" "$shm"
}
trap cleanup EXIT
np=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
nats-server -js -sd "$work/js" -a 127.0.0.1 -p "$np" > "$work/nats.log" 2>&1 & pids+=($!)
"$build/sidecar/aerolog-sidecar" --shm-dir "$shm" --wal-dir "$work/wal" --log-file "$work/sidecar.log" & pids+=($!)
sleep 0.5
for i in $(seq "$nstreams"); do "$build/test/aerolog-test-publisher" "$shm" "s$i" 1048576 1000; done
"$build/sidecar/aerologctl" --shm-dir "$shm" flush > /dev/null
"$build/sidecar/aerolog-ship" --wal-dir "$work/wal" --shm-dir "$shm" --state-dir "$work/state" \
  --nats-url "nats://127.0.0.1:$np" --log-file "$work/ship.log" & ship=$!; pids+=($ship)
sleep 2  # ships the 1000 records of each stream, then idles
ticks() { awk '{print $14 + $15}' "/proc/$ship/stat"; }
t0=$(ticks); sleep "$window"; t1=$(ticks)
python3 -c "print(f'aerolog-ship idle, $nstreams streams caught up: {($t1-$t0)/$(getconf CLK_TCK):.2f} CPU s over $window s ({100*($t1-$t0)/$(getconf CLK_TCK)/$window:.1f}% of a core)')"
