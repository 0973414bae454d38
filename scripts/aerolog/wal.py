"""The WAL's files (proto/FORMAT.md), in pure Python: segment names and headers, blocks and their
checks, CRC32C, and Tail, which reads a stream directory record by record as aerolog::Reader
does. alog.py is built on it; aerolog.frames reads the same blocks into numpy arrays.
"""
import ctypes
import difflib
import os
import re
import stat
import struct

SEGMENT_MAGIC = 0x4745534C4F524541  # "AEROLSEG"
BLOCK_MAGIC = 0x4B424C41            # "ALBK"
RING_MAGIC = 0x474E524C4F524541     # "AEROLRNG"
INDEX_MAGIC = 0x5844494C4F524541    # "AEROLIDX"
PAGE = 4096
PRICE_SCALE = 100_000_000
TYPE_NAMES = {1: "Text", 2: "Trade", 3: "Order", 4: "Quote", 5: "MarketData", 6: "Risk", 7: "LogSite", 8: "Log",
              9: "Dropped"}
TYPE_BY_NAME = dict({name: t for t, name in TYPE_NAMES.items()}, LogEvent=8)  # proto/log.hpp's name too


def to_ns(t):
    """A time as ns since the epoch: an int (ns), an ISO 8601 str ("2012-06-21T09:30:00.5Z"; no
    zone means UTC, an offset like +02:00 is applied), a datetime (naive: UTC), a pandas
    Timestamp or a numpy datetime64. None stays None."""
    import datetime
    import numpy as np
    if t is None:
        return None
    if isinstance(t, (int, np.integer)) and not isinstance(t, bool):
        return int(t)
    if isinstance(t, np.datetime64):
        return int(t.astype("datetime64[ns]").astype(np.int64))
    if hasattr(t, "value") and hasattr(t, "tz_localize"):  # a pandas Timestamp: .value is UTC ns
        return int(t.value)
    if isinstance(t, datetime.datetime):
        if t.tzinfo is None:
            t = t.replace(tzinfo=datetime.timezone.utc)
        d = t - datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
        return (d.days * 86400 + d.seconds) * 1_000_000_000 + d.microseconds * 1000
    if isinstance(t, str):
        m = re.fullmatch(r"\s*(.*?)\s*(Z|[+-]\d\d:?\d\d)?\s*", t)
        try:
            ns = int(np.datetime64(m.group(1), "ns").astype(np.int64))
        except ValueError:
            raise ValueError(f"{t!r} is not an ISO 8601 time (e.g. 2012-06-21T09:30:00.123456789Z)") from None
        zone = m.group(2)
        if zone and zone != "Z":
            hh, mm = int(zone[1:3]), int(zone[-2:])
            ns -= (1 if zone[0] == "+" else -1) * (hh * 3600 + mm * 60) * 1_000_000_000
        return ns
    raise TypeError(f"{t!r}: a time is ns since the epoch (int), an ISO 8601 str, a datetime, a pandas Timestamp "
                    "or a numpy datetime64")


def kind_type(kind):
    """A record kind (a name Records.kinds() prints, or a type number) as its type number; a
    misspelt name is a ValueError that lists the valid ones."""
    if isinstance(kind, int) or hasattr(kind, "__index__"):
        return int(kind)
    if kind in TYPE_BY_NAME:
        return TYPE_BY_NAME[kind]
    guess = difflib.get_close_matches(str(kind), list(TYPE_BY_NAME), n=1)
    raise ValueError(f"{kind!r} is not a record kind" + (f" (did you mean {guess[0]!r}?)" if guess else "") +
                     f"; the kinds are {', '.join(TYPE_NAMES.values())} or a type number")


def read_shared(path, n):
    """The first n bytes of a file in the shm directory, which other users' processes make: opened
    without following a symlink or blocking on a FIFO, and only if it is a regular file with one
    link (docs/security.md); None otherwise."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        return os.pread(fd, n, 0) if stat.S_ISREG(st.st_mode) and st.st_nlink == 1 else None
    finally:
        os.close(fd)


_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # C0 but tab and newline, DEL, C1


def terminal_safe(line):
    """A text or CSV line as aerologctl prints it (FORMAT.md 11.3): every control character but tab
    and newline, C1 included, shown as \\xNN for each of its UTF-8 bytes."""
    return _CONTROL.sub(lambda m: "".join(f"\\x{b:02x}" for b in m.group().encode()), line)


def printable(text):
    """Text from shared memory or a record, safe to print: control characters become '?'."""
    return "".join(c if c.isprintable() else "?" for c in text)


def _crc32c_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


def _load_isal():
    """ISA-L's crc32_iscsi (libisal2, a dependency of the aerolog package), or None."""
    try:
        lib = ctypes.CDLL("libisal.so.2")
    except OSError:
        return None
    fn = lib.crc32_iscsi
    fn.argtypes, fn.restype = [ctypes.c_void_p, ctypes.c_int, ctypes.c_uint32], ctypes.c_uint32
    return fn


