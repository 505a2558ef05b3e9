"""Small media files made on the spot for the browser tests and screenshots: a PNG (stripes, so a
thumbnail shows something) and a WAV tone for Chromium's fake microphone."""

from __future__ import annotations

import math
import struct
import wave
import zlib
from pathlib import Path


def png(width: int, height: int, colour: tuple[int, int, int] = (67, 56, 202), stripe: tuple[int, int, int] = (250, 204, 21)) -> bytes:
    """An RGB PNG with diagonal stripes, encoded by hand (no imaging library needed)."""
    rows = []
    for y in range(height):
        row = bytearray([0])
        for x in range(width):
            row += bytes(stripe if (x + y) // max(1, width // 12) % 2 else colour)
        rows.append(bytes(row))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"".join(rows), 6))
            + chunk(b"IEND", b""))


def tone_wav(path: Path, seconds: float = 3.0, rate: int = 48_000) -> Path:
    """A 440 Hz tone that swells and fades (a waveform with some shape), 16-bit mono."""
    frames = bytearray()
    for i in range(int(seconds * rate)):
        level = 0.25 + 0.75 * abs(math.sin(math.pi * i / rate))
        frames += struct.pack("<h", int(14_000 * level * math.sin(2 * math.pi * 440 * i / rate)))
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(bytes(frames))
    return path
