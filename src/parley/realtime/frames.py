"""WebSocket frames built once and written as the same bytes to every recipient (RFC 6455 5.2)."""

from __future__ import annotations

import struct


def text_frame(payload: bytes) -> bytes:
    """A final, unmasked text frame: what a server sends."""
    n = len(payload)
    if n < 126:
        return bytes((0x81, n)) + payload
    if n < 1 << 16:
        return struct.pack("!BBH", 0x81, 126, n) + payload
    return struct.pack("!BBQ", 0x81, 127, n) + payload
