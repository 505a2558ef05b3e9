"""Decoding uploaded images, voice and video, off the event loop: metadata stripped, thumbnails,
sizes, durations and waveforms. Each function takes a file on disk and writes files beside it;
`MediaWorkers` runs them on a small bounded pool of threads (Pillow and FFmpeg release the GIL
while they decode)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from array import array
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

import av
from PIL import Image, ImageOps

from parley.core.uploads import OCTET

log = logging.getLogger(__name__)
T = TypeVar("T")

# Pixels decoded at most (a 40-megapixel photo is 160 MB decoded; a 30000 x 30000 PNG "bomb" of a
# few kilobytes would be 3.6 GB). Larger images are kept as plain files, never decoded.
MAX_PIXELS = 40_000_000
MAX_ANIMATION_PIXELS = 400_000_000  # frames x pixels of an animated GIF or WebP
Image.MAX_IMAGE_PIXELS = MAX_PIXELS  # Pillow refuses (DecompressionBombError) beyond twice this
THUMB_MAX = 480
AVATAR_SIZE = 256
WAVEFORM_POINTS = 64
WAVEFORM_RATE = 4000  # Hz: enough for a drawn envelope
MAX_WAVEFORM_SECONDS = 3600
_CONTAINERS = {"video/webm": "webm", "audio/ogg": "ogg", "video/mp4": "mp4", "audio/mp4": "mp4",
               "video/quicktime": "quicktime"}
_SAVE_FORMAT = {"image/png": "PNG", "image/jpeg": "JPEG", "image/gif": "GIF", "image/webp": "WEBP"}


@dataclass
class Processed:
    """What processing learnt. `path`: the file to store (the original, or a copy without metadata)."""

    path: str
    content_type: str
    width: int | None = None
    height: int | None = None
    duration_ms: int | None = None
    waveform: list[int] | None = None
    thumbnail: str | None = None  # path of a WebP thumbnail
    made: list[str] = field(default_factory=list)  # files written, for the caller to remove


def process(path: str, content_type: str, kind: str | None) -> Processed:
    if kind == "image":
        return process_image(path, content_type)
    if kind == "av":
        return process_av(path, content_type)
    return Processed(path, content_type)


def _open_image(path: str) -> Image.Image | None:
    """The image, header read only, if it is small enough to decode; None otherwise."""
    try:
        im = Image.open(path)
    except (Image.DecompressionBombError, OSError, SyntaxError, ValueError):
        return None
    frames = getattr(im, "n_frames", 1)
    if im.width * im.height > MAX_PIXELS or im.width * im.height * frames > MAX_ANIMATION_PIXELS:
        im.close()
        return None
    return im


def process_image(path: str, content_type: str) -> Processed:
    """Strip metadata (EXIF with GPS, PNG text, comments) after applying the EXIF orientation;
    a WebP thumbnail. An image that cannot be decoded (truncated, too large, not what its first
    bytes claim) is kept as a plain file, served only as a download."""
    im = _open_image(path)
    if im is None:
        return Processed(path, OCTET)
    out, thumb = f"{path}.clean", f"{path}.thumb"
    made = [out, thumb]
    try:
        with im:
            if getattr(im, "is_animated", False):
                shown = _save_animation(im, out, content_type)
            else:
                im.load()
                shown = _save_still(im, out, content_type)
            _thumbnail(shown, thumb)
            width, height = shown.size
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError) as exc:
        log.info("image kept as a plain file: %s", exc)
        for p in made:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(p)
        return Processed(path, OCTET)
    return Processed(out, content_type, width, height, thumbnail=thumb, made=made)


def _save_still(im: Image.Image, out: str, content_type: str) -> Image.Image:
    turned = _bare(ImageOps.exif_transpose(im))
    fmt = _SAVE_FORMAT[content_type]
    options: dict[str, Any] = {}
    if im.info.get("icc_profile"):
        options["icc_profile"] = im.info["icc_profile"]  # colours, not personal data
    if fmt == "JPEG":
        options.update(quality=90, optimize=True)
        if turned.mode not in ("RGB", "L", "CMYK"):
            turned = turned.convert("RGB")
    elif fmt == "WEBP":
        options.update(quality=90)
    elif fmt in ("PNG", "GIF") and "transparency" in im.info and turned.mode in ("P", "L", "RGB"):
        options["transparency"] = im.info["transparency"]
    turned.save(out, fmt, **options)
    return turned


def _save_animation(im: Image.Image, out: str, content_type: str) -> Image.Image:
    """Every frame again, with its timing, without comments or EXIF. Returns the first frame."""
    frames, durations = [], []
    for i in range(im.n_frames):  # type: ignore[attr-defined]
        im.seek(i)
        durations.append(int(im.info.get("duration", 100)))
        frames.append(_bare(im.convert("RGBA")))
    fmt = _SAVE_FORMAT[content_type]
    options: dict[str, Any] = {"save_all": True, "append_images": frames[1:], "duration": durations,
                               "loop": int(im.info.get("loop", 0))}
    if fmt == "GIF":
        options.update(disposal=2, optimize=False)
    frames[0].save(out, fmt, **options)
    return frames[0]


def _bare(im: Image.Image) -> Image.Image:
    """The pixels only: Pillow writes what `info` holds (comments, EXIF, XMP) when it saves."""
    im.info = {}
    if hasattr(im, "_exif"):
        im._exif = None
    return im


def _thumbnail(im: Image.Image, out: str, size: int = THUMB_MAX) -> None:
    thumb = _bare(im.convert("RGBA") if im.mode not in ("RGB", "RGBA") else im.copy())
    thumb.thumbnail((size, size), Image.Resampling.LANCZOS)
    thumb.save(out, "WEBP", quality=80, method=4)


def avatar(path: str) -> str | None:
    """A square AVATAR_SIZE WebP cropped from the centre of an image (orientation applied, no
    metadata); None when the file is not an image Parley decodes."""
    im = _open_image(path)
    if im is None:
        return None
    out = f"{path}.avatar"
    try:
        with im:
            im.seek(0)
            square = _bare(ImageOps.fit(ImageOps.exif_transpose(im).convert("RGBA"), (AVATAR_SIZE, AVATAR_SIZE),
                                        Image.Resampling.LANCZOS))
            square.save(out, "WEBP", quality=85)
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(out)
        return None
    return out


def process_av(path: str, content_type: str) -> Processed:
    """Duration, and a waveform for sound or a poster frame for video, through FFmpeg (PyAV). A file
    FFmpeg cannot read is kept as a plain file."""
    try:
        with av.open(path, metadata_errors="ignore") as container:
            video = container.streams.video[0] if container.streams.video else None
            audio = container.streams.audio[0] if container.streams.audio else None
            if video is None and audio is None:
                return Processed(path, OCTET)
            duration = _duration_ms(container, video or audio)
            if video is not None:
                return _video(path, container, video, _kind(content_type, "video"), duration)
            waveform, measured = _waveform(container, audio)
            return Processed(path, _kind(content_type, "audio"), duration_ms=duration or measured,
                             waveform=waveform)
    except (av.FFmpegError, OSError, ValueError, StopIteration) as exc:
        log.info("media kept as a plain file: %s", exc)
        return Processed(path, OCTET)


def _kind(content_type: str, family: str) -> str:
    """Ogg, WebM and MP4 hold sound or pictures: the type follows what the probe found."""
    container = _CONTAINERS.get(content_type)
    if container is None:
        return content_type
    if container == "quicktime":
        return "video/quicktime" if family == "video" else "audio/mp4"
    return f"{family}/{container}"


def _duration_ms(container: Any, stream: Any) -> int | None:
    if container.duration:
        return int(container.duration // 1000)  # AV_TIME_BASE: microseconds
    if stream.duration and stream.time_base:
        return int(stream.duration * stream.time_base * 1000)
    return None


def _video(path: str, container: Any, stream: Any, content_type: str, duration: int | None) -> Processed:
    thumb = f"{path}.thumb"
    width = height = None
    for frame in container.decode(stream):
        picture = frame.to_image()
        width, height = picture.size
        _thumbnail(picture, thumb)
        break
    if width is None:
        return Processed(path, OCTET)
    return Processed(path, content_type, width, height, duration, thumbnail=thumb, made=[thumb])


def _waveform(container: Any, stream: Any) -> tuple[list[int], int]:
    """WAVEFORM_POINTS peaks 0..255 (the loudest is 255), and the duration measured in samples."""
    resampler = av.AudioResampler(format="s16", layout="mono", rate=WAVEFORM_RATE)
    block = WAVEFORM_RATE // 20  # 50 ms
    peaks: list[int] = []
    pending = array("h")
    samples = 0
    for frame in container.decode(stream):
        for out in resampler.resample(frame):
            pending.frombytes(bytes(out.planes[0])[: out.samples * 2])
        while len(pending) >= block:
            peaks.append(max(max(pending[:block]), -min(pending[:block])))
            samples += block
            del pending[:block]
        if samples > MAX_WAVEFORM_SECONDS * WAVEFORM_RATE:
            break
    for out in resampler.resample(None):
        pending.frombytes(bytes(out.planes[0])[: out.samples * 2])
    if pending:
        peaks.append(max(max(pending), -min(pending)))
        samples += len(pending)
    return _bucket(peaks), samples * 1000 // WAVEFORM_RATE


def _bucket(peaks: list[int]) -> list[int]:
    if not peaks:
        return [0] * WAVEFORM_POINTS
    points = [max(peaks[i * len(peaks) // WAVEFORM_POINTS: max(i * len(peaks) // WAVEFORM_POINTS + 1,
                                                             (i + 1) * len(peaks) // WAVEFORM_POINTS)] or [0])
              for i in range(WAVEFORM_POINTS)]
    loudest = max(points) or 1
    return [min(255, p * 255 // loudest) for p in points]


class MediaWorkers:
    """At most `workers` files decoded at once in this process; further uploads wait their turn."""

    def __init__(self, workers: int = 2) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="parley-media")
        self._slots = asyncio.Semaphore(workers)

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        async with self._slots:
            return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
