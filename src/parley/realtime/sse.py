"""Server-Sent Events: the same events as the WebSocket, for clients that cannot use one.

Every event carries `id:` with the connection's cursors (`room.seq-room.seq...`), so a reconnect
with `Last-Event-ID` resumes exactly where the stream left off, on any node.
"""

from __future__ import annotations

from parley.core.errors import Invalid
from parley.realtime.connection import Connection

MAX_ID = 16_384  # characters: about 1,500 rooms; past that the id is left off and the client refetches


def encode_cursors(cursors: dict[int, int]) -> str:
    return "-".join(f"{room}.{seq}" for room, seq in sorted(cursors.items()))


def decode_cursors(raw: str) -> dict[int, int]:
    if len(raw) > MAX_ID:
        raise Invalid("Last-Event-ID is too long")
    cursors: dict[int, int] = {}
    for part in filter(None, raw.split("-")):
        room, _, seq = part.partition(".")
        if not (room.isascii() and room.isdigit() and seq.isascii() and seq.isdigit()) or len(part) > 40:
            raise Invalid("Last-Event-ID must be a Parley event id: room.seq pairs joined by '-'")
        cursors[int(room)] = int(seq)
    return cursors


def chunk(data: bytes) -> bytes:
    """One HTTP/1.1 chunk: the response is chunked, and events are written straight to the socket."""
    return b"%x\r\n%b\r\n" % (len(data), data)


class SseConnection(Connection):
    def emit(self, payload: bytes, frame: bytes | None = None) -> None:
        cursor_id = encode_cursors(self.cursors)
        head = b"id: " + cursor_id.encode() + b"\n" if len(cursor_id) <= MAX_ID else b""
        self.write(chunk(head + b"data: " + payload + b"\n\n"))

    def heartbeat(self) -> None:
        self.write(chunk(b": keep-alive\n\n"))
