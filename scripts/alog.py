#!/usr/bin/env python3
"""Pure-Python reader of AeroLog .alog WALs and shm rings (layouts: proto/FORMAT.md).

  alog.py cat DIR [--from-seq N]   records as CSV, the same bytes as `aerologctl cat --format=csv`
  alog.py follow DIR               the same, then new records as the sidecar writes them (Ctrl-C)
  alog.py summary DIR              records, seqs, types and first/last trades of a stream directory
  alog.py rings [SHM_DIR]          published / durable seqs, fill and state of every ring
  alog.py batch FILE...            records of aerolog-ship NATS message bodies (one body per file), as CSV
  alog.py layout                   the byte offsets this reader assumes, as JSON (checked by the tests)

DIR is a stream directory (<wal_dir>/<stream>). Standard records (Trade, Order, Quote,
MarketData, Risk, Text) are decoded; other types are printed as hex. CRC32C is checked.
"""
import json
import os
import struct
import sys
import time

SEGMENT_MAGIC = 0x4745534C4F524541  # "AEROLSEG"
BLOCK_MAGIC = 0x4B424C41            # "ALBK"
RING_MAGIC = 0x474E524C4F524541     # "AEROLRNG"
PAGE = 4096
PRICE_SCALE = 100_000_000
TYPE_NAMES = {1: "Text", 2: "Trade", 3: "Order", 4: "Quote", 5: "MarketData", 6: "Risk"}


def _crc32c_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_TABLE = _crc32c_table()


