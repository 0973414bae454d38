"""Log records (proto/FORMAT.md 11) for the aerolog package and alog.py: LogSite records
remembered, LogEvent records decoded and rendered as {fmt} renders them, the site catalog read.

The format strings are {fmt}'s, which Python's str.format parses the same way ({} {0} {{ }}, the
nested {:>{}}); each argument is given to it as a value whose __format__ behaves like {fmt} for
the argument's C++ type. Specs this module renders differently from {fmt} (none is in the tests'
corpus): '#o' (Python writes 0o17, {fmt} 017), 'a'/'A' hexfloat (Python has none: float.hex()),
'L' (locale: ignored), and {fmt} specs Python does not know raise, so the line shows
"[format error: ...]" as aerologctl does for a format {fmt} refuses.
"""

import math
import os
import re
import struct

from .wal import FRAME_HEADER as FRAME, PRICE_SCALE

LEVEL_NAMES = ["trace", "debug", "info", "warn", "error", "critical"]  # every output's one spelling
SITE = struct.Struct("<IIBBHHH")  # site, line, level, arg_count, format_len, file_len, function_len
ENTRY = struct.Struct("<II")      # site catalog entry: frame length, CRC32C
# ArgType -> struct code of a fixed-size argument (13, a string, is u32 length + bytes)
FIXED = {1: "b", 2: "h", 3: "i", 4: "q", 5: "B", 6: "H", 7: "I", 8: "Q", 9: "f", 10: "d", 11: "B", 12: "B", 14: "q"}
SPEC = re.compile(r"^(?:(?P<fill>.)?(?P<align>[<>^=]))?(?P<sign>[-+ ])?(?P<alt>#)?(?P<zero>0)?(?P<width>\d+)?"
                  r"(?:\.(?P<prec>\d+))?(?P<L>L)?(?P<type>[a-zA-Z])?$", re.S)


def _shortest_f32(x):
    """The fewest significant digits that read back as the same binary32, as (digits, exponent)."""
    if x == 0:
        return "0", 0
    bits = struct.pack("<f", x)
    for p in range(1, 10):
        s = "%.*e" % (p - 1, x)
        if struct.pack("<f", float(s)) == bits:
            break
    mant, exp = s.split("e")
    return mant.replace(".", "").lstrip("-"), int(exp)


def _general(digits, exp, negative):
    """{fmt}'s shortest form: fixed for -4 <= exp < 16, else d.ddde+XX."""
    digits = digits.rstrip("0") or "0"
    sign = "-" if negative else ""
    if -4 <= exp < 16:
        if exp >= 0:
            whole = digits[:exp + 1].ljust(exp + 1, "0")
            frac = digits[exp + 1:]
            return sign + whole + ("." + frac if frac else "")
        return sign + "0." + "0" * (-exp - 1) + digits
    return sign + digits[0] + ("." + digits[1:] if len(digits) > 1 else "") + ("e-%02d" % -exp if exp < 0 else "e+%02d" % exp)


INF = float("inf")


def _shortest(x, f32):
    if x != x:
        return "nan"
    if x == INF or x == -INF:
        return "inf" if x > 0 else "-inf"
    if f32:
        digits, exp = _shortest_f32(x)
        return _general(digits, exp, str(x).startswith("-"))
    r = repr(x)  # the shortest round trip for a double, with the same thresholds
    return r[:-2] if r.endswith(".0") else r


def _display_width(s):
    """Columns of a string as {fmt} 9 counts them for a width: 2 for an East Asian wide or
    fullwidth character (the ranges of its compute_width), 1 for any other code point."""
    def wide(c):
        cp = ord(c)
        return cp >= 0x1100 and (cp <= 0x115f or cp in (0x2329, 0x232a) or 0x2e80 <= cp <= 0xa4cf and cp != 0x303f
                                 or 0xac00 <= cp <= 0xd7a3 or 0xf900 <= cp <= 0xfaff or 0xfe10 <= cp <= 0xfe19
                                 or 0xfe30 <= cp <= 0xfe6f or 0xff00 <= cp <= 0xff60 or 0xffe0 <= cp <= 0xffe6
                                 or 0x20000 <= cp <= 0x2fffd or 0x30000 <= cp <= 0x3fffd or 0x1f300 <= cp <= 0x1f64f
                                 or 0x1f900 <= cp <= 0x1f9ff)
    return len(s) + sum(1 for c in s if wide(c))


