"""Rules about uploaded files, pure: names, types from content, how a file may be served, the
upload object clients see, and the `attachments` of a message."""

from __future__ import annotations

import os
import unicodedata
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from parley.core.errors import Invalid

NAME_MAX = 180
ATTACHMENTS_MAX = 10
SNIFF_BYTES = 4096
OCTET = "application/octet-stream"
# Shown in the page (img, audio, video): everything else is only ever downloaded.
RASTER_IMAGES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
_WINDOWS_RESERVED = frozenset({"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)),
                               *(f"LPT{i}" for i in range(1, 10))})


def clean_name(raw: object) -> str:
    """A file name that is safe to show and to save: the last path component only, NFC, without
    control, format (bidi overrides such as U+202E, zero-width) or path characters, no leading dot,
    at most NAME_MAX characters keeping the extension; "file" when nothing is left."""
    name = raw if isinstance(raw, str) else ""
    name = unicodedata.normalize("NFC", name.replace("\\", "/")).rsplit("/", 1)[-1]
    name = "".join(" " if ch.isspace() else ch for ch in name
                   if unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co", "Cn") and ch not in '<>:"|?*')
    name = " ".join(name.split()).lstrip(".").strip()
    stem, ext = os.path.splitext(name)
    if stem.upper() in _WINDOWS_RESERVED:
        name = f"_{name}"
    if len(name) > NAME_MAX:
        ext = ext if len(ext) <= 16 else ""
        name = name[: NAME_MAX - len(ext)].rstrip() + ext
    return name or "file"


def sniff(head: bytes) -> str:
    """The type of a file from its first bytes (never from its name or what the client said).
    Containers that may hold audio or video (Ogg, WebM/Matroska, MP4) are refined by probing."""
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "audio/wav"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"M4A ", b"M4B "):
            return "audio/mp4"
        return "video/quicktime" if brand == b"qt  " else "video/mp4"
    if head[:2] in (b"\xff\xfb", b"\xff\xf3", b"\xff\xf2"):
        return "audio/mpeg"
    return _sniff_text(head)


_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"%PDF-", "application/pdf"),
    (b"PK\x03\x04", "application/zip"),
    (b"OggS", "audio/ogg"),
    (b"\x1a\x45\xdf\xa3", "video/webm"),
    (b"fLaC", "audio/flac"),
    (b"ID3", "audio/mpeg"),
    (b"BM", "image/bmp"),
    (b"\x1f\x8b", "application/gzip"),
)
_MARKUP = (b"<!doctype html", b"<html", b"<head", b"<body", b"<script", b"<iframe", b"<svg", b"<?xml")


def _sniff_text(head: bytes) -> str:
    if b"\x00" in head:
        return OCTET
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # not just a character cut at the end of the sample
            return OCTET
        text = head[: exc.start].decode("utf-8")
    lowered = text.lstrip("\ufeff \t\r\n").lower().encode()
    if b"<svg" in lowered[:1024]:
        return "image/svg+xml"
    if any(m in lowered[:1024] for m in _MARKUP):
        return "text/html"
    return "text/plain"


def inline(content_type: str) -> bool:
    """Whether the browser may show the file in the page: raster images, audio and video only.
    SVG and HTML (which can hold scripts) and everything else are downloads."""
    return content_type in RASTER_IMAGES or content_type.startswith(("audio/", "video/"))


def media_kind(content_type: str) -> str | None:
    """Which processing a type gets: "image", "av" (audio or video) or None (a plain file)."""
    if content_type in RASTER_IMAGES:
        return "image"
    if content_type.startswith(("audio/", "video/")):
        return "av"
    return None


@dataclass(frozen=True, slots=True)
class Upload:
    id: int
    room_id: int
    uploader_id: int
    name: str
    size: int
    content_type: str
    blob: str
    thumb: str | None
    width: int | None
    height: int | None
    duration_ms: int | None
    waveform: list[int] | None
    created_at: int
    message_seq: int | None

    def view(self) -> dict[str, Any]:
        """The upload object of the API and of a message's `attachments`."""
        return {"id": self.id, "name": self.name, "size": self.size, "content_type": self.content_type,
                # "thumbnail" is the thumbnail's own path
                "url": f"/media/{self.id}/{quote(self.name, safe='') if self.name != 'thumbnail' else 'thumbnail_'}",
                "thumbnail_url": f"/media/{self.id}/thumbnail" if self.thumb else None,
                "width": self.width, "height": self.height, "duration_ms": self.duration_ms,
                "waveform": self.waveform}

    @property
    def etag(self) -> str:
        return f'"{self.blob[:32]}"'


def avatar_url(user_id: int, key: str | None) -> str | None:
    """Where a user's avatar is served; the key's start in the path makes a new avatar a new URL."""
    return None if key is None else f"/media/avatars/{user_id}/{key[:16]}"


def attachment_ids(value: object) -> list[int]:
    """A message's `attachments`: 1 to ATTACHMENTS_MAX distinct upload ids."""
    if not isinstance(value, list) or not 1 <= len(value) <= ATTACHMENTS_MAX:
        raise Invalid(f"attachments must be a list of 1 to {ATTACHMENTS_MAX} upload ids")
    if any(type(v) is not int or v <= 0 for v in value):
        raise Invalid("attachments must hold upload ids (positive integers)")
    if len(set(value)) != len(value):
        raise Invalid("attachments must not name an upload twice")
    return list(value)


def attachment_problem(upload: Upload | None, room_id: int, sender_id: int, taken: set[int]) -> str | None:
    """Why this upload cannot be attached to a message of `sender_id` in `room_id` (None: it can).
    An upload is attached once, by its uploader, in its own room; `taken` holds the ids attached
    earlier in the same batch."""
    if upload is None or upload.uploader_id != sender_id or upload.room_id != room_id:
        return "unknown upload: attach your own uploads, in the room they were uploaded to"
    if upload.message_seq is not None or upload.id in taken:
        return f"upload {upload.id} is already attached to a message"
    return None


def parse_range(header: str, size: int) -> tuple[int, int] | None | bool:
    """One byte range of `Range: bytes=a-b` as [start, end): None when there is no usable header
    (serve it whole), False when it cannot be satisfied (416). Several ranges are served whole."""
    if not header.startswith("bytes=") or "," in header:
        return None
    first, _, last = header[6:].strip().partition("-")
    try:
        if not first:  # the last N bytes
            n = int(last)
            return (max(0, size - n), size) if n > 0 and size > 0 else False
        start = int(first)
        end = int(last) + 1 if last else size
    except ValueError:
        return None
    if start < 0 or start >= size or end <= start:
        return False
    return start, min(end, size)
