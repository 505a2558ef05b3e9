"""Server-Sent Events: the same events as the WebSocket, for clients that cannot use one.

Every event carries `id:` with the connection's cursors (a compact token, `core/cursors.py`), so a
reconnect with `Last-Event-ID` resumes exactly where the stream left off, on any node.
"""

from __future__ import annotations

from parley.core.cursors import MAX_TOKEN, encode_cursors
from parley.realtime.connection import Connection


def chunk(data: bytes) -> bytes:
    """One HTTP/1.1 chunk: the response is chunked, and events are written straight to the socket."""
    return b"%x\r\n%b\r\n" % (len(data), data)


class SseConnection(Connection):
    __slots__ = ()
    sends_frames = False

    def emit(self, payload: bytes, frame: bytes | None = None) -> None:
        cursor_id = encode_cursors(self.cursors)
        # Past the limit (about 8,000 rooms) the id is left off and the client refetches.
        head = b"id: " + cursor_id.encode() + b"\n" if len(cursor_id) <= MAX_TOKEN else b""
        self.write(chunk(head + b"data: " + payload + b"\n\n"))

    def heartbeat(self) -> None:
        self.write(chunk(b": keep-alive\n\n"))
