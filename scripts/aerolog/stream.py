"""Stream: a stream directory read into numpy (aerolog.frames) and pandas (aerolog.tables),
with seeks by seq and time and a follow of a live WAL up to the durable seq its ring publishes."""
import os
import struct
import time
import weakref
from concurrent.futures import ThreadPoolExecutor

from . import frames, wal

SHM_DIR = os.environ.get("AEROLOG_SHM_DIR") or "/dev/shm/aerolog"  # every program's default (proto/ring.hpp kDefaultShmDir)
RING_DURABLE_SEQ = 384  # proto/FORMAT.md 2.2: the ring header's durable_seq


def _first_ts(path):
    """The first_ts of a segment's first block, None if it has no good one (or is gone)."""
    try:
        with open(path, "rb") as f:
            base, generation = wal.check_segment_header(path, f)
            size = os.fstat(f.fileno()).st_size
            why, h = wal.check_block_header(lambda off, n: os.pread(f.fileno(), n, off), size, wal.PAGE, generation,
                                            base)
    except (OSError, wal.FormatError):
        return None
    return None if why else h[7]


class _Cursor(wal.Tail):
    """wal.Tail's walk over segments and blocks, with each good block's frames found by
    aerolog.frames on the mapped segment instead of one struct.unpack per record."""

    def __init__(self, stream):
        super().__init__(stream.dir, stream.check_crc)
        # A proxy: no cycle, so a Stream let go of closes its file at once (its __del__).
        self.stream, self.seg = weakref.proxy(stream), None
        self._start = None  # (segment path, offset, first seq) of the block a seek starts at

    def _open(self, path):
        if not super()._open(path):
            return False
        self.seg = self.stream._segment(path)
        start, self._start = self._start, None
        if start and start[0] == path:  # an index entry counts only if its block is there (FORMAT.md 4.3)
            why, _h = wal.check_block_header(self._read_map, self.size, start[1], self.generation, start[2])
            if why is None:
                self.off, self.expect = start[1], start[2]
        return True

    def _seek(self, path, reaches):
        """Starts at segment `path`: at the last entry (first_seq, offset, first_ts) of its sparse
        index for which reaches(entry) holds, at its first block without an index."""
        self.expect = wal.segment_name_base(os.path.basename(path))
        entries = [e for e in wal.load_index(path, self.expect) if reaches(e)]
        if entries:
            self._start = (path, entries[-1][1], entries[-1][0])

    def seek_seq(self, seq):
        """Starts at the segment holding `seq` (by the segment names), there at its index's last
        entry at or before `seq`."""
        below = [p for p in wal.segments(self.dir) if wal.segment_name_base(os.path.basename(p)) <= seq]
        if below:
            self._seek(below[-1], lambda e: e[0] <= seq)

    def seek_time(self, ns):
        """Starts at the last segment whose first block starts before `ns` (timestamps grow with
        seqs; a binary search on those blocks' headers), there at its index's last entry before
        `ns`; at the oldest segment if none does. Before, not at: a block may end with records of
        the time the next one starts with."""
        paths = wal.segments(self.dir)
        lo, hi, pick = 0, len(paths), None
        while lo < hi:
            mid = (lo + hi) // 2
            ts = _first_ts(paths[mid])
            if ts is not None and ts < ns:
                pick, lo = mid, mid + 1
            else:
                hi = mid
        if pick is not None:
            self._seek(paths[pick], lambda e: e[2] < ns)

    def blocks(self, limit, skip_seq, skip_ts, stop_seq, stop_ts):
        """The frames of the good blocks from here on, as a list of (segment index, offsets,
        heads): up to `limit` (a block with a later seq waits for the next call), stopping after
        stop_seq / stop_ts; blocks wholly before skip_seq / skip_ts are passed on their headers.
        The blocks of a segment are checked on their headers one by one here; their CRCs and
        frames (aerolog.frames.run_frames) are checked by the stream's threads, a segment each,
        while this walk goes on to the next segment as if they were good. If one is not, the
        segment ends at its bad block, and what was read after it is dropped."""
        if self.f is None and not self._next_segment():
            return []
        pending = []  # (segment, run, the expect before it, result or future), in seq order
        error_before = self.error
        while True:
            run, off, expect, stop, why = [], self.off, self.expect, False, None
            while True:
                why, h = wal.check_block_header(self._read_map, self.size, off, self.generation, expect)
                if why:
                    break
                first, last, first_ts, last_ts = h[4], h[5], h[7], h[8]
                if (limit is not None and last > limit) or first > stop_seq or first_ts > stop_ts:
                    stop = True
                    break
                if run or (last >= skip_seq and last_ts >= skip_ts):  # once one is kept, the rest too
                    run.append((off, h))
                else:
                    self.off, self.expect = off + wal._align(h[2], wal.PAGE), last + 1
                expect, off = last + 1, off + wal._align(h[2], wal.PAGE)
            if run:
                pending.append((self.seg, run, self.expect, self.stream._submit(frames.run_frames, self.seg, run,
                                                                               self.check_crc)))
                self.off, self.expect = off, expect  # as if every block of the run is good
            if stop or not self._next_segment():
                break
        try:
            results = [job.result() if hasattr(job, "result") else job for _s, _r, _b, job in pending]
        finally:  # a job that raised: the others must not go on using the segments
            for _s, _r, _b, job in pending:
                if hasattr(job, "result"):
                    job.cancel() or job.exception()
        parts = []
        for (seg, run, before, _job), (good, pos, heads) in zip(pending, results):
            if good:
                parts.append((self.stream._index[seg.path], pos, heads))
            if good < len(run):  # a bad block: the segment ends there (torn tail, or damage)
                self.error = error_before  # what the walk after it met does not count
                self.expect = run[good - 1][1][5] + 1 if good else before
                if not self._open(seg.path):
                    break
                self.off = run[good][0]
                if self._next_segment():
                    parts += self.blocks(limit, skip_seq, skip_ts, stop_seq, stop_ts)
                break
        return parts

    def _read_map(self, off, n):
        return self.seg.map[off:off + n]


