#!/usr/bin/python3
"""Reading benchmark, the Python side: the aerolog package (scripts/aerolog) over a stream
directory, the best of --repeat passes of each step, every pass from a fresh open():
  read      Stream.read(): every block checked (CRC32C included), every frame found
  arrays    read() and array(kind) for every standard type present (numpy structured arrays)
  frames    read() and dataframe(kind) for each (typed pandas DataFrames)
Prints one JSON line: {"bench":"read_python","engine":..,"records":..,"threads":..,"read_s":..,"arrays_s":..,
"frames_s":..}; engine: what found the frames, "native" (libaerolog_frames.so, named by $AEROLOG_FRAMES_LIB) or
"numpy" (AEROLOG_FRAMES_LIB= , empty).
  bench_python.py STREAM_DIR [--repeat N] [--threads N]     (threads: aerolog.open's; default the CPUs, at most 4)
"""
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
import aerolog  # noqa: E402
from aerolog import tables  # noqa: E402,F401  (pandas imported before the clock starts)


def best(repeat, step):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        n = step()
        times.append(time.perf_counter() - t0)
    return min(times), n


def main(argv):
    if len(argv) < 2 or argv[1] in ("-h", "--help"):
        print(__doc__.strip())
        return 0 if len(argv) >= 2 else 2
    d, opts = argv[1], dict(zip(argv[2::2], argv[3::2]))
    try:
        if len(argv) % 2 or set(opts) - {"--repeat", "--threads"}:
            raise ValueError("unknown option")
        repeat, threads = int(opts.get("--repeat", 3)), int(opts.get("--threads", 0)) or None
        if repeat < 1 or (threads or 1) < 1:
            raise ValueError("want N >= 1")
    except ValueError as e:
        print(f"bench_python.py: {e} (try --help)", file=sys.stderr)
        return 2

    def read():
        with aerolog.open(d, threads=threads) as s:
            return len(s.read())

    def arrays():
        with aerolog.open(d, threads=threads) as s:
            r = s.read()
            for kind in r.kinds():
                if kind in aerolog.RECORD_TYPES:
                    r.array(kind)
            return len(r)

    def frames():
        with aerolog.open(d, threads=threads) as s:
            r = s.read()
            for kind in r.kinds():
                if kind in aerolog.RECORD_TYPES:
                    tables.dataframe(r, kind)
            return len(r)

    read_s, n = best(repeat, read)
    arrays_s, _ = best(repeat, arrays)
    frames_s, _ = best(repeat, frames)
    with aerolog.open(d, threads=threads) as s:
        used = s.threads
    engine = "native" if aerolog.frames.NATIVE is not None else "numpy"
    print(json.dumps({"bench": "read_python", "engine": engine, "records": n, "threads": used, "read_s": read_s,
                      "arrays_s": arrays_s, "frames_s": frames_s}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
