"""A stream directory's records as numpy arrays (layouts: proto/FORMAT.md).

Segments are mapped read-only; every block passes the same checks as in aerolog::Reader and
aerolog.wal (header, generation, seq continuity, CRC32C, frames). Records hold, for every frame
in seq order, its segment and offset and its header fields; array(kind) gathers one record type
into a structured array (a copy, in one pass), views(kind) gives zero-copy strided views on the
mapped segments, one per run of equally long frames.

Two ways to find the frames, with the same results: NATIVE, libaerolog_frames.so (C++, the
Reader's own block checks, called by ctypes with the GIL released), found beside this package
(where the .deb installs it) or at $AEROLOG_FRAMES_LIB; without it, numpy array operations
(about half the speed; AEROLOG_FRAMES_LIB= , empty, asks for them).
"""
import ctypes
import mmap
import os

import numpy as np

from . import wal

def _record(fields, size):
    """A frame (header + payload) as a structured dtype: seq, timestamp, then the payload's fields."""
    names, formats, offsets = ["seq", "timestamp"], ["<u8", "<u8"], [8, 16]
    for name, fmt, off in fields:
        names.append(name)
        formats.append(fmt)
        offsets.append(wal.FRAME_HEADER.size + off)
    return np.dtype({"names": names, "formats": formats, "offsets": offsets,
                     "itemsize": wal.FRAME_HEADER.size + size})


# The standard records (FORMAT.md 7): type -> (name, dtype of the whole frame, payload size).
RECORDS = {
    2: ("Trade", [("symbol", "S16", 0), ("price", "<i8", 16), ("qty", "<i8", 24), ("trade_id", "<u8", 32),
                  ("order_id", "<u8", 40), ("exch_ts", "<u8", 48), ("aggressor", "u1", 56)], 64),
    3: ("Order", [("symbol", "S16", 0), ("order_id", "<u8", 16), ("orig_order_id", "<u8", 24), ("price", "<i8", 32),
                  ("qty", "<i8", 40), ("leaves_qty", "<i8", 48), ("exch_ts", "<u8", 56), ("action", "u1", 64),
                  ("side", "u1", 65)], 72),
    4: ("Quote", [("symbol", "S16", 0), ("bid_price", "<i8", 16), ("bid_qty", "<i8", 24), ("ask_price", "<i8", 32),
                  ("ask_qty", "<i8", 40), ("exch_ts", "<u8", 48)], 64),
    5: ("MarketData", [("symbol", "S16", 0), ("order_id", "<u8", 16), ("price", "<i8", 24), ("qty", "<i8", 32),
                       ("exch_ts", "<u8", 40), ("event", "u1", 48), ("side", "u1", 49), ("level", "<u2", 50)], 64),
    6: ("Risk", [("account", "S16", 0), ("symbol", "S16", 16), ("position", "<i8", 32), ("exposure", "<i8", 40),
                 ("limit", "<i8", 48), ("pnl", "<i8", 56), ("check_id", "<u4", 64), ("verdict", "u1", 68)], 72),
    9: ("Dropped", [("count", "<u8", 0), ("first_ns", "<u8", 8)], 16),
}
RECORDS = {t: (name, _record(fields, size), size) for t, (name, fields, size) in RECORDS.items()}
TYPE_OF = {name: t for t, (name, _d, _s) in RECORDS.items()}


FRAMES_ABI = 1  # libaerolog/src/frame_table.hpp: kFrameTableAbi


def _load_native():
    """libaerolog_frames.so (its C ABI: libaerolog/src/frame_table.hpp), or None: numpy finds the
    frames. One named by AEROLOG_FRAMES_LIB that does not load or answers another ABI version is
    an ImportError (asked for, so not a silent slow path); one beside the package that does
    neither is a warning (a broken install), and numpy finds the frames."""
    path = os.environ.get("AEROLOG_FRAMES_LIB")
    if path == "":
        return None
    beside = os.path.join(os.path.dirname(os.path.abspath(__file__)), "libaerolog_frames.so")
    if not path and not os.path.exists(beside):
        return None
    try:
        lib = ctypes.CDLL(path or beside)
        abi = lib.aerolog_frames_abi()
        if abi != FRAMES_ABI:
            raise OSError(f"ABI {abi}, this package needs {FRAMES_ABI} (a library of another version)")
    except (OSError, AttributeError) as e:
        if path:
            raise ImportError(f"AEROLOG_FRAMES_LIB={path}: {e}") from e
        import warnings
        warnings.warn(f"{beside}: {e}; finding frames with numpy instead (slower)")
        return None
    p, i64, u64 = ctypes.c_void_p, ctypes.c_int64, ctypes.c_uint64
    lib.aerolog_frame_table.argtypes = [p, u64, u64, p, i64, u64, ctypes.c_int, p, p, p, p, i64, p]
    lib.aerolog_frame_table.restype = i64
    lib.aerolog_gather.argtypes = [p, p, i64, i64, p]
    lib.aerolog_gather.restype = None
    return lib


