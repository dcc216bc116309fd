#!/usr/bin/env python3
"""Counts what a screenshot shows inside rectangles (for checking the dashboard's plots).

Usage: screenshot-check.py SHOT.png RECTS_JSON

RECTS_JSON is a JSON list of {"name", "x", "y", "width", "height"} in CSS pixels (device
scale 1). For each rectangle (clipped to the image) prints one JSON line:
  {"name": ..., "pixels": N, "distinctColors": K, "nonBackground": M}
where nonBackground counts the pixels that differ from the rectangle's most common colour
by more than 16 in any channel. Exit 0; exit 2 on a PNG it does not decode (8-bit RGB or
RGBA, non-interlaced only) or bad arguments.

Python 3 standard library only.
"""
import json
import math
import struct
import sys
import zlib
from collections import Counter
from itertools import accumulate

TOLERANCE = 16


class Unsupported(Exception):
    pass


def read_png(path):
    """(width, height, channels, rows): rows is a list of bytes, one per scanline, unfiltered."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise Unsupported("not a PNG file (bad signature)")
    pos, ihdr, idat = 8, None, []
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if len(body) != length or pos + 12 + length > len(data):
            raise Unsupported("truncated chunk %r" % kind)
        crc = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])[0]
        if zlib.crc32(kind + body) & 0xFFFFFFFF != crc:
            raise Unsupported("bad CRC in chunk %r" % kind)
        pos += 12 + length
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
    if ihdr is None:
        raise Unsupported("no IHDR chunk")
    width, height, depth, color, compression, filtering, interlace = ihdr
    if depth != 8:
        raise Unsupported("bit depth %d (only 8 is supported)" % depth)
    if color not in (2, 6):
        raise Unsupported("colour type %d (only 2 RGB and 6 RGBA are supported)" % color)
    if interlace != 0:
        raise Unsupported("interlaced PNG (only non-interlaced is supported)")
    if compression != 0 or filtering != 0:
        raise Unsupported("unknown compression or filter method")
    if not idat:
        raise Unsupported("no IDAT chunk")
    try:
        raw = zlib.decompress(b"".join(idat))
    except zlib.error as e:
        raise Unsupported("image data does not inflate: %s" % e)
    bpp = 3 if color == 2 else 4
    stride = width * bpp
    if len(raw) < height * (stride + 1):
        raise Unsupported("image data too short: %d bytes for %dx%d" % (len(raw), width, height))
    rows, prior = [], bytes(stride)
    for y in range(height):
        start = y * (stride + 1)
        ftype = raw[start]
        line = raw[start + 1:start + 1 + stride]
        rows.append(prior := unfilter(ftype, line, prior, bpp))
    return width, height, bpp, rows


def unfilter(ftype, line, prior, bpp):
    if ftype == 0:  # None
        return bytes(line)
    if ftype == 1:  # Sub: a running sum per channel
        out = bytearray(len(line))
        for c in range(bpp):
            out[c::bpp] = bytes(accumulate(line[c::bpp], lambda a, b: (a + b) & 0xFF))
        return bytes(out)
    if ftype == 2:  # Up
        return bytes((a + b) & 0xFF for a, b in zip(line, prior))
    out = bytearray(line)
    n = len(line)
    if ftype == 3:  # Average
        for i in range(n):
            left = out[i - bpp] if i >= bpp else 0
            out[i] = (out[i] + ((left + prior[i]) >> 1)) & 0xFF
        return bytes(out)
    if ftype == 4:  # Paeth
        for i in range(n):
            if i >= bpp:
                a, c = out[i - bpp], prior[i - bpp]
            else:
                a = c = 0
            b = prior[i]
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
            out[i] = (out[i] + pred) & 0xFF
        return bytes(out)
    raise Unsupported("unknown filter type %d" % ftype)


def measure(width, height, bpp, rows, rect):
    # Every pixel the rectangle touches (CSS rects are fractional), clipped to the image.
    x0, y0 = max(0, math.floor(rect["x"])), max(0, math.floor(rect["y"]))
    x1 = min(width, math.ceil(rect["x"] + rect["width"]))
    y1 = min(height, math.ceil(rect["y"] + rect["height"]))
    counts = Counter()
    for y in range(y0, y1):
        line = rows[y]
        counts.update(line[i:i + bpp] for i in range(x0 * bpp, x1 * bpp, bpp))
    pixels = sum(counts.values())
    if not pixels:
        return {"name": rect["name"], "pixels": 0, "distinctColors": 0, "nonBackground": 0}
    background = counts.most_common(1)[0][0]
    other = sum(n for colour, n in counts.items()
                if any(abs(a - b) > TOLERANCE for a, b in zip(colour, background)))
    return {"name": rect["name"], "pixels": pixels, "distinctColors": len(counts), "nonBackground": other}


def main(argv):
    if len(argv) != 3:
        print("usage: screenshot-check.py SHOT.png RECTS_JSON", file=sys.stderr)
        return 2
    try:
        rects = json.loads(argv[2])
        if not isinstance(rects, list):
            raise ValueError("not a list")
        for r in rects:
            for key in ("x", "y", "width", "height"):
                if not isinstance(r.get(key), (int, float)) or isinstance(r.get(key), bool):
                    raise ValueError("rect %r: %s is not a number" % (r.get("name"), key))
            r.setdefault("name", None)
    except (ValueError, AttributeError) as e:
        print("screenshot-check: bad RECTS_JSON: %s" % e, file=sys.stderr)
        return 2
    try:
        width, height, bpp, rows = read_png(argv[1])
    except OSError as e:
        print("screenshot-check: %s" % e, file=sys.stderr)
        return 2
    except Unsupported as e:
        print("screenshot-check: %s: unsupported PNG: %s" % (argv[1], e), file=sys.stderr)
        return 2
    for rect in rects:
        print(json.dumps(measure(width, height, bpp, rows, rect)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
