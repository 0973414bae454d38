#!/usr/bin/env bash
# The performance claims, reproducible: builds in Release and runs, each --repeat times,
#   - the producer benchmark (40-byte publish latency and throughput beside memcpy, ofstream,
#     spdlog async: test/bench/bench_producer), and beside Quill and fmtlog when their sources
#     are in $AEROLOG_PEERS_DIR (quill/ with Quill v12's include/, fmtlog/ with fmtlog v2.2's
#     files; never part of this repository: fetch them yourself; test/bench/peers),
#   - the logger benchmark (AEROLOG_INFO with 3 and 5 arguments, a filtered-out call:
#     test/bench/bench_logger) beside the same calls through the peers, and through spdlog
#     with aerolog::spdlog_sink (test/bench/bench_spdlog_sink),
#   - the end-to-end benchmark with the real sidecar beside a raw io_uring O_DIRECT probe
#     (test/bench/bench_e2e) in four configurations: dsync+backoff (the default),
#     fdatasync+backoff, dsync+spin, and the default with retention recycling segments,
#   - the AAPL sample replayed at full speed, CSV to durable (aerolog-replay + aerologctl flush),
#   - reading 10M records: the C++ Reader (test/bench/bench_read) beside the Python package into
#     numpy and pandas (test/bench/bench_python.py), with its native part (libaerolog_frames.so)
#     and without it,
# then writes report.md (Markdown tables: medians and spread), bench.json and bench.png.
#   scripts/bench.sh [--quick] [--repeat N] [--out DIR]      (defaults: 3 repeats, bench-results/<time>)
set -euo pipefail
cd "$(dirname "$0")/.."
repeat=3 quick="" out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=--quick; repeat=1 ;;
    --repeat) repeat=$2; shift ;;
    --out) out=$2; shift ;;
    -h|--help) sed -n 2,18p "$0"; exit 0 ;;
    *) echo "bench.sh: unknown option '$1' (try --help)" >&2; exit 2 ;;
  esac
  shift
done
scripts/deps.sh
out=${out:-bench-results/$(date +%Y%m%d-%H%M%S)}
mkdir -p "$out"
echo "== building (Release) into build-release"
cmake --preset release -DAEROLOG_PEERS_DIR="${AEROLOG_PEERS_DIR:-}" > "$out/configure.log" 2>&1 ||
  { cat "$out/configure.log"; exit 1; }