NATIVE = _load_native()


class Segment:
    """One mapped segment file: its bytes as uint8, uint32 and uint64 arrays and as frames at
    every 8-byte offset (the frame views overlap: index i is the frame at byte 8 * i)."""

    def __init__(self, path):
        with open(path, "rb") as f:
            self.base, self.generation = wal.check_segment_header(path, f)
            self.size = os.fstat(f.fileno()).st_size
            self.map = mmap.mmap(f.fileno(), self.size, prot=mmap.PROT_READ)
        self.path = path
        self.u8 = np.frombuffer(self.map, dtype=np.uint8)
        self.u32 = self.u8[:self.size & ~7].view("<u4")
        self.u64 = self.u8[:self.size & ~7].view("<u8")
        self.u16 = self.u8[:self.size & ~7].view("<u2")
        self.address = self.u8.ctypes.data

    def prefetch(self, off, n):
        """Reads [off, off + n) in ahead (the page tables in one go, not a fault per 4 KiB)."""
        self.map.madvise(mmap.MADV_WILLNEED, off & ~(mmap.PAGESIZE - 1), n + (off & (mmap.PAGESIZE - 1)))

    def close(self):
        """Unmaps it (arrays viewing it must be gone; if one is not, the mapping goes with it)."""
        self.u8 = self.u16 = self.u32 = self.u64 = None
        try:
            self.map.close()
        except BufferError:
            pass

    def at_every_8(self, dtype):
        """The segment as an array of `dtype` items starting at every 8-byte offset."""
        n = (self.size - dtype.itemsize) // 8 + 1
        return np.ndarray((max(n, 0),), dtype=dtype, buffer=self.map, offset=0, strides=(8,))


_CHUNK = 1 << 15  # words per pass of _seq_words: the temporaries stay in the L2 cache


def _seq_words(words, s0, n):
    """Indexes of the words with s0 <= word < s0 + n, in chunks (no temporaries of the
    segment's size, which would cost a page fault per 4 KiB on every pass)."""
    lo, count = np.uint64(s0), np.uint64(n)
    tmp, hit, out = np.empty(_CHUNK, np.uint64), np.empty(_CHUNK, bool), []
    for at in range(0, len(words), _CHUNK):
        part = words[at:at + _CHUNK]
        k = len(part)
        np.subtract(part, lo, out=tmp[:k])  # wraps below s0: one compare tests both bounds
        np.less(tmp[:k], count, out=hit[:k])
        found = np.flatnonzero(hit[:k])
        if found.size:
            out.append(found + at)
    return np.concatenate(out) if out else np.empty(0, np.int64)


