#!/usr/bin/env python3
"""Pure-Python reader of AeroLog .alog WALs and shm rings (layouts: proto/FORMAT.md).

  alog.py summary DIR        records, seqs, types and first/last trades of a stream directory
  alog.py rings [SHM_DIR]    producer / durable seqs and fill of every ring (default /dev/shm)
"""
import os
import struct
import sys

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
        elif argv[1] == "rings" and len(argv) <= 3:
            rings(*argv[2:])
        else:
            print(__doc__.strip(), file=sys.stderr)
            return 2
    except (OSError, FormatError) as e:
        print(f"alog.py: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