def crc32c(data, crc=0):
    crc ^= 0xFFFFFFFF
    for b in data:
        crc = _TABLE[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


class FormatError(Exception):
    pass


def segments(stream_dir):
    names = sorted(n for n in os.listdir(stream_dir) if n.endswith(".alog") and len(n) == 25 and n[:20].isdigit())
    return [os.path.join(stream_dir, n) for n in names]


def records(stream_dir, check_crc=True):
    """Yields (seq, type, flags, timestamp, payload) in seq order; raises FormatError on a gap."""
    expect = None
    for path in segments(stream_dir):
        with open(path, "rb") as f:
            data = f.read()
        if len(data) < PAGE:
            raise FormatError(f"{path}: shorter than a segment header")
        magic, _version, _hsize, base, generation = struct.unpack_from("<QIIQQ", data, 0)
        if magic != SEGMENT_MAGIC or struct.unpack_from("<I", data, 124)[0] != crc32c(data[:124]):
            raise FormatError(f"{path}: bad segment header")
        if expect is not None and base != expect:
            raise FormatError(f"{path}: starts at seq {base}, expected {expect}")
        off = PAGE
        while off + 64 <= len(data):
            bmagic, bcrc, length, count, first, last, gen = struct.unpack_from("<IIIIQQQ", data, off)
            if bmagic != BLOCK_MAGIC or gen != generation or off + length > len(data):
                break  # end of this segment's log
            if check_crc and crc32c(data[off + 8:off + length]) != bcrc:
                break
            p = off + 64
            for _ in range(count):
                flen, ftype, flags, seq, ts = struct.unpack_from("<IHHQQ", data, p)
                if expect is not None and seq != expect:
                    raise FormatError(f"{path}: seq {seq} where {expect} was due")
                yield seq, ftype, flags, ts, data[p + 24:p + flen]
                expect = seq + 1
                p += (flen + 7) & ~7
            off += (length + PAGE - 1) & ~(PAGE - 1)


# Offsets (bytes) of the fields this reader uses; `alog.py layout` prints them for the tests,
# which compare them with the C++ structs.
LAYOUT = {
    "ring.magic": 0, "ring.capacity": 16, "ring.write_pos": 128, "ring.last_seq": 136,
    "ring.payload_bytes": 144, "ring.dropped": 152, "ring.read_pos": 256, "ring.durable_seq": 384,
    "ring.state": 652, "ring.error": 672, "ring.header_size": 896,
    "frame.length": 0, "frame.type": 4, "frame.flags": 6, "frame.seq": 8, "frame.timestamp": 16, "frame.size": 24,
    "segment.base_seq": 16, "segment.generation": 24, "segment.crc": 124,
    "block.crc": 4, "block.length": 8, "block.count": 12, "block.first_seq": 16, "block.generation": 32, "block.size": 64,
    "batch.magic": 0, "batch.count": 8, "batch.first_seq": 16, "batch.last_seq": 24, "batch.size": 32,
    "trade.size": 64, "order.size": 72, "quote.size": 64, "marketdata.size": 64, "risk.size": 72, "text.size": 8,
}

SIDES = {1: "buy", 2: "sell"}
ACTIONS = {1: "new", 2: "cancel", 3: "replace", 4: "fill", 5: "partial_cancel"}
EVENTS = {1: "add", 2: "modify", 3: "remove", 4: "execute", 5: "clear", 6: "halt"}
VERDICTS = {0: "pass", 1: "warn", 2: "breach"}
LEVELS = ["trace", "debug", "info", "warn", "error", "critical"]
CSV_HEADER = "seq,timestamp_ns,type,symbol,event,side,price,qty,id,text"


def price(v):
    sign = "-" if v < 0 else ""
    a = abs(v)
    return f"{sign}{a // PRICE_SCALE}.{a % PRICE_SCALE:08d}"


def _sym(b):
    return b.split(b"\0")[0].decode("ascii", errors="surrogateescape")


def decode(ftype, payload):
    """The record's CSV columns after seq and timestamp: type, symbol, event, side, price, qty, id, text."""
    def need(n):
        return len(payload) >= n
    if ftype == 2 and need(64):
        sym, px, qty, tid, _oid, _ts, side = struct.unpack_from("<16sqqQQQB", payload)
        return ["Trade", _sym(sym), "trade", SIDES.get(side, ""), price(px), str(qty), str(tid), ""]
    if ftype == 3 and need(72):
        sym, oid, _orig, px, qty, _leaves, _ts, action, side = struct.unpack_from("<16sQQqqqQBB", payload)
        return ["Order", _sym(sym), ACTIONS.get(action, "action?"), SIDES.get(side, ""), price(px), str(qty), str(oid), ""]
    if ftype == 4 and need(64):
        sym, bp, bq, ap, aq = struct.unpack_from("<16sqqqq", payload)
        return ["Quote", _sym(sym), "quote", "", price(bp), str(bq), "", f"ask {price(ap)} x {aq}"]
    if ftype == 5 and need(64):
        sym, oid, px, qty, _ts, event, side = struct.unpack_from("<16sQqqQBB", payload)
        return ["MarketData", _sym(sym), EVENTS.get(event, "event?"), SIDES.get(side, ""), price(px), str(qty), str(oid), ""]
    if ftype == 6 and need(72):
        acct, sym, pos, expo, _lim, _pnl, check, verdict = struct.unpack_from("<16s16sqqqqIB", payload)
        return ["Risk", _sym(sym), VERDICTS.get(verdict, "verdict?"), "", price(expo), str(pos), str(check), _sym(acct)]
    if ftype == 1 and need(8):
        level = payload[0]
        return ["Text", "", LEVELS[level] if level < 6 else "level?", "", "", "", "",
                payload[8:].decode("utf-8", errors="surrogateescape")]
    if ftype in (1, 2, 3, 4, 5, 6):
        return [str(ftype), "", "", "", "", "", "", f"malformed: {len(payload)} bytes: {payload.hex()}"]
    return [str(ftype), "", "", "", "", "", "", payload.hex()]


def csv_field(s):
    if not any(c in s for c in ',"\n\r'):
        return s
    return '"' + s.replace('"', '""') + '"'


def csv_line(seq, ts, ftype, payload):
    t, sym, event, side, px, qty, rid, text = decode(ftype, payload)
    return ",".join([str(seq), str(ts), t, csv_field(sym), event, side, px, qty, rid, csv_field(text)])


class Tail:
    """Reads a stream directory incrementally: the records written since the last poll()."""

    def __init__(self, stream_dir):
        self.dir = stream_dir
        self.path, self.off, self.expect, self.generation = None, PAGE, None, None

    def _open_next(self):
        for path in segments(self.dir):
            base = int(os.path.basename(path)[:20])
            if (self.path is None and self.expect is None) or base == self.expect:
                if path != self.path:
                    with open(path, "rb") as f:
                        head = f.read(128)
                    if len(head) < 128 or struct.unpack_from("<Q", head, 0)[0] != SEGMENT_MAGIC:
                        return False
                    self.path, self.off, self.generation = path, PAGE, struct.unpack_from("<Q", head, 24)[0]
                    self.expect = base if self.expect is None else self.expect
                    return True
        return False

    def poll(self):
        out = []
        if self.path is None and not self._open_next():
            return out
        while True:
            with open(self.path, "rb") as f:
                f.seek(self.off)
                head = f.read(64)
                if len(head) == 64:
                    bmagic, bcrc, length, count, first, _last, gen = struct.unpack_from("<IIIIQQQ", head)
                    if bmagic == BLOCK_MAGIC and gen == self.generation and first == self.expect and length >= 88:
                        body = head + f.read(length - 64)
                        if len(body) == length and crc32c(body[8:]) == bcrc:
                            p = 64
                            for _ in range(count):
                                flen, ftype, _flags, seq, ts = struct.unpack_from("<IHHQQ", body, p)
                                out.append((seq, ftype, ts, body[p + 24:p + flen]))
                                self.expect = seq + 1
                                p += (flen + 7) & ~7
                            self.off += (length + PAGE - 1) & ~(PAGE - 1)
                            continue
            if not self._open_next():
                return out


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


def batch(files):
    sys.stdout.reconfigure(errors="surrogateescape")
    print(CSV_HEADER)
    for name in files:
        with open(name, "rb") as f:
            body = f.read()
        for seq, ftype, _flags, ts, payload in batch_records(body, name):
            print(csv_line(seq, ts, ftype, payload))


def cat(stream_dir, from_seq=0, follow=False):
    sys.stdout.reconfigure(errors="surrogateescape")
    print(CSV_HEADER)
    if not os.path.isdir(stream_dir):
        raise FormatError(f"{stream_dir}: not a directory")
    tail = Tail(stream_dir)
    while True:
        for seq, ftype, ts, payload in tail.poll():
            if seq >= from_seq:
                print(csv_line(seq, ts, ftype, payload))
        if not follow:
            return
        sys.stdout.flush()
        time.sleep(0.05)


def trade(payload):
    sym, price, qty, trade_id, order_id, exch_ts, side = struct.unpack_from("<16sqqQQQB", payload, 0)
    return {"symbol": sym.rstrip(b"\0").decode(), "price": price / PRICE_SCALE, "qty": qty,
            "trade_id": trade_id, "exch_ts": exch_ts, "aggressor": {1: "buy", 2: "sell"}.get(side, "?")}


def summary(stream_dir):
    n, first, last, types, trades = 0, None, None, {}, []
    for seq, ftype, _flags, _ts, payload in records(stream_dir):
        n += 1
        first = seq if first is None else first
        last = seq
        types[ftype] = types.get(ftype, 0) + 1
        if ftype == 2:
            t = trade(payload)
            if len(trades) < 1:
                trades.append(t)
            else:
                trades[1:] = [t]
    print(f"{stream_dir}: {n} records, seqs {first}..{last}, {len(segments(stream_dir))} segment(s)")
    print("  by type: " + ", ".join(f"{TYPE_NAMES.get(k, k)} {v}" for k, v in sorted(types.items())))
    for label, t in zip(("first trade", "last trade"), trades):
        print(f"  {label}: {t['symbol']} {t['qty']} @ {t['price']:.4f} (aggressor {t['aggressor']}, trade {t['trade_id']})")


def rings(shm_dir="/dev/shm"):
    found = False
    for name in sorted(os.listdir(shm_dir)):
        if not name.startswith("aerolog."):
            continue
        with open(os.path.join(shm_dir, name), "rb") as f:
            h = f.read(PAGE)
        if len(h) < 896 or struct.unpack_from("<Q", h, 0)[0] != RING_MAGIC:
            continue
        found = True
        cap = struct.unpack_from("<Q", h, 16)[0]
        wpos, last_seq, payload, dropped = struct.unpack_from("<QQQQ", h, 128)
        rpos = struct.unpack_from("<Q", h, 256)[0]
        durable = struct.unpack_from("<Q", h, 384)[0]
        state = struct.unpack_from("<I", h, 652)[0]
        err = h[672:768].split(b"\0")[0].decode(errors="replace")
        print(f"{name[8:]}: published {last_seq}, durable {durable}, lag {last_seq - durable}, "
              f"fill {100.0 * (wpos - rpos) / cap:.1f}% of {cap >> 20} MiB, dropped {dropped}, "
              f"state {['ok', 'quarantined', 'io_error'][state] if state < 3 else state}" + (f" ({err})" if err else ""))
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
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
