"""Records as typed pandas DataFrames: timestamps timezone-aware UTC (datetime64[ns, UTC]; an
exchange timestamp of 0 is NaT), prices as floats (value / 1e8; raw_prices=True keeps the int64
fixed point), symbols and enums as categoricals (a value with no name is NaN), and log events
rendered as {fmt} renders them (aerolog.logfmt). Every kind Records.kinds() names has a
dataframe()."""
import struct

import numpy as np
import pandas as pd

from . import frames, logfmt, wal

PRICE_FIELDS = {"price", "bid_price", "ask_price", "exposure", "limit", "pnl"}  # FORMAT.md 7: 1e-8 fixed point
TIME_FIELDS = {"timestamp", "exch_ts", "first_ns"}

ENUMS = {  # field -> {value: name} (FORMAT.md 7.8); other values become NaN
    "side": wal.SIDES, "aggressor": wal.SIDES, "action": wal.ACTIONS, "event": wal.EVENTS, "verdict": wal.VERDICTS,
}
def utc(ns, zero_is_nat=False):
    """ns since the epoch (uint64 or int64 array) as datetime64[ns, UTC]."""
    v = np.array(ns, dtype=np.int64)
    if zero_is_nat:
        v[v == 0] = np.iinfo(np.int64).min  # NaT
    return pd.DatetimeIndex(v.view("datetime64[ns]")).tz_localize("UTC")


def _text(col):
    """A fixed-size char field as a categorical of str (up to its first NUL, as aerologctl)."""
    if not len(col):
        return pd.Categorical([])
    words = np.ascontiguousarray(col).view("<u8").reshape(len(col), -1)
    if not words[:, 1:].any():  # every value fits 8 bytes (tickers): hash the words
        codes, uniques = pd.factorize(words[:, 0])
        raw = uniques.astype("<u8").view("S8")
    else:
        raw, codes = np.unique(col, return_inverse=True)
    names = [bytes(b).split(b"\0")[0].decode("ascii", errors="surrogateescape") for b in raw]
    # Two raw values can be one name (bytes after a NUL): categories must be unique.
    cats = list(dict.fromkeys(names))
    remap = np.array([cats.index(n) for n in names], dtype=np.int64)
    return pd.Categorical.from_codes(remap[codes], categories=cats)


def _enum(col, by_value):
    values = sorted(by_value)
    lookup = np.full(256, -1, dtype=np.int64)
    lookup[values] = np.arange(len(values))
    return pd.Categorical.from_codes(lookup[np.asarray(col, dtype=np.uint8)], categories=[by_value[v] for v in values])


def _indexed(df, index):
    return df.set_index("timestamp", drop=False).rename_axis(None) if index else df


def dataframe(records, kind, raw_prices=False, index=False, stream_dir=None, stream=""):
    """One record kind of aerolog.frames.Records as a DataFrame (index=True: indexed by timestamp
    too). The standard fixed-size ones ("Trade", "Order", "Quote", "MarketData", "Risk",
    "Dropped"): a column per field, in FORMAT.md 7's order after seq and timestamp (the
    producer's publish time); reserved bytes left out. "Log" (or "LogEvent") and "Text": logs()
    of those records. "LogSite": one row per site definition. Any other type (a number): seq,
    timestamp, payload (bytes)."""
    t = wal.kind_type(kind)
    if t in (1, 8):
        return _indexed(logs(records.select(records.type == t), stream_dir, stream), index)
    if t == 7:
        return _indexed(_sites(records), index)
    if t not in frames.RECORDS:
        r = records.select(records.type == t)
        return _indexed(pd.DataFrame({"seq": r.seq, "timestamp": utc(r.timestamp),
                                      "payload": [r.payload(i) for i in range(len(r))]}), index)
    a = records.array(t)
    cols = {}
    for name in a.dtype.names:
        col = a[name]
        if name in TIME_FIELDS:
            cols[name] = utc(col, zero_is_nat=name != "timestamp")
        elif name in ENUMS:
            cols[name] = _enum(col, ENUMS[name])
        elif col.dtype.kind == "S":
            cols[name] = _text(col)
        elif name in PRICE_FIELDS and not raw_prices:
            cols[name] = col / wal.PRICE_SCALE
        else:
            cols[name] = np.ascontiguousarray(col)
    return _indexed(pd.DataFrame(cols), index)


