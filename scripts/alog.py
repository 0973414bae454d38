#!/usr/bin/env python3
"""Pure-Python reader of AeroLog .alog WALs and shm rings (layouts: proto/FORMAT.md).

  alog.py cat DIR [--from-seq N]   records as CSV, the same bytes as `aerologctl cat --format=csv`
  alog.py follow DIR               the same, then new records as the sidecar writes them (Ctrl-C)
  alog.py summary DIR              records, seqs, types and first/last trades of a stream directory
  alog.py rings [SHM_DIR]          published / durable seqs, fill and state of every ring
  alog.py batch [--stream S] FILE...  records of aerolog-ship NATS message bodies (one body per file), as
                                   CSV (S in the stream column: the subject's last token, '~' as '.')
  alog.py layout                   the byte offsets this reader assumes, as JSON (checked by the tests)

DIR is a stream directory (<wal_dir>/<stream>). Standard records (Trade, Order, Quote,
MarketData, Risk, Text, Dropped) are decoded, log events rendered as {fmt} renders them (with
aerolog/logfmt.py: it lists the few specs Python renders differently); other types are printed
as hex. CRC32C is checked (with ISA-L's libisal.so.2 when present), and so is every segment
header (FORMAT.md 4.1), as aerologctl and the sidecar's recovery check them. Built on the aerolog
package (aerolog.wal; beside this file, or where python3 finds it); for numpy arrays and pandas
DataFrames use the package itself: help(aerolog).

Exit status: 0 ok; 1 an error, or damage (one line on stderr says why): cat, follow and summary
stop at a bad segment header, missing records or mid-log corruption (cat and follow print the
records before it; a torn tail at the end of the log is where it ends, not damage); 2 bad usage.
"""
import json
import os
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # the aerolog package beside this file
from aerolog import logfmt, wal  # noqa: E402
from aerolog.wal import (ACTIONS, EVENTS, LEVELS, PAGE, PRICE_SCALE, RING_MAGIC, SIDES, TYPE_NAMES,  # noqa: E402
                         VERDICTS, FormatError, Tail, crc32c, records, segments)

# Offsets (bytes) of the fields this reader uses; `alog.py layout` prints them for the tests,
# which compare them with the C++ structs.
LAYOUT = {
    "ring.magic": 0, "ring.capacity": 16, "ring.write_pos": 128, "ring.last_seq": 136,
    "ring.payload_bytes": 144, "ring.dropped": 152, "ring.read_pos": 256, "ring.durable_seq": 384,
    "ring.state": 652, "ring.error": 672, "ring.log_magic": 896, "ring.log_level": 900, "ring.header_size": 1024,
    "frame.length": 0, "frame.type": 4, "frame.flags": 6, "frame.seq": 8, "frame.timestamp": 16, "frame.size": 24,
    "segment.base_seq": 16, "segment.generation": 24, "segment.crc": 124,
    "block.crc": 4, "block.length": 8, "block.count": 12, "block.first_seq": 16, "block.generation": 32, "block.size": 64,
    "batch.magic": 0, "batch.count": 8, "batch.first_seq": 16, "batch.last_seq": 24, "batch.size": 32,
    "trade.size": 64, "order.size": 72, "quote.size": 64, "marketdata.size": 64, "risk.size": 72, "text.size": 8,
}

CSV_HEADER = "seq,ts,type,symbol,event,side,price,qty,id,text,exch_ts,leaves_qty,ref_id,stream"  # FORMAT.md 7.9


def price(v):
    sign = "-" if v < 0 else ""
    a = abs(v)
    return f"{sign}{a // PRICE_SCALE}.{a % PRICE_SCALE:08d}"


def format_time(ns):
    """2012-06-21T13:30:00.004241176Z, as aerologctl prints it."""
    s, frac = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(s)) + f".{frac:09d}Z"


def _known(v):
    """A value that is 0 when not known (or none), as aerologctl prints it: empty then."""
    return str(v) if v else ""


def _sym(b):
    return b.split(b"\0")[0].decode("ascii", errors="surrogateescape")