class Stream:
    """A stream directory (<wal_dir>/<stream>), its segments mapped read-only.

        s = aerolog.open("/var/lib/aerolog/md-feed")
        r = s.read()                       # every record now readable: aerolog.frames.Records
        trades = r.array("Trade")          # numpy structured array (seq, timestamp, fields)
        df = s.dataframe("Order")          # pandas, typed: datetime64[ns], prices scaled, categories
        logs = s.logs()                    # log events, rendered, as a DataFrame

    Every block is checked as aerolog::Reader checks it (CRC32C included unless check_crc=False);
    reading stops at the first bad one, and damage() then says whether that is the end of the log
    (a torn tail) or damage. Raises wal.FormatError for a directory that is not a stream or a
    segment whose header fails its checks."""

    def __init__(self, path, check_crc=True, threads=None):
        self.dir, self.check_crc = os.path.abspath(path), check_crc
        self.name = os.path.basename(self.dir)
        self.segments, self._index = [], {}
        # Segments are checked, and arrays gathered, by `threads` threads (default: the CPUs, at
        # most 4); numpy and the CRC release the GIL. threads=1: all on the calling thread.
        self.threads = threads or min(os.cpu_count() or 1, 4)
        self._pool = ThreadPoolExecutor(self.threads) if self.threads > 1 else None
        self._last = _Cursor(self)  # checks every segment header now

    def _submit(self, fn, *args):
        """fn(*args) on the stream's threads (a future), or now when it has one thread (the result)."""
        return self._pool.submit(fn, *args) if self._pool else fn(*args)

    def _segment(self, path):
        """The mapped segment at `path` (an index into self.segments that stays its own)."""
        if path not in self._index:
            self._index[path] = len(self.segments)
            self.segments.append(None)
        i = self._index[path]
        if self.segments[i] is None:
            self.segments[i] = frames.Segment(path)
        return self.segments[i]

    def _release(self, keep=None):
        """Unmaps every segment but `keep` (a later use maps it again)."""
        for i, seg in enumerate(self.segments):
            if seg is not None and seg is not keep:
                seg.close()
                self.segments[i] = None

    def read(self, from_seq=0, to_seq=None, from_time=0, to_time=None):
        """The records with from_seq <= seq <= to_seq and from_time <= timestamp <= to_time, in seq
        order. A time is ns since the epoch, an ISO 8601 str ("2012-06-21T13:30:00Z"), a datetime,
        a pandas Timestamp or a numpy datetime64 (wal.to_ns). A seq seek starts at the segment that holds it (by the
        segment names), a time seek at the last segment that starts before it (a binary search on
        the segments' first block headers: records of one time may span two blocks); there both
        start at the segment's sparse index (<base_seq>.idx, when it passes its checks) and pass
        the blocks before the seq or time on their 64-byte headers, their frames not read."""
        from_time, to_time = wal.to_ns(from_time) or 0, wal.to_ns(to_time)
        cur = _Cursor(self)
        if from_seq:
            cur.seek_seq(from_seq)
        elif from_time:
            cur.seek_time(from_time)
        stop_seq = (1 << 64) - 1 if to_seq is None else to_seq
        stop_ts = (1 << 64) - 1 if to_time is None else to_time
        parts = cur.blocks(None, from_seq, from_time, stop_seq, stop_ts)
        self._keep_last(cur)
        r = frames.concat(parts, self.segments, self._submit)
        if not from_seq and not from_time and to_seq is None and to_time is None:
            return r  # no bounds: every record read is kept
        keep = (r.seq >= from_seq) & (r.seq <= stop_seq) & (r.timestamp >= from_time) & (r.timestamp <= stop_ts)
        return r if keep.all() else r.select(keep)

    def _keep_last(self, cur):
        """cur becomes the cursor damage() reports on; the one before lets go of its file."""
        if self._last is not cur and self._last.f:
            self._last.f.close()
            self._last.f = None
        self._last = cur

    def damage(self):
        """Why the last read() or follow() stopped short of the end of the log, None if it did not
        (wal.Tail.damage: a torn tail at the end of the last segment is the log's end)."""
        return self._last.damage()

    def durable_seq(self, shm_dir=SHM_DIR):
        """The durable seq the sidecar publishes in this stream's ring, None without a ring."""
        head = wal.read_shared(os.path.join(shm_dir, "aerolog." + self.name), RING_DURABLE_SEQ + 8)
        if head is None or len(head) < RING_DURABLE_SEQ + 8 or struct.unpack_from("<Q", head, 0)[0] != wal.RING_MAGIC:
            return None
        return struct.unpack_from("<Q", head, RING_DURABLE_SEQ)[0]

    def follow(self, shm_dir=SHM_DIR, interval=0.05, from_seq=0):
        """Yields Records as they become durable: records up to the durable seq of the stream's
        ring in shm_dir (all that is in the WAL when there is no ring file, e.g. after a reboot),
        then every `interval` seconds what was added, empty Records included (so a caller can
        stop). Never ends. A batch's array(), views() and payload() work until the next batch is
        asked for: the segments the walk has left are unmapped then."""
        cur = _Cursor(self)
        if from_seq:
            cur.seek_seq(from_seq)
        self._keep_last(cur)
        top = (1 << 64) - 1
        while True:
            self._release(keep=cur.seg)
            limit = self.durable_seq(shm_dir)
            r = frames.concat(cur.blocks(limit, from_seq, 0, top, top), self.segments, self._submit)
            yield r.select(r.seq >= from_seq) if len(r) and r.seq[0] < from_seq else r
            time.sleep(interval)

    def array(self, kind, **seek):
        """read(**seek).array(kind): one standard record type as a numpy structured array."""
        return self.read(**seek).array(kind)

    def dataframe(self, kind, raw_prices=False, index=False, **seek):
        """Any record kind (a name kinds() prints, or a type number) as a typed pandas DataFrame,
        indexed by timestamp with index=True (aerolog.tables.dataframe)."""
        from . import tables  # pandas: imported when asked for
        return tables.dataframe(self.read(**seek), kind, raw_prices, index, self.dir, self.name)

    def logs(self, index=False, **seek):
        """The log events (and Text records) as a DataFrame (aerolog.tables.logs)."""
        from . import tables
        df = tables.logs(self.read(**seek), self.dir, self.name)
        return df.set_index("timestamp", drop=False).rename_axis(None) if index else df

    def log_args(self, fmt, names=None, index=False, **seek):
        """The log events of format string `fmt`, each argument a column, named arg0.. or by
        `names` (aerolog.tables.log_args)."""
        from . import tables
        return tables.log_args(self.read(**seek), self.dir, fmt, names, index)

    def close(self):
        """Stops the threads, closes the files and unmaps the segments: Records read from this
        Stream keep their arrays (seq, timestamp, ...), but array(), views() and payload() no
        longer work (a view still held keeps its mapping until it goes)."""
        if self._pool:
            self._pool.shutdown()
            self._pool = None
        if self._last.f:
            self._last.f.close()
            self._last.f = None
        self._release()

    def __del__(self):
        """A Stream never closed closes its open file (no ResourceWarning) and stops its threads;
        its segments stay mapped for the Records read from it (each unmapped when they go)."""
        try:
            if self._pool:
                self._pool.shutdown(wait=False)
            if self._last.f:
                self._last.f.close()
        except Exception:  # at interpreter exit, modules may be gone already
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


__all__ = ["Stream"]