peers=()
[ -f "${AEROLOG_PEERS_DIR:-/nonexistent}/quill/include/quill/Backend.h" ] && peers+=(bench_quill)
[ -f "${AEROLOG_PEERS_DIR:-/nonexistent}/fmtlog/fmtlog.h" ] && peers+=(bench_fmtlog)
[ ${#peers[@]} -eq 0 ] && echo "(no peers: set AEROLOG_PEERS_DIR to a directory with quill/ and fmtlog/ to compare)"
cmake --build --preset release -j "$(nproc)" --target bench_producer bench_logger bench_e2e bench_read bench_spdlog_sink aerolog-sidecar aerolog-replay aerologctl aerolog_frames \
  "${peers[@]}" > "$out/build.log"
bin=build-release

echo "== producer benchmark ($repeat runs)"
producer_args=(--repeat "$repeat" --json "$out/producer.json")
[ -n "$quick" ] && producer_args=(--quick --json "$out/producer.json")
"$bin/test/bench/bench_producer" "${producer_args[@]}" | tee "$out/producer.txt"
echo "== logger benchmark ($repeat runs)"
logger_args=(--repeat "$repeat" --json "$out/logger.json")
[ -n "$quick" ] && logger_args=(--quick --json "$out/logger.json")
"$bin/test/bench/bench_logger" "${logger_args[@]}" | tee "$out/logger.txt"
echo "== spdlog sink beside AEROLOG_INFO ($repeat runs)"
"$bin/test/bench/bench_spdlog_sink" "${logger_args[@]/logger.json/spdlog.json}" | tee "$out/spdlog.txt"
for peer in "${peers[@]}"; do
  echo "== $peer ($repeat runs)"
  peer_args=(--repeat "$repeat" --json "$out/peer-$peer.json")
  [ -n "$quick" ] && peer_args=(--quick --json "$out/peer-$peer.json")
  "$bin/test/bench/$peer" "${peer_args[@]}" | tail -3 | tee "$out/peer-$peer.txt"
done

# The fourth: the default with retention on (256 MiB per stream, no shipper), so each roll
# recycles the oldest segment instead of making a new one.
recycling=(--sidecar-arg --retention-bytes --sidecar-arg 268435456 --sidecar-arg --ship-state-dir --sidecar-arg "")
for config in "dsync backoff" "fdatasync backoff" "dsync spin" "dsync backoff recycling"; do
  set -- $config
  label=${3:-} extra=()
  [ -n "$label" ] && extra=(--label "$label" "${recycling[@]}")
  for r in $(seq "$repeat"); do
    name=e2e-$1-$2${label:+-$label}-$r
    echo "== end to end: durability $1, idle $2${label:+, $label}, run $r/$repeat"
    "$bin/test/bench/bench_e2e" $quick --durability "$1" --idle "$2" "${extra[@]}" --json "$out/$name.json" > "$out/$name.txt"
    tail -n +3 "$out/$name.txt" | head -18
  done
done

# A sidecar on fresh temporary directories ($work, $shm) for the replay and reading runs; the
# trap stops it and removes them if a run fails.
pid="" work="" shm=""
start_sidecar() {
  work=$(mktemp -d /tmp/aerolog-bench.XXXXXX) shm=$(mktemp -d /dev/shm/aerolog-bench.XXXXXX)
  "$bin/sidecar/aerolog-sidecar" --shm-dir "$shm" --wal-dir "$work/wal" --log-file "$work/log" &
  pid=$!
  for _ in $(seq 100); do "$bin/sidecar/aerologctl" --shm-dir "$shm" status > /dev/null 2>&1 && break; sleep 0.05; done
}
stop_sidecar() {
  [ -n "$pid" ] && { kill -TERM "$pid"; wait "$pid" || true; }
  pid=""
  rm -rf "$shm"
}
trap 'stop_sidecar; [ -n "$work" ] && rm -rf "$work"' EXIT

data=${AEROLOG_DATA:-../shared/data/AAPL_2012-06-21_34200000_37800000_message_50.csv}
if [ -f "$data" ]; then
  for r in $(seq "$repeat"); do
    echo "== AAPL sample, CSV to durable, run $r/$repeat"
    start_sidecar
    t0=$(date +%s%N)
    "$bin/sidecar/aerolog-replay" "$data" --shm-dir "$shm" --no-progress > /dev/null
    "$bin/sidecar/aerologctl" --shm-dir "$shm" flush > /dev/null
    t1=$(date +%s%N)
    records=$(wc -l < "$data")
    stop_sidecar
    rm -rf "$work"
    echo "{\"bench\":\"replay\",\"records\":$records,\"seconds\":$(awk "BEGIN{print ($t1-$t0)/1e9}")}" > "$out/replay-$r.json"
    cat "$out/replay-$r.json"
  done
fi

py=/usr/bin/python3
[ -x "$py" ] || py=python3
if [ -f "$data" ]; then
  # Reading: the AAPL sample replayed $copies times into one stream (10M records; 2M with
  # --quick), then the C++ Reader and the Python package over the same WAL, each --repeat passes,
  # one after the other: the package as the .deb installs it (frames found by libaerolog_frames.so),
  # then without its native part (frames found by numpy).
  copies=109
  [ -n "$quick" ] && copies=22
  echo "== reading: $copies AAPL samples into one WAL, then bench_read (C++) and bench_python.py (native, numpy)"
  start_sidecar
  for _ in $(seq "$copies"); do "$bin/sidecar/aerolog-replay" "$data" --shm-dir "$shm" --stream read --no-progress > /dev/null; done
  "$bin/sidecar/aerologctl" --shm-dir "$shm" flush > /dev/null
  stop_sidecar
  "$bin/test/bench/bench_read" "$work/wal/read" --repeat "$repeat" | tee "$out/read-cpp.json"
  AEROLOG_FRAMES_LIB="$bin/libaerolog/libaerolog_frames.so" "$py" test/bench/bench_python.py "$work/wal/read" \
    --repeat "$repeat" | tee "$out/read-python.json"
  AEROLOG_FRAMES_LIB= "$py" test/bench/bench_python.py "$work/wal/read" --repeat "$repeat" |
    tee "$out/read-python-numpy.json"
  rm -rf "$work"
fi

"$py" scripts/bench_report.py "$out"
first_e2e=$(ls "$out"/e2e-dsync-backoff-[0-9]*.json | head -1)
"$py" scripts/dashboard.py bench "$out/producer.json" "$first_e2e" -o "$out/bench.png" || echo "(no PNG: is python3-matplotlib installed?)"
echo "== report: $out/report.md, $out/bench.json, $out/bench.png"