def decode(ftype, payload):
    """The record's CSV columns after seq and ts: type, symbol, event, side, price, qty, id, text,
    exch_ts, leaves_qty, ref_id (FORMAT.md 7.9)."""
    def need(n):
        return len(payload) >= n
    if ftype == 2 and need(64):
        sym, px, qty, tid, oid, ts, side = struct.unpack_from("<16sqqQQQB", payload)
        return ["Trade", _sym(sym), "trade", SIDES.get(side, ""), price(px), str(qty), str(tid), "", _known(ts), "",
                _known(oid)]
    if ftype == 3 and need(72):
        sym, oid, orig, px, qty, leaves, ts, action, side = struct.unpack_from("<16sQQqqqQBB", payload)
        return ["Order", _sym(sym), ACTIONS.get(action, "action?"), SIDES.get(side, ""), price(px), str(qty), str(oid), "",
                _known(ts), str(leaves), _known(orig)]
    if ftype == 4 and need(64):
        sym, bp, bq, ap, aq, ts = struct.unpack_from("<16sqqqqQ", payload)
        return ["Quote", _sym(sym), "quote", "", price(bp), str(bq), "", f"ask {price(ap)} x {aq}", _known(ts), "", ""]
    if ftype == 5 and need(64):
        sym, oid, px, qty, ts, event, side = struct.unpack_from("<16sQqqQBB", payload)
        return ["MarketData", _sym(sym), EVENTS.get(event, "event?"), SIDES.get(side, ""), price(px), str(qty), str(oid),
                "", _known(ts), "", ""]
    if ftype == 6 and need(72):
        acct, sym, pos, expo, _lim, _pnl, check, verdict = struct.unpack_from("<16s16sqqqqIB", payload)
        return ["Risk", _sym(sym), VERDICTS.get(verdict, "verdict?"), "", price(expo), str(pos), str(check), _sym(acct),
                "", "", ""]
    if ftype == 1 and need(8):
        level = payload[0]
        return ["Text", "", LEVELS[level] if level < 6 else "level?", "", "", "", "",
                payload[8:].decode("utf-8", errors="surrogateescape"), "", "", ""]
    if ftype == 9 and need(16):
        count, first_ns = struct.unpack_from("<QQ", payload)
        return ["Dropped", "", "", "", "", str(count), "", "records dropped (ring full) since " + format_time(first_ns),
                "", "", ""]
    if ftype in (1, 2, 3, 4, 5, 6, 9):
        return [str(ftype), "", "", "", "", "", "", f"malformed: {len(payload)} bytes: {payload.hex()}", "", "", ""]
    return [str(ftype), "", "", "", "", "", "", payload.hex(), "", "", ""]


def csv_field(s):
    if "," not in s and '"' not in s and "\n" not in s and "\r" not in s:
        return s
    return '"' + s.replace('"', '""') + '"'


def csv_line(seq, ts, ftype, payload, stream=""):
    t, sym, event, side, px, qty, rid, text, exch, leaves, ref = decode(ftype, payload)
    return ",".join([str(seq), str(ts), t, csv_field(sym), event, side, px, qty, rid, csv_field(text), exch, leaves, ref,
                     csv_field(stream)])


class CsvFormatter:
    """One stream's records as CSV lines, log events rendered (they need the stream's LogSite
    records before them, or its site catalog); a LogSite record gives None."""

    def __init__(self, stream_dir=None):
        self.stream = os.path.basename(os.path.normpath(stream_dir)) if stream_dir else ""
        self.log = logfmt.LogDecoder()
        if stream_dir:
            self.log.load_catalog(stream_dir, crc32c)

    def line(self, seq, ts, ftype, payload):
        if ftype == 7:
            if self.log.add_site(seq, payload):
                return None
            why = f"seq {seq}: malformed log site record"
        elif ftype == 8:
            event = self.log.decode(seq, payload)
            if event:
                site, values = event
                return ",".join([str(seq), str(ts), "Log", csv_field(f"{site.base}:{site.line}"),
                                 logfmt.LEVEL_NAMES[site.level], "", "", "", str(site.id),
                                 csv_field(self.log.render(site, values)), "", "", "", csv_field(self.stream)])
            why = self.log.error
        else:
            return csv_line(seq, ts, ftype, payload, self.stream)
        return ",".join([str(seq), str(ts), "LogSite" if ftype == 7 else "Log", "", "", "", "", "", "",
                         csv_field(f"undecodable ({why}): {payload.hex()}"), "", "", "", csv_field(self.stream)])


BATCH_MAGIC = 0x424E4C41  # "ALNB"


def batch_records(body, name="message"):
    """Yields (seq, type, flags, timestamp, payload) of one aerolog-ship NATS message body."""
    if len(body) < 32:
        raise FormatError(f"{name}: shorter than a batch header")
    magic, version, _r, count, _r2, first, last = struct.unpack_from("<IHHIIQQ", body, 0)
    if magic != BATCH_MAGIC or version != 1:
        raise FormatError(f"{name}: not an AeroLog batch (magic {magic:#x}, version {version})")
    if count == 0 or last != first + count - 1:
        raise FormatError(f"{name}: header says {count} records for seqs {first}..{last}")
    p = 32
    for i in range(count):
        if p + 24 > len(body):
            raise FormatError(f"{name}: truncated at record {i}")
        flen, ftype, flags, seq, ts = struct.unpack_from("<IHHQQ", body, p)
        if seq != first + i or flen < 24 or p + flen > len(body):
            raise FormatError(f"{name}: bad record {i} (seq {seq}, length {flen})")
        yield seq, ftype, flags, ts, body[p + 24:p + flen]
        p += (flen + 7) & ~7


def batch(files, stream=""):
    sys.stdout.reconfigure(errors="surrogateescape")
    print(CSV_HEADER)
    for name in files:
        with open(name, "rb") as f:
            body = f.read()
        for seq, ftype, _flags, ts, payload in batch_records(body, name):
            print(wal.terminal_safe(csv_line(seq, ts, ftype, payload, stream)))


