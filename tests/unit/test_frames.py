"""parley.realtime.frames.text_frame: a final, unmasked text frame per RFC 6455 section 5.2."""

from __future__ import annotations

import struct

import pytest

from parley.realtime.frames import text_frame


def decode(frame: bytes) -> tuple[bool, int, bool, bytes]:
    """(fin, opcode, masked, payload), reading the length the way a client must."""
    b0, b1 = frame[0], frame[1]
    fin, rsv, opcode = bool(b0 & 0x80), b0 & 0x70, b0 & 0x0F
    assert rsv == 0
    masked, length = bool(b1 & 0x80), b1 & 0x7F
    offset = 2
    if length == 126:
        (length,) = struct.unpack_from("!H", frame, offset)
        offset += 2
        assert length >= 126, "the 16-bit form must not be used for lengths under 126"
    elif length == 127:
        (length,) = struct.unpack_from("!Q", frame, offset)
        offset += 8
        assert length >= 1 << 16, "the 64-bit form must not be used for lengths under 65536"
        assert length >> 63 == 0, "the most significant bit must be 0"
    payload = frame[offset:]
    assert len(payload) == length
    return fin, opcode, masked, payload


@pytest.mark.parametrize(("n", "header_len", "len7"), [(0, 2, 0), (1, 2, 1), (125, 2, 125), (126, 4, 126),
                                                       (127, 4, 126), (65535, 4, 126), (65536, 10, 127),
                                                       (100_000, 10, 127)])
def test_text_frame_header(n: int, header_len: int, len7: int) -> None:
    payload = bytes(i % 251 for i in range(n))
    frame = text_frame(payload)
    assert len(frame) == header_len + n
    assert frame[0] == 0x81  # FIN + opcode 1 (text)
    assert frame[1] == len7  # mask bit clear: servers never mask
    assert decode(frame) == (True, 1, False, payload)


def test_text_frame_carries_utf8_json() -> None:
    payload = '{"type":"message","text":"你好"}'.encode()
    assert decode(text_frame(payload))[3].decode() == '{"type":"message","text":"你好"}'
