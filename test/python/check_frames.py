#!/usr/bin/python3
"""Checks of the aerolog Python package against aerologctl's output (run by test/test_python.cpp
with PYTHONPATH=scripts):

  check_frames.py csv STREAM_DIR CAT.csv     every row of `aerologctl cat --format csv` equals the
                                             row rebuilt from the package's typed DataFrames
  check_frames.py logs STREAM_DIR CAT.jsonl  every log event's rendered message, level, file, line
                                             and format equal `aerologctl cat --format json`'s
  check_frames.py logger WAL_DIR NAME CAT.jsonl
                                             aerolog.logger_logs(): the logger's thread streams
                                             merged, line for line as `aerologctl cat NAME`
  check_frames.py seek STREAM_DIR            read() with seq and time bounds returns exactly the
                                             records inside them; a seek goes through the sparse
                                             index, and not through a bogus one
  check_frames.py summary STREAM_DIR         {"records", "last_seq", "damage"} or {"error"} as JSON,
                                             for comparison with aerolog::Reader on damaged WALs
  check_frames.py follow STREAM_DIR SHM N    follows until N records arrived (60 s at most): each
                                             batch continues the last, never past the ring's durable seq
  check_frames.py pandas MIX_DIR LOG_DIR     what a pandas user expects of the stream test_python's
                                             "pandas" case writes: UTC timestamps (NaT for a zero
                                             exchange time), no empty category, a dataframe() for
                                             every kind, times in any form, named log_args, no
                                             ResourceWarning

Prints what it compared; exit 1 with the first difference.
"""
import json
import sys

import numpy as np
import pandas as pd

import aerolog


def engine():
    """What found the frames: "native" (libaerolog_frames.so) or "numpy"."""
    return "native" if aerolog.frames.NATIVE is not None else "numpy"


def fail(msg):
    print(f"check_frames.py: {msg}")
    sys.exit(1)


def rows_from_frames(s):
    """{seq: CSV line} rebuilt from the typed DataFrames (the CSV columns: FORMAT.md, aerologctl cat)."""
    out = {}
    r = s.read()
    for kind in r.kinds():
        df = s.dataframe(kind)
        ts = df["timestamp"].values.view("u8")
        side = df["aggressor" if kind == "Trade" else "side"].astype(str).replace("nan", "")
        exch = ["" if pd.isna(x) else str(x.value) for x in df["exch_ts"]]  # NaT: 0, not known
        none = [""] * len(df)
        if kind == "Order":
            event, px, qty, rid = df["action"].astype(str), df["price"], df["qty"], df["order_id"]
            leaves, ref = df["leaves_qty"].astype(str), [str(v) if v else "" for v in df["orig_order_id"]]
        elif kind == "Trade":
            event, px, qty, rid = ["trade"] * len(df), df["price"], df["qty"], df["trade_id"]
            leaves, ref = none, [str(v) if v else "" for v in df["order_id"]]
        elif kind == "MarketData":
            event, px, qty, rid = df["event"].astype(str), df["price"], df["qty"], df["order_id"]
            leaves, ref = none, none
        else:
            fail(f"no CSV rebuild for {kind} records")
        for seq, t, sym, ev, sd, p, q, i, x, lv, rf in zip(df["seq"], ts, df["symbol"].astype(str), event, side, px,
                                                           qty, rid, exch, leaves, ref):
            out[int(seq)] = f"{seq},{t},{kind},{sym},{ev},{sd},{p:.8f},{q},{i},,{x},{lv},{rf},{s.name}"
    return out


def check_csv(stream_dir, csv_path):
    with open(csv_path) as f:
        lines = f.read().splitlines()
    if lines[0] != "seq,ts,type,symbol,event,side,price,qty,id,text,exch_ts,leaves_qty,ref_id,stream":
        fail(f"unexpected CSV header {lines[0]!r}")
    with aerolog.open(stream_dir) as s:
        rows = rows_from_frames(s)
        if len(rows) != len(lines) - 1:
            fail(f"{len(rows)} rows from the DataFrames, {len(lines) - 1} in the CSV")
        for line in lines[1:]:
            seq = int(line.split(",", 1)[0])
            if rows.get(seq) != line:
                fail(f"seq {seq}: DataFrame row {rows.get(seq)!r} but aerologctl {line!r}")
        kinds = s.read().kinds()
    print(f"equal: {len(rows)} rows ({', '.join(f'{k} {v}' for k, v in kinds.items())}), frames by {engine()}")


