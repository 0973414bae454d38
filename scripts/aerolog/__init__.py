"""AeroLog's WAL from Python: numpy arrays, pandas DataFrames, rendered log events.

    import aerolog
    with aerolog.open("/var/lib/aerolog/md-feed") as s:        # a stream directory
        r = s.read()                                            # all records now readable, in seq order
        r.kinds()                                               # {"Trade": 6268, "Order": 85729}
        trades = r.array("Trade")                               # numpy structured array, one copy
        orders = s.dataframe("Order", from_time=t0, to_time=t1) # typed pandas DataFrame
        warn = s.logs().query("level >= 'warn'")                # log events, rendered
        for new in s.follow(shm_dir="/dev/shm/aerolog"): # as they become durable
            ...
    lines = aerolog.logger_logs("/var/lib/aerolog", "app")      # a logger's thread streams, merged

Modules: wal (segments, blocks, CRC32C, record-by-record reading; pure Python), frames (blocks
into numpy), tables (pandas), stream (Stream), logfmt (log events rendered as {fmt} renders
them). open() needs numpy, dataframe() and logs() pandas too; wal and logfmt need neither
(alog.py uses only those). Layouts: proto/FORMAT.md.
"""
from .wal import FormatError, crc32c  # noqa: F401

RECORD_TYPES = ("Trade", "Order", "Quote", "MarketData", "Risk", "Dropped")


def open(path, check_crc=True, threads=None):  # noqa: A001  (aerolog.open, like io.open)
    """A stream directory (<wal_dir>/<stream>) as an aerolog.stream.Stream, its segments checked
    by `threads` threads (default: the CPUs, at most 4). Raises FormatError for a directory that
    is not a stream, or a segment whose header fails its checks."""
    from .stream import Stream
    return Stream(path, check_crc, threads)


def logger_logs(wal_dir, logger, **seek):
    """A logger's log lines: the logs() of each of its thread streams (<wal_dir>/<logger>.t1,
    .t2, ...: every stream directory named <logger>.*) merged by timestamp, as `aerologctl cat
    LOGGER` merges them (equal timestamps: in the order of the streams' names, then seq).
    `seek`: from_time / to_time (seqs are per stream). Raises FormatError if there is none."""
    import os
    import pandas as pd
    if set(seek) - {"from_time", "to_time"}:
        raise TypeError(f"logger_logs: from_time and to_time only (seqs are per stream), not {sorted(seek)}")
    names = sorted(n for n in os.listdir(wal_dir) if n.startswith(logger + ".")
                   and os.path.isdir(os.path.join(wal_dir, n)))
    if not names:
        raise FormatError(f"{wal_dir}: no stream of logger '{logger}' (<logger>.t1, ...)")
    parts = []
    for name in names:
        with open(os.path.join(wal_dir, name)) as s:
            parts.append(s.logs(**seek))
    out = pd.concat(parts, ignore_index=True)
    out["stream"] = pd.Categorical(out["stream"].astype(str), categories=names)
    return out.sort_values("timestamp", kind="stable", ignore_index=True)
