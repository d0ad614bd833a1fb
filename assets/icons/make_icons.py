#!/usr/bin/env python3
"""Draws Vigil's app icons: a dark-blue rounded square with a white eye.

Standard library only (zlib + struct), so it runs anywhere Python 3 does. Shapes are signed
distance functions, so edges are anti-aliased at every size. Run from anywhere:

    python3 assets/icons/make_icons.py
"""

import math
import os
import struct
import zlib

OUT = os.path.dirname(os.path.abspath(__file__))
SIZES = {"32x32.png": 32, "128x128.png": 128, "128x128@2x.png": 256, "icon.png": 512}

TOP = (0x2A, 0x4A, 0x8C)  # background gradient, top
BOTTOM = (0x13, 0x24, 0x4D)  # background gradient, bottom
WHITE = (0xFF, 0xFF, 0xFF)
IRIS = (0x1A, 0x33, 0x6B)


def rounded_square(x, y, half, radius):
    """Signed distance to a square of half-size `half` centred on 0.5, with rounded corners."""
    qx = abs(x - 0.5) - (half - radius)
    qy = abs(y - 0.5) - (half - radius)
    outside = math.hypot(max(qx, 0.0), max(qy, 0.0))
    return outside + min(max(qx, qy), 0.0) - radius


def circle(x, y, cx, cy, r):
    return math.hypot(x - cx, y - cy) - r


def eye(x, y, half_w, half_h):
    """The lens between two circular arcs, `2 half_w` wide and `2 half_h` tall."""
    r = (half_w * half_w + half_h * half_h) / (2 * half_h)
    c = r - half_h
    return max(circle(x, y, 0.5, 0.5 + c, r), circle(x, y, 0.5, 0.5 - c, r))


def coverage(d, px):
    """Fraction of a pixel of width `px` covered by the inside (d < 0) of a shape."""
    return min(1.0, max(0.0, 0.5 - d / px))


def over(dst, src, a):
    return tuple(s * a + d * (1 - a) for s, d in zip(src, dst))


def render(size):
    px = 1.0 / size
    rows = []
    for j in range(size):
        y = (j + 0.5) * px
        row = bytearray([0])  # PNG filter: none
        for i in range(size):
            x = (i + 0.5) * px
            bg = coverage(rounded_square(x, y, 0.46, 0.11), px)
            if bg == 0.0:
                row += b"\0\0\0\0"
                continue
            t = y
            rgb = tuple(a + (b - a) * t for a, b in zip(TOP, BOTTOM))
            rgb = over(rgb, WHITE, coverage(eye(x, y, 0.34, 0.19), px))
            rgb = over(rgb, IRIS, coverage(circle(x, y, 0.5, 0.5, 0.125), px))
            rgb = over(rgb, WHITE, coverage(circle(x, y, 0.545, 0.455, 0.035), px))
            row += bytes(round(c) for c in rgb) + bytes([round(bg * 255)])
        rows.append(bytes(row))
    return b"".join(rows)


def png(size, pixels):
    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(pixels, 9))
        + chunk(b"IEND", b"")
    )


def main():
    for name, size in SIZES.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(png(size, render(size)))
        print(f"wrote {name} ({size}x{size})")


if __name__ == "__main__":
    main()
