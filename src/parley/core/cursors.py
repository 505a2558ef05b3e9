"""Cursors as one short token: the SSE `id:` / `Last-Event-ID` and the `?resume=` of /ws.

A token must fit in one HTTP header line, so it is compact: `v1.` then base64url (no padding) of
unsigned LEB128 varints — for each room, sorted by id, the difference from the previous room id,
then the seq. A user in 800 rooms needs about 4 KB instead of about 10 KB in the old text form
(`room.seq-room.seq...`), which is still read so that a client holding an old id can resume.
"""

from __future__ import annotations

import base64
import binascii

from parley.core.errors import BadRequest

PREFIX = "v1."
MAX_TOKEN = 60_000  # characters: under the 64 KiB header line the server accepts (about 8,000 rooms)
_MAX_VALUE = 2**63 - 1  # a database bigint
_OLD_FORM_HINT = "a cursor must be a Parley event id (as sent in `id:` or `resumed`)"


def encode_cursors(cursors: dict[int, int]) -> str:
    out = bytearray()
    previous = 0
    for room, seq in sorted(cursors.items()):
        _varint(out, room - previous)
        _varint(out, seq)
        previous = room
    return PREFIX + base64.urlsafe_b64encode(bytes(out)).rstrip(b"=").decode()


def decode_cursors(raw: str) -> dict[int, int]:
    """Read a token (either form); anything else is refused with 400."""
    if len(raw) > MAX_TOKEN:
        raise BadRequest(f"the cursor token is longer than {MAX_TOKEN} characters")
    if raw.startswith(PREFIX):
        return _decode_v1(raw[len(PREFIX):])
    return _decode_text(raw)


def _varint(out: bytearray, value: int) -> None:
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)


def _decode_v1(body: str) -> dict[int, int]:
    try:
        data = base64.b64decode(body + "=" * (-len(body) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest(_OLD_FORM_HINT) from None
    values: list[int] = []
    value = shift = 0
    for byte in data:
        value |= (byte & 0x7F) << shift
        shift += 7
        if shift > 63 and byte & 0x80:
            raise BadRequest(_OLD_FORM_HINT)
        if not byte & 0x80:
            values.append(value)
            value = shift = 0
    if shift or len(values) % 2:
        raise BadRequest(_OLD_FORM_HINT)
    cursors: dict[int, int] = {}
    room = 0
    for i in range(0, len(values), 2):
        delta, seq = values[i], values[i + 1]
        if i and delta == 0:
            raise BadRequest(_OLD_FORM_HINT)  # rooms are strictly increasing
        room += delta
        if room > _MAX_VALUE or seq > _MAX_VALUE:
            raise BadRequest(_OLD_FORM_HINT)
        cursors[room] = seq
    return cursors


def _decode_text(raw: str) -> dict[int, int]:
    """The first form: `room.seq` pairs joined by '-'."""
    cursors: dict[int, int] = {}
    for part in filter(None, raw.split("-")):
        room, _, seq = part.partition(".")
        if not (room.isascii() and room.isdigit() and seq.isascii() and seq.isdigit()) or len(part) > 40:
            raise BadRequest(_OLD_FORM_HINT)
        if int(room) > _MAX_VALUE or int(seq) > _MAX_VALUE:
            raise BadRequest(_OLD_FORM_HINT)
        cursors[int(room)] = int(seq)
    return cursors
