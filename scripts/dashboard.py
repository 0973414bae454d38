#!/usr/bin/env python3
"""PNG dashboards of an AeroLog WAL or of benchmark results (matplotlib, Agg backend).

  dashboard.py wal STREAM_DIR -o OUT.png [--title T] [--no-crc]
      trade price and volume per minute over exchange time, records per second over publish time
  dashboard.py bench FILE.json [FILE.json ...] -o OUT.png
      latency percentiles (and MB/s for e2e runs) of bench_producer / bench_e2e --json files, a row per file

The WAL is read with the aerolog package (beside this file: numpy); matplotlib draws.
"""
import argparse
import collections
import datetime as dt
import json
import math
import os
import sys
import textwrap
import time


try:
    import matplotlib
except ImportError:  # e.g. a pyenv python3 first on PATH: retry with Debian's, which has python3-matplotlib
    if os.path.exists("/usr/bin/python3") and os.path.realpath(sys.executable) != os.path.realpath("/usr/bin/python3"):
        os.execv("/usr/bin/python3", ["/usr/bin/python3", os.path.abspath(__file__)] + sys.argv[1:])
    sys.exit(f"dashboard.py: no matplotlib for {sys.executable} (apt-get install python3-matplotlib)")
matplotlib.use("Agg")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # the aerolog package beside this file
import aerolog  # noqa: E402
from aerolog.wal import SIDES, segments  # noqa: E402
import matplotlib.dates as mdates  # noqa: E402
import numpy as np  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import EngFormatter  # noqa: E402

UTC = dt.timezone.utc


class Error(Exception):
    """A user-facing error: printed as one 'dashboard.py: ...' line, exit status 1."""


def nice_width(span_ns, target=80):
    """The smallest 1/2/5 x 10^k bin width in ns (at least 1 us) giving at most `target` bins over span_ns."""
    return next(w for w in (k * 10 ** e for e in range(3, 19) for k in (1, 2, 5)) if span_ns / w <= target)


def no_data(ax, text):
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, fontsize=12, color="gray")
    ax.set_xticks([]), ax.set_yticks([])


def read_wal(d, check_crc):
    """(publish timestamps as a numpy array, trades as dicts, {type name: count}) of a stream directory,
    read with the aerolog package (numpy)."""
    if not os.path.isdir(d):
        raise Error(f"{d}: {'not a directory' if os.path.exists(d) else 'no such directory'}")
    if not segments(d):
        subs = [n for n in sorted(os.listdir(d)) if os.path.isdir(p := os.path.join(d, n)) and segments(p)]
        hint = f"; streams in it: {', '.join(subs)}" if subs else ""
        raise Error(f"{d}: not a stream directory (no .alog segments){hint}")
    try:
        with aerolog.open(d, check_crc) as s:
            r = s.read()
            if s.damage():
                raise Error(s.damage())
            t = r.array("Trade")
            pub, types = r.timestamp.copy(), r.kinds()
    except (aerolog.FormatError, ValueError) as e:
        raise Error(str(e))
    trades = [{"symbol": sym.split(b"\0")[0].decode("ascii", errors="surrogateescape"), "price": px / 1e8, "qty": int(q),
               "trade_id": int(tid), "exch_ts": int(ts), "aggressor": SIDES.get(int(a), "?")}
              for sym, px, q, tid, ts, a in zip(t["symbol"], t["price"], t["qty"], t["trade_id"], t["exch_ts"],
                                               t["aggressor"])]
    return pub, trades, types