def cat(stream_dir, from_seq=0, follow=False):
    """Like `aerologctl cat`: FormatError (exit 1) if reading stops short at damage, after the
    records before it; a torn tail at the end of the log is its end, not damage."""
    sys.stdout.reconfigure(errors="surrogateescape")
    tail = Tail(stream_dir)
    formatter = CsvFormatter(stream_dir)
    print(CSV_HEADER)
    try:
        while True:
            for seq, ftype, _flags, ts, payload in tail.poll():
                line = formatter.line(seq, ts, ftype, payload)
                if seq >= from_seq and line is not None:
                    print(wal.terminal_safe(line))
            if not follow:
                break
            sys.stdout.flush()
            time.sleep(0.05)
    except KeyboardInterrupt:
        pass
    sys.stdout.flush()
    damage = tail.damage()
    if damage:
        raise FormatError(f"{damage}; the records before it were printed")


def trade(payload):
    sym, price, qty, trade_id, order_id, exch_ts, side = struct.unpack_from("<16sqqQQQB", payload, 0)
    return {"symbol": _sym(sym), "price": price / PRICE_SCALE, "qty": qty,
            "trade_id": trade_id, "exch_ts": exch_ts, "aggressor": {1: "buy", 2: "sell"}.get(side, "?")}


def summary(stream_dir):
    n, first, last, types, trades = 0, None, None, {}, []
    for seq, ftype, _flags, _ts, payload in records(stream_dir):
        n += 1
        first = seq if first is None else first
        last = seq
        types[ftype] = types.get(ftype, 0) + 1
        if ftype == 2 and len(payload) >= 64:  # a shorter one is malformed (FORMAT.md 7)
            t = trade(payload)
            if len(trades) < 1:
                trades.append(t)
            else:
                trades[1:] = [t]
    seqs = f", seqs {first}..{last}" if n else ""
    print(f"{stream_dir}: {n} records{seqs}, {len(segments(stream_dir))} segment(s)")
    print("  by type: " + ", ".join(f"{TYPE_NAMES.get(k, k)} {v}" for k, v in sorted(types.items())))
    for label, t in zip(("first trade", "last trade"), trades):
        print(f"  {label}: {t['symbol']} {t['qty']} @ {t['price']:.4f} (aggressor {t['aggressor']}, trade {t['trade_id']})")


def rings(shm_dir="/dev/shm/aerolog"):
    found = False
    for name in sorted(os.listdir(shm_dir)):
        if not name.startswith("aerolog."):
            continue
        h = wal.read_shared(os.path.join(shm_dir, name), PAGE)
        if h is None or len(h) < LAYOUT["ring.header_size"] or struct.unpack_from("<Q", h, 0)[0] != RING_MAGIC:
            continue
        found = True
        cap = struct.unpack_from("<Q", h, 16)[0] or 1  # 0 only in a damaged header: no division by it
        wpos, last_seq, payload, dropped = struct.unpack_from("<QQQQ", h, 128)
        rpos = struct.unpack_from("<Q", h, 256)[0]
        durable = struct.unpack_from("<Q", h, 384)[0]
        state = struct.unpack_from("<I", h, 652)[0]
        err = wal.printable(h[672:768].split(b"\0")[0].decode(errors="replace"))
        print(f"{name[8:]}: published {last_seq}, durable {durable}, lag {last_seq - durable}, "
              f"fill {100.0 * (wpos - rpos) / cap:.1f}% of {cap >> 20} MiB, dropped {dropped}, "
              f"state {['ok', 'quarantined', 'io_error', 'refused'][state] if state < 4 else state}" + (f" ({err})" if err else ""))
    if not found:
        print(f"no AeroLog rings in {shm_dir}")


def main(argv):
    if len(argv) < 2 or argv[1] in ("-h", "--help"):
        print(__doc__.strip())
        return 0 if len(argv) >= 2 else 2
    try:
        if argv[1] == "summary" and len(argv) == 3:
            summary(argv[2])
        elif argv[1] == "cat" and len(argv) in (3, 5) and (len(argv) == 3 or argv[3] == "--from-seq"):
            cat(argv[2], int(argv[4]) if len(argv) == 5 else 0)
        elif argv[1] == "follow" and len(argv) == 3:
            cat(argv[2], follow=True)
        elif argv[1] == "batch" and len(argv) >= 5 and argv[2] == "--stream":
            batch(argv[4:], argv[3])
        elif argv[1] == "batch" and len(argv) >= 3:
            batch(argv[2:])
        elif argv[1] == "layout" and len(argv) == 2:
            print(json.dumps(LAYOUT, sort_keys=True))
        elif argv[1] == "rings" and len(argv) <= 3:
            rings(*argv[2:])
        else:
            print(__doc__.strip(), file=sys.stderr)
            return 2
    except (OSError, FormatError, ValueError) as e:
        print(f"alog.py: {e}", file=sys.stderr)
        return 1
    except struct.error as e:  # a length check missed somewhere: still one line, never a traceback
        print(f"alog.py: malformed input ({e})", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