def check_logs(stream_dir, jsonl_path):
    with open(jsonl_path) as f:
        events = [json.loads(line) for line in f if line.strip()]
    events = [e for e in events if "message" in e]
    with aerolog.open(stream_dir) as s:
        df = s.logs()
    if len(df) != len(events):
        fail(f"{len(df)} log events from the package, {len(events)} from aerologctl")
    for row, e in zip(df.itertuples(), events):
        got = (int(row.seq), row.message, str(row.level), row.line, row.format)
        want = (e["seq"], e["message"], e["level"], e["line"], e["format"])
        if got != want:
            fail(f"seq {e['seq']}: package {got!r} but aerologctl {want!r}")
        if not e["file"].endswith(row.file.rsplit("/", 1)[-1]):
            fail(f"seq {e['seq']}: file {row.file!r} but aerologctl {e['file']!r}")
    warn = df[df.level >= "warn"]
    # Each round's closing line, "round {} of {} done", as typed columns.
    closing = [e for e in events if e["format"] == "round {} of {} done"]
    with aerolog.open(stream_dir) as s:
        cols = s.log_args("round {} of {} done")
    rounds = len(closing)
    if list(cols.columns) != ["seq", "timestamp", "arg0", "arg1"] or cols.arg0.dtype != np.int64:
        fail(f"log_args columns {list(cols.columns)} {list(cols.dtypes)}")
    if list(cols.seq) != [e["seq"] for e in closing] or list(cols.arg0) != list(range(rounds)) or \
            set(cols.arg1) != {rounds}:
        fail(f"log_args of the closing line: {cols.head()}")
    print(f"equal: {len(df)} log events, {len(warn)} at warn or above, {rounds} closing lines as columns, "
          f"frames by {engine()}")


def check_logger(wal_dir, logger, jsonl_path):
    with open(jsonl_path) as f:
        events = [json.loads(line) for line in f if line.strip()]
    df = aerolog.logger_logs(wal_dir, logger)
    if len(df) != len(events):
        fail(f"{len(df)} lines from logger_logs, {len(events)} from aerologctl cat {logger}")
    for row, e in zip(df.itertuples(), events):
        got = (str(row.stream), int(row.seq), row.message)
        want = (e["stream"], e["seq"], e["message"])
        if got != want:
            fail(f"line {row.Index}: package {got!r} but aerologctl {want!r}")
    print(f"equal: {len(df)} lines of {df.stream.nunique()} thread streams merged as aerologctl merges them")