def plot_wal(args):
    t0 = time.monotonic()
    pub, trades, types = read_wal(args.stream_dir, not args.no_crc)
    read_s = time.monotonic() - t0
    fig, (ax_px, ax_vol, ax_rate) = plt.subplots(3, 1, figsize=(11, 11), constrained_layout=True)
    fig.suptitle(args.title or f"AeroLog WAL {os.path.abspath(args.stream_dir)}", fontsize=13)
    timed = sorted((t for t in trades if 0 < t["exch_ts"] < 2 ** 62), key=lambda t: t["exch_ts"])
    if timed:
        times = [dt.datetime.fromtimestamp(t["exch_ts"] / 1e9, UTC) for t in timed]
        syms = sorted({t["symbol"] for t in timed})
        for s in syms:
            pts = [(x, t["price"]) for x, t in zip(times, timed) if t["symbol"] == s]
            ax_px.plot([p[0] for p in pts], [p[1] for p in pts], lw=0.8, label=s)
        if len(syms) > 1:
            ax_px.legend(fontsize=8, ncol=min(len(syms), 6))
        skipped = f"; {len(trades) - len(timed):,} without exchange time left out" if len(timed) < len(trades) else ""
        ax_px.set_title(f"(a) trade price — {len(timed):,} trades, {', '.join(syms[:6])}{skipped}")
        ax_px.set_ylabel("price")
        minutes = collections.Counter()
        for x, t in zip(times, timed):
            minutes[x.replace(second=0, microsecond=0)] += t["qty"]
        ms = sorted(minutes)
        ax_vol.bar(ms, [minutes[m] for m in ms], width=1 / 1440, align="edge", color="tab:green", edgecolor="none")
        ax_vol.set_title(f"(b) traded volume per minute — {sum(minutes.values()):,} shares")
        ax_vol.set_ylabel("shares / minute")
        ax_vol.yaxis.set_major_formatter(EngFormatter())
        day = times[-1] - times[0] > dt.timedelta(hours=20)
        for ax, what in ((ax_px, ""), (ax_vol, ", 1-minute bins")):
            ax.set_xlabel(f"exchange time (UTC{'' if day else f', {times[0]:%Y-%m-%d}'}){what}")
            ax.xaxis.set_major_formatter(mdates.DateFormatter("%m-%d %H:%M" if day else "%H:%M", tz=UTC))
            ax.set_xlim(times[0].replace(second=0, microsecond=0), times[-1] + dt.timedelta(minutes=1))
            ax.grid(alpha=0.3)
    else:
        no_data(ax_px, "(a) no trades with an exchange time in this WAL")
        no_data(ax_vol, "(b) no trades in this WAL: no volume to plot")
    if len(pub):
        first, span = int(pub.min()), int(pub.max() - pub.min())
        width = nice_width(max(span, 1))
        unit, div = next(((u, v) for u, v in (("s", 1e9), ("ms", 1e6)) if span >= 2 * v), ("us", 1e3))
        counts = np.bincount(((pub - first) // width).astype(np.int64), minlength=span // width + 1)
        ax_rate.bar(np.arange(len(counts)) * width / div, counts * 1e9 / width,
                    width=width / div, align="edge", color="tab:blue", edgecolor="none")
        mix = ", ".join(f"{k} {v:,}" for k, v in sorted(types.items(), key=lambda kv: str(kv[0])))
        ax_rate.set_title(f"(c) records per second by publish time — {len(pub):,} records ({mix}); "
                          f"bins {EngFormatter(unit='s')(width / 1e9)}")
        ax_rate.set_xlabel(f"publish time ({unit} since the first record, "
                           f"{dt.datetime.fromtimestamp(first / 1e9, UTC):%Y-%m-%d %H:%M:%S} UTC)")
        ax_rate.set_ylabel("records / s")
        ax_rate.yaxis.set_major_formatter(EngFormatter())
        ax_rate.grid(alpha=0.3)
    else:
        no_data(ax_rate, "(c) the WAL holds no records")
    fig.savefig(args.output, dpi=110, format="png")
    print(f"{args.output}: {len(pub):,} records, {len(trades):,} trades, "
          f"{len(pub) / max(span, 1) * 1e9 if len(pub) else 0:,.0f} records/s published "
          f"(read in {read_s:.2f} s{', CRC not checked' if args.no_crc else ''})")


def load_bench(path):
    try:
        with open(path) as f:
            doc = json.load(f)
    except ValueError as e:  # JSONDecodeError, UnicodeDecodeError
        raise Error(f"{path}: bad JSON: {e}")
    kind = doc.get("bench") if isinstance(doc, dict) else None
    need = {"producer": ("rows", ("p50", "p99", "p999", "p9999")),
            "e2e": ("runs", ("mb_s", "p50_us", "p99_us", "p999_us"))}.get(kind)
    if need is None:
        raise Error(f"{path}: unknown bench shape (\"bench\" is {kind!r}, expected \"producer\" or \"e2e\")")
    rows, num = doc.get(need[0]), (int, float)
    if not isinstance(rows, list) or not rows or not all(
            isinstance(r, dict) and "name" in r and all(isinstance(r.get(k), num) for k in need[1]) for r in rows):
        raise Error(f"{path}: {kind} JSON without a non-empty \"{need[0]}\" list of name, {', '.join(need[1])}")
    if kind == "e2e" and not all(isinstance(doc.get(k), num) for k in ("probe_mb_s", "probe_qd1_p50_us")):
        raise Error(f"{path}: e2e JSON without probe_mb_s / probe_qd1_p50_us")
    return kind, doc


def wrap(names):
    """Tick labels on two lines or so, split after a comma when there is one."""
    return [str(s).replace(", ", ",\n", 1) if len(str(s)) > 15 and ", " in str(s)
            else textwrap.fill(str(s), 16, break_long_words=False) for s in names]


def grouped_bars(ax, rows, series, unit):
    w = 0.8 / len(series)
    for i, (label, key) in enumerate(series):
        ax.bar([j + (i - (len(series) - 1) / 2) * w for j in range(len(rows))], [r[key] for r in rows], w, label=label)
    ax.set_xticks(range(len(rows)))
    ax.set_xticklabels(wrap(r["name"] for r in rows), fontsize=8)
    ax.set_yscale("log")
    pos = [r[k] for r in rows for _, k in series if r[k] > 0] or [1]
    ax.set_ylim(10 ** math.floor(math.log10(min(pos) / 2)), max(pos) * 12)  # a decade of room for the legend
    ax.set_ylabel(f"latency ({unit}, log scale)")
    ax.grid(axis="y", which="both", alpha=0.3)


def plot_bench(args):
    docs = [(p, *load_bench(p)) for p in args.files]
    fig = plt.figure(figsize=(14, 4.8 * len(docs)), constrained_layout=True)
    gs = fig.add_gridspec(len(docs), 2)
    for i, (path, kind, doc) in enumerate(docs):
        name = os.path.basename(path)
        if kind == "producer":
            ax = fig.add_subplot(gs[i, :])
            grouped_bars(ax, doc["rows"], [("P50", "p50"), ("P99", "p99"), ("P99.9", "p999"), ("P99.99", "p9999")],
                         "ns")
            ax.set_title(f"{name}: producer latency per record ({doc.get('payload', '?')} B payload, "
                         f"medians of {doc.get('repeat', '?')} runs)")
            ax.legend(fontsize=8, ncol=4)
            continue
        runs, probe_lat, probe_bw = doc["runs"], doc["probe_qd1_p50_us"], doc["probe_mb_s"]
        ax = fig.add_subplot(gs[i, 0])
        grouped_bars(ax, runs, [("P50", "p50_us"), ("P99", "p99_us"), ("P99.9", "p999_us")], "us")
        ax.axhline(probe_lat, color="red", ls="--", lw=1, label=f"probe QD1 write+sync P50 {probe_lat:.0f} us")
        ax.set_title(f"{name}: publish-to-durable latency ({doc.get('durability', '?')}, "
                     f"idle {doc.get('idle', '?')})", fontsize=10)
        ax.legend(fontsize=8)
        ax2 = fig.add_subplot(gs[i, 1])
        ax2.bar(range(len(runs)), [r["mb_s"] for r in runs], 0.6, color="tab:purple")
        ax2.axhline(probe_bw, color="red", ls="--", lw=1, label=f"probe bandwidth {probe_bw:.0f} MB/s")
        for j, r in enumerate(runs):
            ax2.text(j, r["mb_s"], f"{r['mb_s']:.1f}", ha="center", va="bottom", fontsize=8)
        ax2.set_xticks(range(len(runs)))
        ax2.set_xticklabels(wrap(r["name"] for r in runs), fontsize=8)
        ax2.set_ylim(0, max([probe_bw] + [r["mb_s"] for r in runs]) * 1.12)
        ax2.set_ylabel("MB/s written to the WAL")
        ax2.set_title(f"{name}: throughput per workload", fontsize=10)
        ax2.legend(fontsize=8, loc="upper left")
        ax2.grid(axis="y", alpha=0.3)
    fig.savefig(args.output, dpi=100, format="png")
    print(f"{args.output}: " + ", ".join(f"{os.path.basename(p)} ({k}, {len(d['rows' if k == 'producer' else 'runs'])}"
                                          f" {'rows' if k == 'producer' else 'workloads'})" for p, k, d in docs))


def main():
    ap = argparse.ArgumentParser(prog="dashboard.py", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="Errors print one 'dashboard.py: ...' line on stderr and exit 1.")
    sub = ap.add_subparsers(dest="cmd", required=True, metavar="{wal,bench}")
    w = sub.add_parser("wal", help="price, volume per minute and record rate of a stream directory")
    w.add_argument("stream_dir", metavar="STREAM_DIR", help="a stream directory (<wal_dir>/<stream>)")
    w.add_argument("-o", "--output", required=True, metavar="OUT.png", help="PNG to write")
    w.add_argument("--title", help="figure title (default: the stream directory)")
    w.add_argument("--no-crc", action="store_true", help="skip the blocks' CRC32C check (ISA-L: a few ms per 100 MB)")
    b = sub.add_parser("bench", help="latency / throughput bars of bench_producer or bench_e2e JSON files")
    b.add_argument("files", nargs="+", metavar="FILE.json", help="--json output of bench_producer or bench_e2e")
    b.add_argument("-o", "--output", required=True, metavar="OUT.png", help="PNG to write")
    args = ap.parse_args()
    try:
        (plot_wal if args.cmd == "wal" else plot_bench)(args)
    except Error as e:
        print(f"dashboard.py: {e}", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"dashboard.py: {e.filename or args.output}: {e.strerror}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