def _on_chain(pos, lens, first, total):
    """Which candidate frame positions lie on a chain (FORMAT.md 6: each frame starts where the
    one before ends, 8-aligned): `first` marks the chains' starts (a block's first frame). A
    payload word that looks like a seq makes a false candidate; it is on a chain only if another
    false one ends where it starts, so a few rounds drop them all. None if more remain than
    `total` frames after 4 rounds."""
    lo = int(pos[0]) // 8 if pos.size else 0
    span = (int(pos[-1]) // 8 - lo + 1) if pos.size else 0
    nxt = (pos + ((lens.astype(np.int64) + 7) & ~7)) // 8 - lo
    sane = (lens >= 24) & (lens <= wal.MAX_FRAME)  # a frame's length; 0 would chain to itself
    keep = sane
    for _ in range(4):
        mark = np.zeros(span + 1, dtype=bool)
        ends = nxt[keep]
        mark[np.minimum(ends[ends >= 0], span)] = True
        now = (mark[pos // 8 - lo] | first) & sane
        if (now == keep).all() or now.sum() == total:
            return now
        keep = now
    return None


def _chain_from_seqs(seg, off, length, count, first):
    """The frame offsets of a good block, found from the seqs in their headers: every 8-byte slot
    whose u64 at +8 is one of the block's seqs is a candidate; payload bytes may look like a seq,
    so the candidates are kept only if they make the exact chain (FORMAT.md 6: each frame starts
    where the one before ends, 8-aligned). None if they do not (then _chain_walk decides)."""
    lo, hi = (off + 64) // 8, (off + length) // 8
    seqs = seg.u64[lo + 1:hi]  # the word at +8 of every slot that can hold a frame header
    cand = _seq_words(seqs, first, count)
    if cand.size != count:
        keep = _on_chain((lo + cand) * 8, seg.u32[(lo + cand) * 2], cand == 0, count)
        if keep is None:
            return None
        cand = cand[keep]
        if cand.size != count:
            return None
    pos = (lo + cand) * 8
    if (seqs[cand] != first + np.arange(count, dtype=np.uint64)).any():
        return None
    lens = seg.u32[pos // 4].astype(np.int64)
    ends = pos + ((lens + 7) & ~7)
    if pos[0] != off + 64 or ends[-1] != off + length or (ends[:-1] != pos[1:]).any():
        return None
    return pos


def _chain_walk(seg, off, length, count):
    """The same offsets by following the lengths, a run of equally long frames at a time: exact
    for any block, and fast when runs are long. None if the frames do not fit the block."""
    out, p, end, left, window = [], off + 64, off + length, count, 16
    while left:
        if p + 24 > end:
            return None
        flen = int(seg.u32[p // 4])
        stride = (flen + 7) & ~7
        if flen < 24:
            return None
        fit = min(left, (end - p) // stride, window)
        if fit <= 0:
            return None
        pos = p + stride * np.arange(fit, dtype=np.int64)
        bad = np.flatnonzero(seg.u32[pos // 4] != flen)
        run = int(bad[0]) if bad.size else fit
        out.append(pos[:run])
        p, left = p + stride * run, left - run
        window = window * 4 if run == fit else 16
    return np.concatenate(out) if out else np.empty(0, np.int64)


def block_frames(seg, off, h):
    """(why, offsets, heads): the byte offsets in `seg` of the frames of the block at `off` whose
    header `h` passed wal.check_block_header (and its CRC), and their header fields (a dict of
    arrays: length, type, seq, timestamp), or why the block is bad (FORMAT.md 5) and None, None."""
    length, count, first = h[2], h[3], h[4]
    pos = _chain_from_seqs(seg, off, length, count, first)
    if pos is None:
        pos = _chain_walk(seg, off, length, count)
        if pos is None or pos.size != count:
            return "bad frame in block", None, None
    heads = _heads(seg, pos)
    lens, types, seqs = heads["length"], heads["type"], heads["seq"]
    if not types.all() or lens.min() < 24 or lens.max() > wal.MAX_FRAME:
        return "bad frame in block", None, None
    if seqs[0] != first or (np.diff(seqs) != 1).any():
        return "frame seq does not match the block", None, None
    ends = pos + ((lens.astype(np.int64) + 7) & ~7)
    if ends[-1] != off + length or (ends[:-1] != pos[1:]).any():
        return "block length does not match its frames", None, None
    return None, pos, heads


def _heads(seg, pos, lens=None, first=None):
    """The header fields of the frames at `pos` (lengths and seqs when already known)."""
    words = pos // 8
    return {"length": seg.u32[words * 2] if lens is None else lens,
            "type": seg.u16[words * 4 + 2],
            "seq": seg.u64[words + 1] if first is None else np.arange(first, first + len(pos), dtype=np.uint64),
            "timestamp": seg.u64[words + 2]}


def _run_at_once(seg, offs, lens, counts, firsts):
    """(pos, lengths) of the frames of consecutive good blocks of one segment (their headers and
    CRCs checked, seqs continuing), found in one pass over all of them: the candidates of
    _chain_from_seqs, kept only if they are exactly the chain in every block. None if they are
    not (then block by block)."""
    total, s0 = int(counts.sum()), int(firsts[0])
    lo, hi = int(offs[0]) // 8, int(offs[-1] + lens[-1]) // 8
    cand = _seq_words(seg.u64[lo + 1:hi], s0, total)  # slot lo + c has a seq at word lo + c + 1
    pos = (lo + cand) * 8
    flen = seg.u32[pos // 4]
    # Not frames: a length no frame has (payload bytes that look like a seq, e.g. an order id,
    # mostly have one), and the block headers' own seqs (first, last, durable_at_submit).
    keep = (flen >= 24) & (flen <= wal.MAX_FRAME)
    hdr = np.concatenate([offs + 8, offs + 16, offs + 48])
    at = np.searchsorted(pos, hdr)
    ok = at < pos.size
    at, hdr = at[ok], hdr[ok]
    keep[at[pos[at] == hdr]] = False
    if not keep.all():
        cand, pos, flen = cand[keep], pos[keep], flen[keep]
    if cand.size != total:
        starts = offs + 64  # each block's first frame
        at = np.searchsorted(pos, starts)
        ok = at < pos.size
        at, starts = at[ok], starts[ok]
        first = np.zeros(pos.size, dtype=bool)
        first[at[pos[at] == starts]] = True
        keep = _on_chain(pos, flen, first, total)
        if keep is None or keep.sum() != total:
            return None
        cand, pos, flen = cand[keep], pos[keep], flen[keep]
    if (seg.u64[lo + 1 + cand] != np.arange(s0, s0 + total, dtype=np.uint64)).any():
        return None
    ends = pos + ((flen.astype(np.int64) + 7) & ~7)
    last = np.cumsum(counts) - 1  # each block's last frame
    want = ends[:-1].copy()
    want[last[:-1]] = offs[1:] + 64  # after a block's last frame: the next block's first
    if pos[0] != offs[0] + 64 or (pos[1:] != want).any() or (ends[last] != offs + lens).any():
        return None
    return pos, flen


def _native_frames(seg, blocks, check_crc):
    """run_frames by libaerolog_frames.so."""
    offs = np.array([b[0] for b in blocks], dtype=np.int64)
    first = blocks[0][1][4]
    # Room for the frames the headers announce, but no more than their lengths can hold (a
    # header's count is not tied to its length until the frames are walked).
    cap = min(blocks[-1][1][5] - first + 1, sum((h[2] - 64) // 24 for _off, h in blocks))
    pos, lens = np.empty(cap, np.int64), np.empty(cap, np.uint32)
    types, stamps = np.empty(cap, np.uint16), np.empty(cap, np.uint64)
    n = ctypes.c_int64(0)
    good = NATIVE.aerolog_frame_table(seg.address, seg.size, seg.generation, offs.ctypes.data, len(blocks), first,
                                      int(check_crc), pos.ctypes.data, lens.ctypes.data, types.ctypes.data,
                                      stamps.ctypes.data, cap, ctypes.byref(n))
    n = n.value
    return good, pos[:n], {"length": lens[:n], "type": types[:n], "timestamp": stamps[:n],
                           "seq": np.arange(first, first + n, dtype=np.uint64)}


def run_frames(seg, blocks, check_crc=True):
    """(good, pos, heads) for consecutive blocks [(offset, header)] of one segment whose headers
    passed wal.check_block_header: how many of them are good (the first bad one ends the run),
    and their frames' offsets and header fields. NATIVE when loaded; else one pass of numpy for
    the whole run when it can, block by block (block_frames) when not."""
    seg.prefetch(blocks[0][0], blocks[-1][0] + blocks[-1][1][2] - blocks[0][0])
    if NATIVE is not None:
        return _native_frames(seg, blocks, check_crc)
    good = len(blocks)
    if check_crc:
        for i, (off, h) in enumerate(blocks):
            if wal.crc32c_at(seg.address + off + 8, h[2] - 8) != h[1]:
                good = i
                break
    if good:
        offs = np.array([b[0] for b in blocks[:good]], dtype=np.int64)
        lens = np.array([b[1][2] for b in blocks[:good]], dtype=np.int64)
        counts = np.array([b[1][3] for b in blocks[:good]], dtype=np.int64)
        firsts = np.array([b[1][4] for b in blocks[:good]], dtype=np.uint64)
        found = _run_at_once(seg, offs, lens, counts, firsts)
        if found is not None:
            pos, flen = found
            heads = _heads(seg, pos, flen, int(firsts[0]))
            if heads["type"].all() and flen.min() >= 24 and flen.max() <= wal.MAX_FRAME:
                return good, pos, heads
    parts = []
    for i, (off, h) in enumerate(blocks[:good]):
        why, pos, heads = block_frames(seg, off, h)
        if why:
            good = i
            break
        parts.append((pos, heads))
    if not parts:
        return 0, np.empty(0, np.int64), _heads(seg, np.empty(0, np.int64))
    return good, np.concatenate([p[0] for p in parts]), {
        k: np.concatenate([p[1][k] for p in parts]) for k in ("length", "type", "seq", "timestamp")}


class Records:
    """Frames in seq order: per frame its segment (an index into .segments), offset, length,
    type, seq and timestamp (numpy arrays of one length, copies). array(), views() and payload()
    read the mapped segments: they need the Stream open, and the segment not yet recycled by
    the sidecar's retention (which reuses the oldest segment's file for a new one)."""

    def __init__(self, segments, seg_index, offset, length, ftype, seq, timestamp, submit=None):
        self.segments, self._submit = segments, submit
        self.seg_index, self.offset, self.length = seg_index, offset, length
        self.type, self.seq, self.timestamp = ftype, seq, timestamp

    def __len__(self):
        return len(self.seq)

    def select(self, mask):
        """The records where a boolean (or index) array over these records is true."""
        return Records(self.segments, self.seg_index[mask], self.offset[mask], self.length[mask], self.type[mask],
                       self.seq[mask], self.timestamp[mask], self._submit)

    def kinds(self):
        """{record type name or number: count} of these records."""
        types, counts = np.unique(self.type, return_counts=True)
        return {wal.TYPE_NAMES.get(int(t), int(t)): int(c) for t, c in zip(types, counts)}

    def _of(self, kind):
        t = wal.kind_type(kind)
        if t not in RECORDS:
            raise ValueError(f"{kind}: not a fixed-size standard record (one of {', '.join(TYPE_OF)}); "
                             "Stream.dataframe() reads every kind")
        _name, dtype, size = RECORDS[t]
        # A frame shorter than its type's payload is malformed (FORMAT.md 7): left out here.
        return np.flatnonzero((self.type == t) & (self.length >= wal.FRAME_HEADER.size + size)), dtype

    def array(self, kind):
        """The records of one standard type ("Trade", "Order", "Quote", "MarketData", "Risk",
        "Dropped", or its number) as a structured array: seq, timestamp (ns since the epoch, the
        producer's clock), then the record's fields as FORMAT.md 7 lays them out (prices as the
        int64 fixed point, value * 1e8). A copy, gathered in one pass per segment."""
        idx, dtype = self._of(kind)
        raw = np.dtype((np.void, dtype.itemsize))  # gathered as bytes (one copy each), then viewed
        out = np.empty(idx.size, dtype=raw)
        segs = self.seg_index[idx]  # in runs, one per segment (its index: the order it was mapped in)
        starts = np.r_[0, np.flatnonzero(np.diff(segs)) + 1] if idx.size else np.empty(0, np.int64)
        ends = np.r_[starts[1:], idx.size] if idx.size else starts

        def gather(s, a, b):
            if NATIVE is not None:
                offs = np.ascontiguousarray(self.offset[idx[a:b]], dtype=np.int64)
                NATIVE.aerolog_gather(self.segments[s].address, offs.ctypes.data, b - a, raw.itemsize,
                                      out[a:b].ctypes.data)
            else:
                out[a:b] = self.segments[s].at_every_8(raw)[self.offset[idx[a:b]] // 8]

        jobs = [(self._submit or (lambda f, *a: f(*a)))(gather, int(segs[a]), a, b) for a, b in zip(starts, ends)]
        for job in jobs:
            if hasattr(job, "result"):
                job.result()
        return out.view(dtype)

    def views(self, kind):
        """Zero-copy views of one standard type: a list of strided arrays on the mapped segments,
        one per run of consecutive frames of that type and length (valid while the Stream that
        read them is open)."""
        idx, dtype = self._of(kind)
        if not idx.size:
            return []
        off, seg = self.offset[idx], self.seg_index[idx]
        step = np.diff(off)
        breaks = np.flatnonzero((np.diff(idx) != 1) | (np.diff(seg) != 0) |
                                (step != np.r_[step[:1], step[:-1]]))  # a new run where the stride changes
        starts = np.r_[0, breaks + 1]
        ends = np.r_[breaks + 1, idx.size]
        out = []
        for a, b in zip(starts, ends):
            stride = int(off[a + 1] - off[a]) if b - a > 1 else dtype.itemsize
            out.append(np.ndarray((b - a,), dtype=dtype, buffer=self.segments[seg[a]].map, offset=int(off[a]),
                                  strides=(stride,)))
        return out

    def payload(self, i):
        """The payload bytes of record i (an index into these records)."""
        seg = self.segments[self.seg_index[i]]
        at = int(self.offset[i]) + wal.FRAME_HEADER.size
        return bytes(seg.map[at:int(self.offset[i]) + int(self.length[i])])


def concat(parts, segments, submit=None):
    """One Records from a list of (seg_index, offsets, heads) per segment run, in seq order;
    `submit(fn, *args)` runs its gathers (Stream._submit)."""
    if not parts:
        e = np.empty(0, np.uint64)
        return Records(segments, np.empty(0, np.int32), np.empty(0, np.int64), np.empty(0, np.uint32),
                       np.empty(0, np.uint16), e, e.copy(), submit)
    seg_index = np.concatenate([np.full(len(p[1]), p[0], np.int32) for p in parts])
    offset = np.concatenate([p[1] for p in parts])
    field = {k: np.concatenate([p[2][k] for p in parts]) for k in ("length", "type", "seq", "timestamp")}
    return Records(segments, seg_index, offset, field["length"], field["type"], field["seq"], field["timestamp"],
                   submit)