def _sites(records):
    """The LogSite records: seq, timestamp, site, level, file, line, function, format, types."""
    rows = []
    for i in np.flatnonzero(records.type == 7):
        try:
            site = logfmt.Site(int(records.seq[i]), records.payload(i))
        except (ValueError, IndexError, struct.error):
            continue  # malformed: as cat, nothing to show
        rows.append((site.seq, int(records.timestamp[i]), site.id, site.level, site.file, site.line, site.function,
                     site.format, tuple(site.types)))
    cols = list(zip(*rows)) or [()] * 9
    return pd.DataFrame({
        "seq": np.array(cols[0], dtype=np.uint64), "timestamp": utc(np.array(cols[1], dtype=np.uint64)),
        "site": np.array(cols[2], dtype=np.uint32),
        "level": pd.Categorical.from_codes(np.array(cols[3], dtype=np.int64), categories=wal.LEVELS, ordered=True),
        "file": list(cols[4]), "line": np.array(cols[5], dtype=np.uint32), "function": list(cols[6]),
        "format": list(cols[7]), "types": list(cols[8]),
    })


def logs(records, stream_dir, stream):
    """Log events (LogEvent records, with the LogSite records before them and the stream's site
    catalog) and Text records as a DataFrame: seq, timestamp, stream, level (ordered categorical,
    so df[df.level >= "warn"] works), file, line, function, format, message (rendered), args (a
    tuple of the raw values; prices as floats). A record that cannot be decoded (an event of an
    unknown site, bytes that do not match its types, a Text record shorter than its header) is a
    row with no level (NaN), empty args and the text `aerologctl cat` shows for it:
    "undecodable (why): <hex>" or "malformed: N bytes: <hex>"."""
    dec = logfmt.LogDecoder()
    if stream_dir:
        dec.load_catalog(stream_dir, wal.crc32c)
    rows = {k: [] for k in ("seq", "timestamp", "level", "file", "line", "function", "format", "message", "args")}

    def add(seq, ts, level, file, line, function, fmt, message, args):
        for k, v in zip(rows, (seq, ts, level, file, line, function, fmt, message, args)):
            rows[k].append(v)

    idx = np.flatnonzero(np.isin(records.type, (1, 7, 8)))
    for i in idx:
        t, seq, ts = int(records.type[i]), int(records.seq[i]), int(records.timestamp[i])
        payload = records.payload(i)
        if t == 7:
            dec.add_site(seq, payload)
        elif t == 8:
            event = dec.decode(seq, payload)
            if event:
                site, values = event
                args = tuple(v / wal.PRICE_SCALE if k == 14 else v for k, v in zip(site.types, values))
                add(seq, ts, site.level, site.file, site.line, site.function, site.format, dec.render(site, values),
                    args)
            else:
                add(seq, ts, -1, "", 0, "", "", f"undecodable ({dec.error}): {payload.hex()}", ())
        elif len(payload) >= 8:
            add(seq, ts, payload[0] if payload[0] < 6 else -1, "", 0, "", "",
                payload[8:].decode("utf-8", errors="surrogateescape"), ())
        else:
            add(seq, ts, -1, "", 0, "", "", f"malformed: {len(payload)} bytes: {payload.hex()}", ())
    df = pd.DataFrame({
        "seq": np.array(rows["seq"], dtype=np.uint64),
        "timestamp": utc(np.array(rows["timestamp"], dtype=np.uint64)),
        "stream": pd.Categorical([stream] * len(rows["seq"])),
        "level": pd.Categorical.from_codes(np.array(rows["level"], dtype=np.int64), categories=wal.LEVELS, ordered=True),
        "file": rows["file"], "line": np.array(rows["line"], dtype=np.uint32), "function": rows["function"],
        "format": rows["format"], "message": rows["message"], "args": rows["args"],
    })
    return df


def log_args(records, stream_dir, fmt, names=None, index=False):
    """The log events whose format string is `fmt` with their arguments as columns: seq,
    timestamp, then arg0, arg1, ... or the given `names` (dtypes as pandas infers them from the
    values: int64 for integers, float64 for floats and prices, object for strings)."""
    df = logs(records, stream_dir, "")
    rows = df[df.format == fmt]
    width = max((len(a) for a in rows.args), default=fmt.count("{") - 2 * fmt.count("{{"))
    if names is None:
        names = [f"arg{k}" for k in range(width)]
    elif len(names) != width:
        raise ValueError(f"{len(names)} names for the {width} arguments of {fmt!r}")
    args = pd.DataFrame(list(rows.args), columns=list(names), index=rows.index)
    return _indexed(pd.concat([rows[["seq", "timestamp"]], args], axis=1).reset_index(drop=True), index)


__all__ = ["dataframe", "logs", "log_args", "utc"]
