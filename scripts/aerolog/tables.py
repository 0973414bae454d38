"""Records as typed pandas DataFrames: timestamps as datetime64[ns] (UTC), prices as floats
(value / 1e8; raw_prices=True keeps the int64 fixed point), symbols and enums as categoricals,
and log events rendered as {fmt} renders them (aerolog.logfmt)."""
import numpy as np
import pandas as pd

from . import logfmt, wal

PRICE_FIELDS = {"price", "bid_price", "ask_price", "exposure", "limit", "pnl"}  # FORMAT.md 7: 1e-8 fixed point
TIME_FIELDS = {"timestamp", "exch_ts", "first_ns"}

def _names(by_value):
    """wal's {value: name} as a list by value ("" for a value without a name)."""
    return [by_value.get(v, "") for v in range(max(by_value) + 1)]


ENUMS = {  # field -> names by value (FORMAT.md 7); other values become NaN
    "side": _names(wal.SIDES), "aggressor": _names(wal.SIDES), "action": _names(wal.ACTIONS),
    "event": _names(wal.EVENTS), "verdict": _names(wal.VERDICTS),
}


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


def _enum(col, names):
    codes = col.astype(np.int64)
    codes[(codes < 0) | (codes >= len(names))] = -1
    return pd.Categorical.from_codes(codes, categories=names)


def dataframe(records, kind, raw_prices=False):
    """One standard record type ("Trade", "Order", "Quote", "MarketData", "Risk", "Dropped") of
    aerolog.frames.Records as a DataFrame: a column per field, in FORMAT.md 7's order after seq
    and timestamp (the producer's publish time); reserved bytes left out."""
    a = records.array(kind)
    cols = {}
    for name in a.dtype.names:
        col = a[name]
        if name in TIME_FIELDS:
            cols[name] = np.ascontiguousarray(col).view("datetime64[ns]")
        elif name in ENUMS:
            cols[name] = _enum(col, ENUMS[name])
        elif col.dtype.kind == "S":
            cols[name] = _text(col)
        elif name in PRICE_FIELDS and not raw_prices:
            cols[name] = col / wal.PRICE_SCALE
        else:
            cols[name] = np.ascontiguousarray(col)
    return pd.DataFrame(cols)


def logs(records, stream_dir, stream):
    """Log events (LogEvent records, with the LogSite records before them and the stream's site
    catalog) and Text records as a DataFrame: seq, timestamp, stream, level (ordered categorical,
    so df[df.level >= "warn"] works), file, line, function, format, message (rendered), args (a
    tuple of the raw values; prices as floats). A record that cannot be decoded (an event of an
    unknown site, bytes that do not match its types, a Text record shorter than its header) is a
    row with no level (NaN), empty args and the text `aerologctl cat` shows for it:
    "undecodable (why): <hex>" or "malformed: N bytes: <hex>"."""
    dec = logfmt.LogDecoder()
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
        "timestamp": np.array(rows["timestamp"], dtype=np.uint64).view("datetime64[ns]"),
        "stream": pd.Categorical([stream] * len(rows["seq"])),
        "level": pd.Categorical.from_codes(np.array(rows["level"], dtype=np.int64), categories=wal.LEVELS, ordered=True),
        "file": rows["file"], "line": np.array(rows["line"], dtype=np.uint32), "function": rows["function"],
        "format": rows["format"], "message": rows["message"], "args": rows["args"],
    })
    return df


def log_args(records, stream_dir, fmt):
    """The log events whose format string is `fmt` with their arguments as columns: seq,
    timestamp, then arg0, arg1, ... (dtypes as pandas infers them from the values: int64 for
    integers, float64 for floats and prices, object for strings)."""
    df = logs(records, stream_dir, "")
    rows = df[df.format == fmt]
    width = max((len(a) for a in rows.args), default=0)
    args = pd.DataFrame(list(rows.args), columns=[f"arg{k}" for k in range(width)], index=rows.index)
    return pd.concat([rows[["seq", "timestamp"]], args], axis=1).reset_index(drop=True)


__all__ = ["dataframe", "logs", "log_args"]
