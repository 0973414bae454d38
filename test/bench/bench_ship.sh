#!/usr/bin/env bash
# Shipping benchmark: aerolog-ship's throughput into clickhouse-server and nats-server (records/s,
# WAL already durable, `--once`), with ClickHouse's own INSERT ... SELECT of the same rows as the
# in-run baseline; then the publish-to-acknowledged latency at a steady offered rate; then the
# shipper's CPU while every stream is caught up. Servers run on 127.0.0.1 in a temp directory and
# are stopped at the end.
#   test/bench/bench_ship.sh [BUILD_DIR] [RECORDS] [REPEATS] [RATE] [RATE_SECONDS] [IDLE_SECONDS]
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
records=${2:-2000000}
repeats=${3:-3}
rate=${4:-100000}
rate_s=${5:-10}
idle_s=${6:-10}
for b in sidecar/aerolog-sidecar sidecar/aerolog-ship sidecar/aerologctl test/aerolog-test-publisher; do
  [ -x "$build/$b" ] || { echo "bench_ship: $build/$b not built" >&2; exit 2; }
done
work=$(mktemp -d /tmp/aerolog-bench-ship.XXXXXX)
shm=$(mktemp -d /dev/shm/aerolog-bench-ship.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2> /dev/null || true; done
  wait 2> /dev/null || true
  rm -rf "$work" "$shm"
}
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
chp=$(port); cht=$(port); np=$(port)
mkdir -p "$work/ch/data" "$work/ch/tmp" "$work/ch/log" "$work/js"
cat > "$work/ch/config.xml" <<XML
<yandex>
  <logger><level>warning</level><log>$work/ch/log/server.log</log><errorlog>$work/ch/log/err.log</errorlog><console>0</console></logger>
  <listen_host>127.0.0.1</listen_host><http_port>$chp</http_port><tcp_port>$cht</tcp_port>
  <path>$work/ch/data/</path><tmp_path>$work/ch/tmp/</tmp_path>
  <users_config>users.xml</users_config><default_profile>default</default_profile><default_database>default</default_database>
  <mark_cache_size>104857600</mark_cache_size>
</yandex>
XML
cat > "$work/ch/users.xml" <<XML
<yandex><profiles><default></default></profiles><quotas><default></default></quotas>
<users><default><password></password><networks><ip>127.0.0.1</ip></networks><profile>default</profile><quota>default</quota></default></users></yandex>
XML
clickhouse-server --config-file="$work/ch/config.xml" > "$work/ch/log/stdout.log" 2>&1 & pids+=($!)
nats-server -js -sd "$work/js" -a 127.0.0.1 -p "$np" > "$work/nats.log" 2>&1 & pids+=($!)
ch="http://127.0.0.1:$chp"
q() { curl -sS --fail "$ch/" --data-binary "$1"; }
for _ in $(seq 100); do [ "$(curl -s "$ch/?query=SELECT%201" || true)" = 1 ] && break; sleep 0.1; done

"$build/sidecar/aerolog-sidecar" --shm-dir "$shm" --wal-dir "$work/wal" --log-file "$work/sidecar.log" & pids+=($!)
sleep 0.5
echo "bench_ship: writing $records records (payload 8..97 bytes) to the WAL"
"$build/test/aerolog-test-publisher" "$shm" bench 16777216 "$records"
"$build/sidecar/aerologctl" --shm-dir "$shm" flush --timeout 120 > /dev/null

shipcmd=("$build/sidecar/aerolog-ship" --wal-dir "$work/wal" --shm-dir "$shm" --host bench --log-file "$work/ship.log")
ship() { "${shipcmd[@]}" "$@"; }
secs() { python3 -c "import time; print(time.time())"; }
echo "run,sink,records,seconds,records_per_s"
for r in $(seq "$repeats"); do
  t0=$(secs); ship --state-dir "$work/state-ch-$r" --clickhouse-url "$ch" --clickhouse-table "t$r" --once; t1=$(secs)
  n=$(q "SELECT count() FROM t$r")
  python3 -c "print(f'$r,clickhouse,$n,{$t1-$t0:.2f},{$n/($t1-$t0):.0f}')"
  t0=$(secs); q "CREATE TABLE base$r AS t$r" > /dev/null; q "INSERT INTO base$r SELECT * FROM t$r"; t1=$(secs)
  python3 -c "print(f'$r,clickhouse INSERT SELECT (baseline),$n,{$t1-$t0:.2f},{$n/($t1-$t0):.0f}')"
  t0=$(secs); ship --state-dir "$work/state-nats-$r" --nats-url "nats://127.0.0.1:$np" --nats-stream "S$r" --nats-subject "s$r" --once; t1=$(secs)
  python3 -c "print(f'$r,nats,$records,{$t1-$t0:.2f},{$records/($t1-$t0):.0f}')"
done

echo "bench_ship: lag at $rate records/s offered for $rate_s s (both sinks, default settings)"
: > "$work/ship.log"
for sink in clickhouse nats; do  # the backlog is not part of this measurement: start after it
  mkdir -p "$work/state-lag/$sink"
  printf 'aerolog-ship checkpoint 1\nseq %s\nts_ns 0\nskipped 0\nresend\nend\n' "$records" > "$work/state-lag/$sink/bench.ckpt"
done
"${shipcmd[@]}" --state-dir "$work/state-lag" --clickhouse-url "$ch" --clickhouse-table lag --nats-url "nats://127.0.0.1:$np" \
  --nats-stream LAG --nats-subject lag & shipper=$!; pids+=($shipper)  # not `ship &`: $! would be a subshell
sleep 1
"$build/test/aerolog-test-publisher" "$shm" bench 16777216 $((records + rate * rate_s)) "$rate"
sleep 2
kill -TERM "$shipper"; wait "$shipper" || true
grep "record age when acknowledged" "$work/ship.log" | sed "s/^[0-9-]* [0-9:.]* info /lag: /" || { echo "bench_ship: no lag line; the log ends:"; tail -5 "$work/ship.log"; }

echo "bench_ship: CPU while idle, 9 streams caught up, one NATS sink, $idle_s s"
for i in $(seq 8); do "$build/test/aerolog-test-publisher" "$shm" "idle$i" 1048576 1000; done
"$build/sidecar/aerologctl" --shm-dir "$shm" flush --timeout 60 > /dev/null
last=$((records + rate * rate_s))  # the backlog of "bench" is not part of this either
mkdir -p "$work/state-idle/nats"
printf 'aerolog-ship checkpoint 1\nseq %s\nts_ns 0\nskipped 0\nresend\nend\n' "$last" > "$work/state-idle/nats/bench.ckpt"
"${shipcmd[@]}" --state-dir "$work/state-idle" --nats-url "nats://127.0.0.1:$np" --nats-stream IDLE --nats-subject idle &
idler=$!; pids+=($idler)
sleep 2  # ships the 8 x 1000 records, then idles
ticks() { awk '{print $14 + $15}' "/proc/$idler/stat"; }
t0=$(ticks); sleep "$idle_s"; t1=$(ticks)
python3 -c "t=($t1-$t0)/$(getconf CLK_TCK); print(f'idle: {t:.2f} CPU s over $idle_s s ({100*t/$idle_s:.1f}% of a core)')"