def check_seek(stream_dir):
    with aerolog.open(stream_dir) as s:
        r = s.read()
        n = len(r)
        if n < 10:
            fail("too few records to seek in")
        for lo, hi in ((1, 1), (n // 3, n // 3 + 1000), (n - 5, n + 10), (n + 1, n + 5)):
            got = s.read(from_seq=lo, to_seq=hi).seq
            want = r.seq[(r.seq >= lo) & (r.seq <= hi)]
            if not np.array_equal(got, want):
                fail(f"read(from_seq={lo}, to_seq={hi}) gave {len(got)} records, want {len(want)}")
        t0, t1 = int(r.timestamp[n // 2]), int(r.timestamp[n // 2 + 500])
        got = s.read(from_time=t0, to_time=t1).seq
        want = r.seq[(r.timestamp >= t0) & (r.timestamp <= t1)]
        if not np.array_equal(got, want):
            fail(f"read(from_time, to_time) gave {len(got)} records, want {len(want)}")
        views = r.views("Order")
        if sum(len(v) for v in views) != len(r.array("Order")):
            fail("views() and array() disagree on the Order count")
        first = views[0][0]
        if int(first["seq"]) != int(r.array("Order")["seq"][0]):
            fail("views()[0] does not start at the first Order")
        if len(s.dataframe("Quote")) != 0:  # a type with no record: an empty frame, not an error
            fail("dataframe('Quote') of a WAL without quotes is not empty")
    with aerolog.open(stream_dir) as s:  # the last segment mapped first, then all of them
        s.read(from_seq=n - 5)
        r = s.read()
        got = r.array("Order")["seq"]  # read from the frames' bytes, in each record's own segment
        if not np.array_equal(got, r.seq[r.type == 3]):
            fail("after a late seek, array('Order') gathered records from the wrong segments")
        segments = len(s.segments)
    print(f"seeks: ok over {n} records in {segments} segments; {len(views)} zero-copy Order views; "
          f"frames by {engine()}")


def check_index_seek(stream_dir):
    """Seeks by seq and by time start at the sparse index's entry (fewer block headers read than
    without the index, the same records), and an index entry that names the wrong block is not
    followed."""
    import os
    from aerolog import wal
    segs = wal.segments(stream_dir)
    if len(segs) < 2:
        fail("the index check needs a sealed segment (and the one after it)")
    seg, idx = segs[-2], segs[-2][:-len(".alog")] + ".idx"
    base = wal.segment_name_base(os.path.basename(seg))
    target = wal.segment_name_base(os.path.basename(segs[-1])) - 1  # the sealed segment's last record
    entries = wal.load_index(seg, base)
    if len(entries) < 2:
        fail(f"{idx}: no valid index of 2 entries or more ({len(entries)})")
    with aerolog.open(stream_dir) as s:
        r = s.read()
    at_time = int(r.timestamp[r.seq == target][0])
    want = {"seq": [target], "time": [int(q) for q in r.seq[r.timestamp == at_time]]}

    def seek(by):  # (block headers read, seqs) of a seek to the target, by seq or by its time
        count, check = [0], wal.check_block_header

        def counting(*args):
            count[0] += 1
            return check(*args)
        wal.check_block_header = counting
        try:
            with aerolog.open(stream_dir) as s:
                if by == "seq":
                    seqs = s.read(from_seq=target, to_seq=target).seq
                else:
                    seqs = s.read(from_time=at_time, to_time=at_time).seq
            return count[0], [int(q) for q in seqs]
        finally:
            wal.check_block_header = check

    with open(idx, "rb") as f:
        good = f.read()
    try:
        by_index = {by: seek(by) for by in want}
        os.rename(idx, idx + ".aside")
        scanned = {by: seek(by) for by in want}
        # A valid index (CRC and order right) whose last entry, where the seeks start, names a seq
        # its block does not hold.
        (s1, off1, ts1) = entries[-1]
        at = wal.INDEX_HEADER.size + wal.INDEX_ENTRY.size * (len(entries) - 1)
        bogus = good[:at] + wal.INDEX_ENTRY.pack(s1 + 1, off1, ts1) + good[at + wal.INDEX_ENTRY.size:]
        bogus = bogus[:28] + wal.INDEX_HEADER.pack(0, 0, 0, 0, wal.crc32c(bogus[:28] + bogus[32:]))[28:] + bogus[32:]
        with open(idx, "wb") as f:
            f.write(bogus)
        if len(wal.load_index(seg, base)) != len(entries):
            fail("the bogus index does not pass the index checks: it tests nothing")
        misled = {by: seek(by) for by in want}
    finally:
        with open(idx, "wb") as f:
            f.write(good)
        if os.path.exists(idx + ".aside"):
            os.remove(idx + ".aside")
    for by in want:
        for name, (_n, seqs) in (("the index", by_index[by]), ("no index", scanned[by]),
                                 ("a bogus index", misled[by])):
            if seqs != want[by]:
                to = f"seq {target}" if by == "seq" else f"time {at_time} (seq {target}'s)"
                fail(f"a seek to {to} with {name} gave {seqs[:5]}, want {want[by][:5]}")
        # With the bogus entry, its block's header was checked, then the segment scanned.
        if not by_index[by][0] < scanned[by][0] <= misled[by][0]:
            fail(f"block headers read by a seek by {by}: {by_index[by][0]} with the index, {scanned[by][0]} without, "
                 f"{misled[by][0]} with a bogus one (want fewer with the index, at least as many without)")
    print(f"index seek: {by_index['seq'][0]} and {by_index['time'][0]} block headers read by seq and by time with "
          f"the index, {scanned['seq'][0]} and {scanned['time'][0]} without; a bogus entry is not followed")


def summary(stream_dir):
    try:
        with aerolog.open(stream_dir) as s:
            r = s.read()
            print(json.dumps({"records": len(r), "last_seq": int(r.seq[-1]) if len(r) else 0,
                              "damage": s.damage() or "", "engine": engine()}))
    except aerolog.FormatError as e:
        print(json.dumps({"error": str(e)}))


def follow(stream_dir, shm_dir, n):
    import time
    deadline, got, last = time.time() + 60, 0, 0
    with aerolog.open(stream_dir) as s:
        for r in s.follow(shm_dir=shm_dir, interval=0.02):
            if len(r):
                durable = s.durable_seq(shm_dir)
                if int(r.seq[0]) != last + 1 or (np.diff(r.seq) != 1).any():
                    fail(f"a batch of seqs {r.seq[0]}..{r.seq[-1]} after {last}")
                if durable is not None and int(r.seq[-1]) > durable:
                    fail(f"seq {r.seq[-1]} given before it was durable ({durable})")
                got, last = got + len(r), int(r.seq[-1])
            if got >= n or time.time() > deadline:
                break
    print(f"followed {got} records, seqs 1..{last}")
    if got < n:
        sys.exit(1)


def check_pandas(mix_dir, log_dir):
    import datetime
    import gc
    import warnings

    import pandas as pd
    warnings.simplefilter("always")
    with warnings.catch_warnings(record=True) as caught:
        s = aerolog.open(mix_dir)  # never closed: its files close when it goes
        trades = s.dataframe("Trade")
        if str(trades.timestamp.dtype) != "datetime64[ns, UTC]" or str(trades.exch_ts.dtype) != "datetime64[ns, UTC]":
            fail(f"timestamps are {trades.timestamp.dtype} and {trades.exch_ts.dtype}, not datetime64[ns, UTC]")
        if not (pd.isna(trades.exch_ts.iloc[0]) and trades.exch_ts.iloc[1] == pd.Timestamp(1_340_285_400_000_000_000,
                                                                                          tz="UTC")):
            fail(f"exch_ts: {list(trades.exch_ts)} (want NaT for 0, then 2012-06-21 13:30 UTC)")
        orders = s.dataframe("Order", index=True)
        if "" in list(orders.side.cat.categories) or not pd.isna(orders.side.iloc[0]) or orders.side.iloc[1] != "buy":
            fail(f"side: categories {list(orders.side.cat.categories)}, values {list(orders.side)}")
        if str(orders.index.dtype) != "datetime64[ns, UTC]" or not (orders.index == orders.timestamp).all():
            fail(f"index=True: the index is {orders.index.dtype}")
        kinds = s.read().kinds()
        for kind, n in kinds.items():
            if len(s.dataframe(kind)) != n:
                fail(f"dataframe({kind!r}) has {len(s.dataframe(kind))} rows, kinds() says {n}")
        if set(kinds) != {"Trade", "Order", "Text", 4242}:
            fail(f"kinds: {kinds}")
        if s.dataframe(4242).payload.iloc[0] != b"\x01\x02\x03\x04":
            fail(f"a user type's payload: {s.dataframe(4242).payload.iloc[0]!r}")
        if list(s.dataframe("Text").message) != ["wide spread"]:
            fail(f"Text: {list(s.dataframe('Text').message)}")
        try:
            s.dataframe("Trades")
            fail("a misspelt kind was accepted")
        except ValueError as e:
            if "did you mean 'Trade'" not in str(e) or "Order" not in str(e):
                fail(f"a misspelt kind says: {e}")
        t = int(s.read().timestamp[2])
        want = len(s.read(from_time=t))
        for form in (pd.Timestamp(t, tz="UTC"), np.datetime64(t, "ns"), str(np.datetime64(t, "ns")) + "Z",
                     str(np.datetime64(t, "ns") + np.timedelta64(2, "h")) + "+02:00"):
            if len(s.read(from_time=form)) != want:
                fail(f"from_time={form!r}: {len(s.read(from_time=form))} records, not {want}")
        us = t // 1000 * 1000  # a datetime holds microseconds
        when = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc) + datetime.timedelta(microseconds=us // 1000)
        if len(s.read(from_time=when)) != len(s.read(from_time=us)) or len(
                s.read(from_time=when.replace(tzinfo=None))) != len(s.read(from_time=us)):
            fail(f"from_time={when!r} differs from {us} ns")
        try:
            s.read(from_time="yesterday-ish")
            fail("a bad time string was accepted")
        except ValueError as e:
            if "ISO 8601" not in str(e):
                fail(f"a bad time says: {e}")
        lg = aerolog.open(log_dir)
        named = lg.log_args("round {} of {} done", names=["i", "n"])
        if list(named.columns) != ["seq", "timestamp", "i", "n"] or list(named.i) != [0, 1]:
            fail(f"log_args with names: {list(named.columns)} {list(named.i)}")
        if str(lg.logs().timestamp.dtype) != "datetime64[ns, UTC]":
            fail("logs(): timestamps not UTC")
        del s, lg, trades, orders, named
        gc.collect()
    import tracemalloc
    resource = [str(w.message) + "".join(tracemalloc.get_object_traceback(w.source).format()
                                         if w.source is not None and tracemalloc.is_tracing() else "")
                for w in caught if issubclass(w.category, ResourceWarning)]
    if resource:
        fail(f"ResourceWarning: {resource[0]}")
    print("pandas: ok, frames by " + engine())


if __name__ == "__main__":
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "csv" and len(sys.argv) == 4:
        check_csv(sys.argv[2], sys.argv[3])
    elif cmd == "logs" and len(sys.argv) == 4:
        check_logs(sys.argv[2], sys.argv[3])
    elif cmd == "logger" and len(sys.argv) == 5:
        check_logger(sys.argv[2], sys.argv[3], sys.argv[4])
    elif cmd == "seek" and len(sys.argv) == 3:
        check_seek(sys.argv[2])
        check_index_seek(sys.argv[2])
    elif cmd == "summary" and len(sys.argv) == 3:
        summary(sys.argv[2])
    elif cmd == "pandas" and len(sys.argv) == 4:
        check_pandas(sys.argv[2], sys.argv[3])
    elif cmd == "follow" and len(sys.argv) == 5:
        follow(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        print(__doc__.strip())
        sys.exit(2)
