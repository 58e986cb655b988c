"""Minimal PNG encoder (RGBA, 8 bit) with zlib — no imaging library needed."""

from __future__ import annotations

import struct
import zlib

import numpy as np

from gridmap.errors import InputError

SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def encode_rgba(pixels: np.ndarray, compression: int = 6) -> bytes:
    """PNG bytes of an (height, width, 4) uint8 RGBA array; row 0 is the top of the image."""
    pixels = np.asarray(pixels)
    if pixels.ndim != 3 or pixels.shape[2] != 4 or pixels.dtype != np.uint8:
        raise InputError(f"expected an (height, width, 4) uint8 array, got {pixels.shape} {pixels.dtype}")
    height, width = pixels.shape[:2]
    if height == 0 or width == 0:
        raise InputError("cannot encode an empty image")
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)  # 8-bit RGBA, no interlace
    # filter type 0 (none) in front of every scanline
    raw = np.concatenate([np.zeros((height, 1), np.uint8), pixels.reshape(height, width * 4)], axis=1)
    body = zlib.compress(raw.tobytes(), compression)
    return SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", body) + _chunk(b"IEND", b"")


def decode_rgba(data: bytes) -> np.ndarray:
    """Decode a PNG written by :func:`encode_rgba` (filter 0, RGBA 8 bit) back to an array."""
    if not data.startswith(SIGNATURE):
        raise InputError("not a PNG file")
    pos, width, height, idat = len(SIGNATURE), 0, 0, b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        if zlib.crc32(kind + body) & 0xFFFFFFFF != crc:
            raise InputError(f"PNG chunk {kind!r} has a bad CRC")
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
            if (depth, colour, interlace) != (8, 6, 0):
                raise InputError("only 8-bit non-interlaced RGBA PNGs are supported")
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = np.frombuffer(zlib.decompress(idat), np.uint8).reshape(height, 1 + width * 4)
    if (raw[:, 0] != 0).any():
        raise InputError("only PNG filter type 0 is supported")
    return raw[:, 1:].reshape(height, width, 4).copy()


def ramp(values: np.ndarray, vmax: float | None = None) -> np.ndarray:
    """Colour (H, W) non-negative values: transparent at 0, then yellow → orange → dark red.

    Opacity grows with the value so the basemap stays readable under weak density.
    """
    v = np.asarray(values, dtype=np.float64)
    top = float(np.nanmax(v)) if vmax is None else float(vmax)
    t = np.clip(np.nan_to_num(v / top if top > 0 else v * 0), 0.0, 1.0)
    stops = np.array([0.0, 0.25, 0.5, 0.75, 1.0])
    colours = np.array(
        [
            [255, 255, 178],
            [254, 204, 92],
            [253, 141, 60],
            [240, 59, 32],
            [189, 0, 38],
        ],
        dtype=np.float64,
    )
    rgb = np.stack([np.interp(t, stops, colours[:, c]) for c in range(3)], axis=-1)
    alpha = np.where(t > 0.02, 90 + 150 * np.sqrt(t), 0.0)
    return np.concatenate([rgb, alpha[..., None]], axis=-1).round().astype(np.uint8)