def _pad(s, m, default_align, width_of=len):
    """Width, fill and alignment for an already formatted number or text."""
    width = int(m["width"] or 0)
    if width_of(s) >= width:
        return s
    if m["zero"] and not m["align"] and s.lstrip("+- ")[:1] not in ("n", "i") or m["align"] == "=":
        fill = "0" if m["zero"] and not m["align"] else (m["fill"] or " ")
        sign = s[0] if s[:1] in "+- " else ""
        return sign + fill * (width - len(s)) + s[len(sign):]
    fill, align = m["fill"] or " ", m["align"] or default_align
    n = width - width_of(s)
    if align == "<":
        return s + fill * n
    if align == "^":
        return fill * (n // 2) + s + fill * (n - n // 2)
    return fill * n + s


class _Float:
    """A double, float or price as {fmt} formats it."""
    __slots__ = ("v", "f32")

    def __init__(self, v, f32=False):
        self.v, self.f32 = v, f32

    def __format__(self, spec):
        if not spec:
            return _shortest(self.v, self.f32)
        m = SPEC.match(spec)
        if not m:
            raise ValueError(f"invalid format spec '{spec}'")
        if m["type"] or m["prec"]:
            if m["zero"] and not m["align"] and not math.isfinite(self.v):  # {fmt}: no zeros before inf or nan
                spec = spec.replace("0", "", 1) if not m["fill"] else spec
            return format(self.v, spec if m["type"] else spec.replace("L", "") + "g")
        s = _shortest(self.v, self.f32)
        if m["sign"] in ("+", " ") and not s.startswith("-"):
            s = m["sign"] + s
        return _pad(s, m, ">")


class _Bool:
    __slots__ = ("v",)

    def __init__(self, v):
        self.v = v

    def __format__(self, spec):
        m = SPEC.match(spec)
        if m and m["type"] in (None, "s"):
            return format("true" if self.v else "false", spec)
        return format(int(self.v), spec)


class _Char:
    __slots__ = ("v",)

    def __init__(self, v):
        self.v = v

    def __format__(self, spec):
        m = SPEC.match(spec)
        if m and m["type"] in (None, "c"):
            return format(chr(self.v), spec[:-1] if m["type"] else spec)
        return format(self.v - 256 if self.v >= 128 else self.v, spec)  # char is signed (x86-64): 0xE9 is -23


class _Str:
    """A string with a character {fmt} counts as two columns, padded as {fmt} pads it."""
    __slots__ = ("v",)

    def __init__(self, v):
        self.v = v

    def __format__(self, spec):
        m = SPEC.match(spec)
        if not m or m["type"] not in (None, "s") or not m["width"]:
            return format(self.v, spec)
        s = self.v[:int(m["prec"])] if m["prec"] else self.v
        return _pad(s, m, "<", _display_width)


def _value(kind, v):
    if kind in (9, 10):
        return _Float(v, kind == 9)
    if kind == 14:
        return _Float(v / PRICE_SCALE)
    if kind == 11:
        return _Bool(v)
    if kind == 12:
        return _Char(v)
    if kind == 13 and v and max(v) >= "\u1100":
        return _Str(v)  # a wide character may be in it
    return v  # integers and other strings: Python's format() is {fmt}'s for them


class Site:
    __slots__ = ("id", "seq", "level", "line", "format", "file", "function", "types", "base", "fixed", "wrap")

    def __init__(self, seq, payload):
        sid, line, level, n, flen, filen, fnlen = SITE.unpack_from(payload)
        if len(payload) < SITE.size + n + flen + filen + fnlen or n > 32 or level > 5:
            raise ValueError("malformed")
        at = SITE.size
        self.types = list(payload[at:at + n])
        if any(t == 0 or t > 14 for t in self.types):
            raise ValueError("malformed")
        at += n
        raw = payload[at:at + flen + filen + fnlen]
        self.format = raw[:flen].decode("utf-8", errors="surrogateescape")
        self.file = raw[flen:flen + filen].decode("utf-8", errors="surrogateescape")
        self.function = raw[flen + filen:].decode("utf-8", errors="surrogateescape")
        self.id, self.seq, self.level, self.line = sid, seq, level, line
        self.base = os.path.basename(self.file)
        # Without strings the arguments are one struct; wrap: the arguments that need a __format__.
        self.fixed = None if 13 in self.types else struct.Struct("<" + "".join(FIXED[t] for t in self.types))
        self.wrap = any(t in (9, 10, 11, 12, 13, 14) for t in self.types)


class LogDecoder:
    """Feed a stream's records in seq order; render() gives a LogEvent's message."""

    def __init__(self):
        self.sites = {}  # id -> [(seq, Site)] in seq order
        self.error = ""
        self.catalog_damage = ""  # what load_catalog found damaged ("" if nothing)

    def add_site(self, seq, payload):
        try:
            site = Site(seq, payload)
        except (ValueError, struct.error, IndexError):
            return False
        defs = self.sites.setdefault(site.id, [])
        defs[:] = [d for d in defs if d[0] != seq]
        defs.append((seq, site))
        defs.sort(key=lambda d: d[0])
        return True

    def load_catalog(self, stream_dir, crc32c):
        """The sites the sidecar kept (FORMAT.md 11.4). A bad entry is skipped by looking for the
        next valid one at the following 8-byte-aligned offsets; self.catalog_damage says what the
        first one was ("" if none)."""
        self.catalog_damage = ""
        try:
            with open(os.path.join(stream_dir, "sites"), "rb") as f:
                data = f.read()
        except OSError:
            return False

        def entry_at(at):  # the frame's length if a valid entry starts at `at`, else 0
            if at + ENTRY.size + FRAME.size > len(data):
                return 0
            length, crc = ENTRY.unpack_from(data, at)
            frame = at + ENTRY.size
            if length < FRAME.size or length > len(data) - frame or crc32c(data[frame:frame + length]) != crc:
                return 0
            return length

        at = 0
        while at < len(data):
            length = entry_at(at)
            if not length:
                nxt = at + 8
                while nxt < len(data) and not entry_at(nxt):
                    nxt += 8
                if nxt >= len(data):
                    break  # a torn end: the sidecar cuts it off at its next start
                self.catalog_damage = self.catalog_damage or "bytes %d..%d are no valid entry" % (at, nxt)
                at = nxt
                continue
            frame = at + ENTRY.size
            _l, ftype, _flags, seq, _ts = FRAME.unpack_from(data, frame)
            if ftype != 7 or not self.add_site(seq, data[frame + FRAME.size:frame + length]):
                self.catalog_damage = self.catalog_damage or "the entry at offset %d is not a valid LogSite" % at
            at = frame + ((length + 7) & ~7)
        return True

    def site(self, sid, seq):
        best = None
        for s, site in self.sites.get(sid, ()):
            if s >= seq:
                break
            best = site
        return best

    def decode(self, seq, payload):
        """(site, values) of a LogEvent, or None with self.error set."""
        self.error = ""
        if len(payload) < 4:
            self.error = f"seq {seq}: log event shorter than its header"
            return None
        sid = struct.unpack_from("<I", payload)[0]
        site = self.site(sid, seq)
        if site is None:
            self.error = f"seq {seq}: log event of site {sid}, which no earlier record or the site catalog defines"
            return None
        end = len(payload)
        if site.fixed is not None:  # the common case: one unpack
            if site.fixed.size + 4 == end:
                return site, site.fixed.unpack_from(payload, 4)
            self.error = (f"seq {seq}: log event's bytes do not match the types of site {sid} "
                          f"({site.file}:{site.line})")
            return None
        values, at = [], 4
        try:
            for t in site.types:
                if t == 13:
                    n = struct.unpack_from("<I", payload, at)[0]
                    if at + 4 + n > end:
                        raise struct.error("short")
                    values.append(payload[at + 4:at + 4 + n].decode("utf-8", errors="surrogateescape"))
                    at += 4 + n
                else:
                    code = FIXED[t]
                    values.append(struct.unpack_from("<" + code, payload, at)[0])
                    at += struct.calcsize(code)
        except struct.error:
            at = -1
        if at != end:
            self.error = (f"seq {seq}: log event's bytes do not match the types of site {sid} "
                          f"({site.file}:{site.line})")
            return None
        return site, values

    @staticmethod
    def render(site, values):
        raw = lambda: " ".join(_shortest(v / PRICE_SCALE if t == 14 else v, False) if t in (9, 10, 14) else str(v)
                               for t, v in zip(site.types, values))
        why = unbounded_spec(site.format, site.types, values)
        if why:
            return f"{site.format} [format error: {why}, above {MAX_FORMAT_WIDTH}; arguments: {raw()}]"
        args = [_value(t, v) for t, v in zip(site.types, values)] if site.wrap else values
        try:
            return site.format.format(*args)
        except (ValueError, IndexError, KeyError) as e:
            return f"{site.format} [format error: {e}; arguments: {raw()}]"


MAX_FORMAT_WIDTH = 1024  # FORMAT.md 11.3: a larger width or precision is refused, not rendered


def unbounded_spec(f, types, values):
    """Why a spec of format f asks for a width or precision above MAX_FORMAT_WIDTH, literal or from
    an argument ({:>{}}), or None; argument ids as {fmt} numbers them (aerologctl's check)."""
    n, i, auto = len(f), 0, 0

    def arg_id(k):
        nonlocal auto
        start = k
        while k < n and f[k] not in ":}":
            k += 1
        ident = f[start:k]
        if not ident:
            auto += 1
            return auto - 1, k
        return (int(ident[:7]) if ident.isdigit() and ident.isascii() else None), k

    while i < n:
        if f[i] != "{":
            i += 1
            continue
        if i + 1 < n and f[i + 1] == "{":
            i += 2
            continue
        _, k = arg_id(i + 1)
        if k < n and f[k] == ":":
            k += 1
            while k < n and f[k] != "}":
                if f[k] == "{":
                    ident, k = arg_id(k + 1)
                    if ident is not None and ident < len(values):
                        t, v = types[ident], values[ident]
                        if 1 <= t <= 8 and (v < 0 or v > MAX_FORMAT_WIDTH):  # the integer types
                            return f"a width or precision of {v} from argument {ident}"
                    if k >= n:
                        break
                elif "0" <= f[k] <= "9":
                    start = k
                    while k < n and "0" <= f[k] <= "9":
                        k += 1
                    if int(f[start:k][:12]) > MAX_FORMAT_WIDTH:
                        return f"a width or precision of {f[start:k][:20]}"
                    k -= 1
                k += 1
        i = k + 1
    return None
