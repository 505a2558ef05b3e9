"""The pure rules of uploads: names, types from content, inline or download, ranges, attachments."""

from __future__ import annotations

import pytest

from parley.core import uploads
from parley.core.errors import Invalid
from parley.core.uploads import (
    Upload,
    attachment_ids,
    attachment_problem,
    clean_name,
    inline,
    parse_range,
    sniff,
)


@pytest.mark.parametrize(("raw", "clean"), [
    ("photo.jpg", "photo.jpg"),
    ("../../etc/passwd", "passwd"),
    ("C:\\Users\\ann\\report.pdf", "report.pdf"),
    ("invoice\u202egpj.exe", "invoicegpj.exe"),
    ("zero\u200bwidth\u2066.txt", "zerowidth.txt"),
    ("bell\x07\x1b[0m.txt", "bell[0m.txt"),
    ("  spaced \t out .txt ", "spaced out .txt"),
    (".htaccess", "htaccess"),
    ("...", "file"),
    ("", "file"),
    (None, "file"),
    ("CON.txt", "_CON.txt"),
    ('a<b>c:"d|e?f*.txt', "abcdef.txt"),
    ("e\u0301cole.txt", "\u00e9cole.txt"),
])
def test_clean_name(raw: object, clean: str) -> None:
    assert clean_name(raw) == clean


def test_long_names_keep_their_extension() -> None:
    name = clean_name("a" * 500 + ".tar.gz")
    assert len(name) == uploads.NAME_MAX and name.endswith(".gz")


@pytest.mark.parametrize(("head", "kind"), [
    (b"\x89PNG\r\n\x1a\n....", "image/png"),
    (b"\xff\xd8\xff\xe0", "image/jpeg"),
    (b"GIF89a..", "image/gif"),
    (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "image/webp"),
    (b"RIFF\x00\x00\x00\x00WAVEfmt ", "audio/wav"),
    (b"\x00\x00\x00\x18ftypisom", "video/mp4"),
    (b"\x00\x00\x00\x18ftypM4A ", "audio/mp4"),
    (b"OggS\x00", "audio/ogg"),
    (b"\x1a\x45\xdf\xa3", "video/webm"),
    (b"%PDF-1.7", "application/pdf"),
    (b"<!DOCTYPE html><p>", "text/html"),
    (b"\xef\xbb\xbf  <html>", "text/html"),
    (b"<?xml version='1.0'?><svg xmlns=", "image/svg+xml"),
    (b"hello, world\n", "text/plain"),
    ("héllo".encode()[:2], "text/plain"),  # a character cut at the end of the sample
    (b"\x00\x01\x02binary", "application/octet-stream"),
    (b"\xc3\x28 invalid utf-8 in the middle", "application/octet-stream"),
])
def test_sniff_reads_the_content_not_the_name(head: bytes, kind: str) -> None:
    assert sniff(head) == kind


def test_only_raster_images_sound_and_video_are_inline() -> None:
    assert all(map(inline, ["image/png", "image/jpeg", "image/gif", "image/webp", "audio/ogg", "video/webm"]))
    assert not any(map(inline, ["image/svg+xml", "text/html", "text/plain", "application/pdf", "image/bmp"]))


@pytest.mark.parametrize(("header", "span"), [
    ("bytes=0-99", (0, 100)), ("bytes=100-", (100, 1000)), ("bytes=-10", (990, 1000)),
    ("bytes=900-5000", (900, 1000)), ("bytes=1000-", False), ("bytes=5-2", False), ("bytes=-0", False),
    ("bytes=0-1,5-6", None), ("items=0-1", None), ("bytes=x-y", None),
])
def test_ranges(header: str, span: object) -> None:
    assert parse_range(header, 1000) == span


def test_attachment_ids() -> None:
    assert attachment_ids([3, 1]) == [3, 1]
    for bad in ([], [1] * 11, [1, 1], ["1"], [0], [True], "1", None):
        with pytest.raises(Invalid):
            attachment_ids(bad)


def test_attachment_rules() -> None:
    up = Upload(5, 7, 2, "a", 1, "text/plain", "0" * 64, None, None, None, None, None, 0, None)
    assert attachment_problem(up, 7, 2, set()) is None
    assert attachment_problem(up, 8, 2, set()) is not None  # another room
    assert attachment_problem(up, 7, 3, set()) is not None  # not the uploader
    assert attachment_problem(None, 7, 2, set()) is not None
    assert "already attached" in attachment_problem(up, 7, 2, {5})
    from dataclasses import replace
    assert "already attached" in attachment_problem(replace(up, message_seq=9), 7, 2, set())
    assert up.view()["url"] == "/media/5/a" and replace(up, name="thumbnail").view()["url"] == "/media/5/thumbnail_"
