"""AeroLog's WAL from Python: numpy arrays, pandas DataFrames, rendered log events.

    import aerolog
    with aerolog.open("/var/lib/aerolog/md-feed") as s:        # a stream directory
        r = s.read()                                            # all records now readable, in seq order
        r.kinds()                                               # {"Trade": 6268, "Order": 85729}
        trades = r.array("Trade")                               # numpy structured array, one copy
        orders = s.dataframe("Order", from_time=t0, to_time=t1) # typed pandas DataFrame
        warn = s.logs().query("level >= 'warn'")                # log events, rendered
        for new in s.follow(shm_dir="/dev/shm"):                # as they become durable
            ...

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
