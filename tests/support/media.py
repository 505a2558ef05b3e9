"""Test media made on the spot: images with metadata (Pillow), sound and video (PyAV), hostile files."""

from __future__ import annotations

import io
import math
import struct
import zlib
from array import array
from pathlib import Path

import av
from PIL import Image, PngImagePlugin

GPS_IFD = 0x8825
ORIENTATION = 0x0112


def png(width: int = 64, height: int = 48, *, text: str | None = "secret location: 48.85N 2.35E",
        colour: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    info = PngImagePlugin.PngInfo()
    if text:
        info.add_text("Comment", text)
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, "PNG", pnginfo=info)
    return out.getvalue()


def jpeg_with_gps(width: int = 40, height: int = 20, orientation: int = 6) -> bytes:
    """A JPEG stored `width` x `height` whose EXIF says to turn it (6: 90 degrees clockwise, so it is
    shown `height` x `width`), with a GPS position."""
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    exif[0x010F] = "SpyCam"  # Make
    exif.get_ifd(GPS_IFD).update({1: "N", 2: (48.0, 51.0, 29.0), 3: "E", 4: (2.0, 21.0, 7.0)})
    out = io.BytesIO()
    Image.new("RGB", (width, height), (10, 120, 200)).save(out, "JPEG", exif=exif.tobytes(), quality=90)
    return out.getvalue()


def animated_gif(frames: int = 3, size: int = 32) -> bytes:
    images = [Image.new("RGB", (size, size), (80 * i % 256, 40, 200)) for i in range(frames)]
    out = io.BytesIO()
    images[0].save(out, "GIF", save_all=True, append_images=images[1:], duration=120, loop=0,
                   comment=b"a private comment")
    return out.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_bomb(side: int = 30000) -> bytes:
    """A valid `side` x `side` 1-bit PNG of zeros: a few hundred kilobytes that decode to gigabytes."""
    row = b"\x00" * (1 + (side + 7) // 8)
    packer = zlib.compressobj(9)
    body = b"".join(packer.compress(row) for _ in range(side)) + packer.flush()
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", body) + _chunk(b"IEND", b"")


def truncated_png() -> bytes:
    whole = png(300, 300, text=None)
    return whole[: len(whole) // 2]


def jpeg_html_polyglot() -> bytes:
    """A JPEG whose comment and tail hold HTML with a script: what a browser sniffing it might run."""
    out = io.BytesIO()
    Image.new("RGB", (16, 16), (0, 0, 0)).save(out, "JPEG", comment=b"<html><script>window.pwned=1</script>")
    return out.getvalue() + b"<html><body><script>window.pwned=1;document.title='pwned'</script></body></html>"


HTML = b"<!doctype html><html><body><script>window.pwned=1;document.title='pwned'</script>hi</body></html>"
SVG = (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
       b"<script>window.pwned=1;document.title='pwned'</script><rect width='10' height='10'/></svg>")


def _sine(seconds: float, rate: int, freq: float = 440.0, loud_from: float = 0.0) -> bytes:
    samples = array("h", (int((12000 if i / rate >= loud_from else 1500) * math.sin(2 * math.pi * freq * i / rate))
                          for i in range(int(seconds * rate))))
    return samples.tobytes()


def voice(path: Path, seconds: float = 2.0, fmt: str = "ogg") -> bytes:
    """Opus in Ogg (or WebM, as browsers record): quiet for the first half, loud after."""
    rate = 48000
    pcm = _sine(seconds, rate, loud_from=seconds / 2)
    with av.open(str(path), "w", format=fmt) as container:
        stream = container.add_stream("libopus", rate=rate, layout="mono")
        per = 960
        for n, start in enumerate(range(0, len(pcm) // 2, per)):
            piece = pcm[start * 2:(start + per) * 2]
            if len(piece) < per * 2:
                piece += b"\x00" * (per * 2 - len(piece))
            frame = av.AudioFrame(format="s16", layout="mono", samples=per)
            frame.planes[0].update(piece)
            frame.sample_rate = rate
            frame.pts = n * per
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path.read_bytes()


def wav(path: Path, seconds: float = 2.0) -> bytes:
    rate = 16000
    pcm = _sine(seconds, rate)
    import wave

    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm)
    return path.read_bytes()


def video(path: Path, frames: int = 24, size: tuple[int, int] = (160, 120), fps: int = 12) -> bytes:
    """A short VP8 WebM clip (what a browser records)."""
    with av.open(str(path), "w", format="webm") as container:
        stream = container.add_stream("libvpx", rate=fps)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        for i in range(frames):
            picture = Image.new("RGB", size, (i * 10 % 256, 100, 150))
            frame = av.VideoFrame.from_image(picture)
            frame.pts = i
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path.read_bytes()