_ISAL = _load_isal()
_TABLE = None if _ISAL else _crc32c_table()
_CHUNK = 1 << 30  # crc32_iscsi takes an int length


def crc32c_at(address, n, crc=0):
    """CRC32C (FORMAT.md "CRC32C") of n bytes at a memory address (a numpy array's .ctypes.data)."""
    if _ISAL is None:
        return crc32c(ctypes.string_at(address, n), crc)
    state = crc ^ 0xFFFFFFFF
    while n:
        k = min(n, _CHUNK)
        state = _ISAL(address, k, state)
        address, n = address + k, n - k
    return state ^ 0xFFFFFFFF


def crc32c(data, crc=0):
    """CRC32C of bytes-like `data`: ISA-L when libisal.so.2 is there (GB/s), else a table (~10 MB/s)."""
    if _ISAL is not None:
        buf = data if isinstance(data, bytes) else bytes(data)
        state = crc ^ 0xFFFFFFFF
        for at in range(0, len(buf), _CHUNK):
            state = _ISAL(buf[at:at + _CHUNK] if len(buf) > _CHUNK else buf, min(len(buf) - at, _CHUNK), state)
        return state ^ 0xFFFFFFFF
    crc ^= 0xFFFFFFFF
    for b in data:
        crc = _TABLE[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


# Names of the standard records' enum values (FORMAT.md 7), by value; alog.py and aerolog.tables
# show them.
SIDES = {1: "buy", 2: "sell"}
ACTIONS = {1: "new", 2: "cancel", 3: "replace", 4: "fill", 5: "partial_cancel"}
EVENTS = {1: "add", 2: "modify", 3: "remove", 4: "execute", 5: "clear", 6: "halt"}
VERDICTS = {0: "pass", 1: "warn", 2: "breach"}
LEVELS = ["trace", "debug", "info", "warn", "error", "critical"]


class FormatError(Exception):
    pass


SEGMENT_VERSION = 1
BLOCK_HEADER = struct.Struct("<IIIIQQQQQQ")  # magic crc length count first last generation first_ts last_ts durable
FRAME_HEADER = struct.Struct("<IHHQQ")       # length type flags seq timestamp
MAX_FRAME = 1 << 20


def _align(n, a):
    return (n + a - 1) & ~(a - 1)


def segment_name_base(name):
    """The base_seq in a segment file name (<20 digits>.alog), None if `name` is not one."""
    if len(name) != 25 or not name.endswith(".alog") or not name[:20].isdigit() or not name[:20].isascii():
        return None
    base = int(name[:20])
    return base if 0 < base < 1 << 64 else None


def valid_stream_name(s):
    return 1 <= len(s) <= 64 and s not in (".", "..") and all(c.isascii() and (c.isalnum() or c in "_.-") for c in s)


def segments(stream_dir):
    names = sorted(n for n in os.listdir(stream_dir) if segment_name_base(n))
    return [os.path.join(stream_dir, n) for n in names]


def check_segment_header(path, f):
    """The header checks of FORMAT.md 4.1, as aerolog's C++ readers and the sidecar's recovery make
    them: returns (base_seq, generation) or raises FormatError. segment_size is not compared with
    the file size: the blocks that lie within the file are read."""
    size = os.fstat(f.fileno()).st_size
    if size < PAGE:
        raise FormatError(f"{path}: shorter than a segment header ({size} bytes; a segment starts with a "
                          f"4096-byte header page): not a segment, or a truncated one")
    head = os.pread(f.fileno(), 128, 0)
    magic, version, header_size, base, generation = struct.unpack_from("<QIIQQ", head, 0)
    if magic != SEGMENT_MAGIC:
        raise FormatError(f"{path}: not a valid .alog segment (bad magic)")
    if version != SEGMENT_VERSION:
        raise FormatError(f"{path}: not a valid .alog segment (format version {version}; this reader reads 1)")
    if struct.unpack_from("<I", head, 124)[0] != crc32c(head[:124]):
        raise FormatError(f"{path}: not a valid .alog segment (header CRC mismatch: the header is damaged)")
    if header_size != PAGE or base == 0:
        raise FormatError(f"{path}: not a valid .alog segment (header_size {header_size}, base_seq {base})")
    full = os.path.abspath(path)
    name_base = segment_name_base(os.path.basename(full))
    if name_base and base != name_base:
        raise FormatError(f"{path}: header base_seq {base} does not match the file name: a renamed or misplaced "
                          f"file; give it its right name ({base:020d}.alog) or move it out of the stream directory")
    stream = head[48:112].split(b"\0")[0].decode("ascii", errors="replace")
    dir_name = os.path.basename(os.path.dirname(full))
    if name_base and valid_stream_name(dir_name) and stream != dir_name:
        raise FormatError(f"{path}: header says stream '{stream}' but the file lies in the directory of stream "
                          f"'{dir_name}': it belongs to another stream; move it to that stream's directory")
    return base, generation


INDEX_HEADER = struct.Struct("<QQQII")  # magic base_seq last_seq count crc
INDEX_ENTRY = struct.Struct("<QQQ")     # first_seq offset first_ts


def load_index(segment_path, base):
    """The entries (first_seq, offset, first_ts) of a segment's sparse index, <base_seq>.idx beside
    it, if it passes every check of FORMAT.md 4.3; else [] (then the block headers are scanned)."""
    try:
        with open(segment_path[:-len(".alog")] + ".idx", "rb") as f:
            data = f.read(INDEX_HEADER.size + INDEX_ENTRY.size * (1 << 24) + 1)  # as the C++ reader: 2^24 entries
    except OSError:
        return []
    if len(data) < INDEX_HEADER.size:
        return []
    magic, index_base, last, count, crc = INDEX_HEADER.unpack_from(data)
    if len(data) != INDEX_HEADER.size + INDEX_ENTRY.size * count or magic != INDEX_MAGIC or index_base != base or \
            count < 1:
        return []
    if crc32c(data[:28] + data[32:]) != crc:
        return []
    entries = [INDEX_ENTRY.unpack_from(data, INDEX_HEADER.size + INDEX_ENTRY.size * i) for i in range(count)]
    if entries[0][:2] != (base, PAGE) or any(off % PAGE or seq > last for seq, off, _ts in entries):
        return []
    if any(b[0] <= a[0] or b[1] <= a[1] for a, b in zip(entries, entries[1:])):
        return []
    return entries


def check_block_header(read, size, off, generation, expect):
    """The checks of FORMAT.md 5 that need only the block's 64-byte header: (None, header) when
    they pass, else (why, None). header: BLOCK_HEADER's fields (magic, crc, length, count, first,
    last, generation, first_ts, last_ts, durable_at_submit)."""
    if off + BLOCK_HEADER.size > size:
        return "block header runs past the end of the file", None
    h = BLOCK_HEADER.unpack(read(off, BLOCK_HEADER.size))
    magic, _crc, length, count, first, last, gen = h[:7]
    if magic != BLOCK_MAGIC:
        return ("no block (zeros)" if magic == 0 else "bad block magic"), None
    if length < 64 + 24 or length % 8:
        return "bad block length", None
    if _align(length, PAGE) > size - off:
        return "block runs past the end of the file", None
    if gen != generation:
        return "block from another segment generation", None
    if count == 0 or last != first + count - 1:
        return "block count and seqs disagree", None
    if expect is not None and first != expect:
        return "block seqs do not continue the log", None
    return None, h


def check_block(read, size, off, generation, expect, check_crc=True):
    """The block checks of FORMAT.md 5 (aerolog's block_check), on the block at `off` of a segment
    of `size` bytes; read(offset, n) returns its bytes. Returns (None, header, records) when the
    block is good, else (why, None, None). expect None accepts any first seq. check_crc=False skips
    the CRC, never the other checks."""
    why, h = check_block_header(read, size, off, generation, expect)
    if why:
        return why, None, None
    crc, length, count, first = h[1], h[2], h[3], h[4]
    block = read(off, length)
    if check_crc and crc32c(memoryview(block)[8:]) != crc:
        return "block CRC mismatch", None, None
    out, p = [], 64
    for i in range(count):
        if p + 24 > length:
            return "frame runs past the block", None, None
        flen, ftype, flags, seq, ts = FRAME_HEADER.unpack_from(block, p)
        if ftype == 0 or flen < 24 or flen > MAX_FRAME:
            return "bad frame in block", None, None
        if seq != first + i:
            return "frame seq does not match the block", None, None
        if p + _align(flen, 8) > length:
            return "frame runs past the block", None, None
        out.append((seq, ftype, flags, ts, block[p + 24:p + flen]))
        p += _align(flen, 8)
    if p != length:
        return "block length does not match its frames", None, None
    return None, h, out


def corrupt_after(read, size, off, generation, expect):
    """FORMAT.md 8 on what follows a segment's last good block (at `off`; `expect` = the next seq):
    the first later valid block whose durable_at_submit >= expect proves mid-log corruption, as
    (offset, header); None means zeros or a torn tail."""
    for p in range(off + PAGE, size, PAGE):
        page = read(p, 4)
        if page != BLOCK_MAGIC.to_bytes(4, "little"):
            continue
        why, h, _ = check_block(read, size, p, generation, None)
        if why is None and h[9] >= expect:
            return p, h
    return None


class Tail:
    """Reads a stream directory as aerolog::Reader does: poll() returns the records written since
    the last poll(), in seq order; damage() says why reading stopped short of the log's end."""

    def __init__(self, stream_dir, check_crc=True):
        self.dir, self.check_crc = stream_dir, check_crc
        self.f, self.path, self.size, self.off, self.expect, self.generation = None, None, 0, PAGE, None, None
        self.error = None  # a segment header that failed its checks after the start
        if not os.path.isdir(stream_dir):
            raise FormatError(f"{stream_dir}: not a directory")
        paths = segments(stream_dir)
        if not paths and not os.path.exists(os.path.join(stream_dir, ".spare.alog")):
            raise FormatError(f"{stream_dir}: not a stream directory (no .alog segments)")
        for path in paths:  # every header now: a segment recovery would refuse is an error at once
            try:
                f = open(path, "rb")
            except FileNotFoundError:  # retention deleted it since the listing
                continue
            with f:
                check_segment_header(path, f)

    def _read(self, off, n):
        return os.pread(self.f.fileno(), n, off)  # unbuffered: a followed segment changes under us

    def _open(self, path):
        try:
            f = open(path, "rb")
        except FileNotFoundError:  # retention deleted it since the listing: it is not there to read
            return False
        try:
            base, generation = check_segment_header(path, f)
        except FormatError as e:
            f.close()
            self.error = str(e)
            return False
        if self.f:
            self.f.close()
        self.f, self.path, self.off, self.generation = f, path, PAGE, generation
        self.size = os.fstat(f.fileno()).st_size
        self.expect = base if self.expect is None else self.expect
        return True

    def _next_segment(self):
        """Moves to the segment that carries on from the seqs read so far."""
        for path in segments(self.dir):
            base = segment_name_base(os.path.basename(path))
            if path != self.path and (self.expect is None or base == self.expect):
                return self._open(path)
        return False

    def poll(self):
        out = []
        if self.f is None and not self._next_segment():
            return out
        while True:
            why, h, recs = check_block(self._read, self.size, self.off, self.generation, self.expect,
                                       self.check_crc)
            if why is None:
                out.extend(recs)
                self.expect = h[5] + 1
                self.off += _align(h[2], PAGE)
            elif not self._next_segment():
                return out

    def damage(self):
        """Why reading stopped short of the end of the log, None if it did not: a bad segment
        header, a later segment that does not carry on (records missing), or mid-log corruption.
        A torn tail at the end of the last segment is the end of the log, as for recovery."""
        if self.error:
            return self.error
        if self.f is None:
            return None
        why, _h, _recs = check_block(self._read, self.size, self.off, self.generation, self.expect)
        if why is None:
            return None
        at = f"{self.path}: the log stops after seq {self.expect - 1} (offset {self.off}: {why})"
        later = [p for p in segments(self.dir) if p > self.path]
        if later:
            return f"{at} but the next segment, {later[0]}, starts at seq " \
                   f"{segment_name_base(os.path.basename(later[0]))}: records are missing"
        bad = corrupt_after(self._read, self.size, self.off, self.generation, self.expect)
        if bad:
            return f"{at} but the block at offset {bad[0]} (seqs {bad[1][4]}..{bad[1][5]}) was written after seq " \
                   f"{self.expect} was acknowledged: mid-log corruption (the sidecar refuses this stream)"
        return None


def records(stream_dir, check_crc=True):
    """Yields (seq, type, flags, timestamp, payload) in seq order; raises FormatError at damage."""
    tail = Tail(stream_dir, check_crc)
    yield from tail.poll()
    damage = tail.damage()
    if damage:
        raise FormatError(damage)
