"""Uploads over HTTP: receiving files (multipart, streamed), serving them with Range and ETag under
a sandbox, the room's file list, and avatars."""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import quote

from aiohttp import BodyPartReader, ClientPayloadError, web
from aiohttp.http_exceptions import HttpProcessingError

from parley.core import api as req
from parley.core import uploads
from parley.core.errors import BadRequest, NotFound, ParleyError, PayloadTooLarge, Unauthorized
from parley.core.models import User
from parley.core.uploads import Upload
from parley.web.http import auth, ctx, json, path_id, query, room_id

routes = web.RouteTableDef()
PART_CHUNK = 256 * 1024
MULTIPART_SLACK = 64 * 1024  # boundaries and part headers around the file itself
# Types a browser would run or render as a document: served as bytes, whatever they are.
_ACTIVE = ("text/html", "image/svg+xml", "application/xhtml+xml", "text/xml", "application/xml")
MEDIA_CSP = "sandbox; default-src 'none'"
CUT_OFF = "the upload was cut off before its end"


class UnsupportedMediaType(ParleyError):
    code = "unsupported_media_type"
    status = 415


async def _file_part(request: web.Request) -> BodyPartReader:
    """The multipart part named `file` (parts before it are skipped, unread)."""
    limit = ctx(request).uploads.limits.max_bytes
    if request.content_length is not None and request.content_length > limit + MULTIPART_SLACK:
        raise PayloadTooLarge(f"the file is larger than {limit} bytes (PARLEY_MAX_UPLOAD_BYTES)")
    if request.content_type != "multipart/form-data":
        raise UnsupportedMediaType("send the file as multipart/form-data, in a part named 'file'")
    try:
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if isinstance(part, BodyPartReader) and part.name == "file":
                return part
            await part.release()
    except (ValueError, AssertionError, RuntimeError, HttpProcessingError) as exc:
        raise BadRequest(f"the multipart body is malformed: {str(exc)[:200]}") from None
    except ConnectionResetError:
        raise BadRequest(CUT_OFF) from None
    raise BadRequest("the multipart body has no part named 'file'")


async def _chunks(part: BodyPartReader) -> AsyncIterator[bytes]:
    try:
        while chunk := await part.read_chunk(PART_CHUNK):
            yield chunk
    except (ConnectionResetError, ClientPayloadError):
        raise BadRequest(CUT_OFF) from None  # nobody reads the answer; the spool file is removed


@routes.post(r"/api/v1/rooms/{room_id:\d+}/uploads")
async def upload(request: web.Request) -> web.StreamResponse:
    user, _ = await auth(request)
    rid = room_id(request)
    service = ctx(request).uploads
    await service.check_poster(user, rid)
    part = await _file_part(request)
    stored = await service.receive(user, rid, part.filename, _chunks(part))
    return json({"upload": stored.view()}, 201)


@routes.get(r"/api/v1/rooms/{room_id:\d+}/uploads")
async def room_files(request: web.Request) -> web.StreamResponse:
    user, _ = await auth(request)
    params = query(request, req.UploadsQuery)
    found = await ctx(request).uploads.of_room(user, room_id(request), params.given("before"), params.limit + 1)
    page = found[: params.limit]
    return json({"uploads": [{**u.view(), "seq": u.message_seq, "uploader_id": u.uploader_id,
                              "created_at": u.created_at} for u in page],
                 "has_more": len(found) > params.limit})


@routes.put("/api/v1/me/avatar")
async def put_avatar(request: web.Request) -> web.StreamResponse:
    user, _ = await auth(request)
    part = await _file_part(request)
    updated = await ctx(request).uploads.set_avatar(user, _chunks(part))
    return json(updated.private())


@routes.delete("/api/v1/me/avatar")
async def delete_avatar(request: web.Request) -> web.StreamResponse:
    user, _ = await auth(request)
    return json((await ctx(request).uploads.set_avatar(user, None)).private())


async def _reader(request: web.Request) -> User:
    """Files answer 404 to anyone who may not see them, the anonymous included (as rooms do)."""
    try:
        user, _ = await auth(request)
    except Unauthorized:
        raise NotFound(uploads_not_found()) from None
    return user


def uploads_not_found() -> str:
    return "no such file, or you may not see it"


@routes.get(r"/media/{upload_id:\d+}/thumbnail")
async def thumbnail(request: web.Request) -> web.StreamResponse:
    user = await _reader(request)
    row = await ctx(request).uploads.readable(user, path_id(request, "upload_id", "the upload id"))
    if row.thumb is None:
        raise NotFound("this file has no thumbnail")
    return await _serve(request, row.thumb, "image/webp", f"{row.name}.webp", inline=True)


@routes.get(r"/media/{upload_id:\d+}/{name}")
async def media(request: web.Request) -> web.StreamResponse:
    user = await _reader(request)
    row = await ctx(request).uploads.readable(user, path_id(request, "upload_id", "the upload id"))
    return await _serve(request, row.blob, _served_type(row), row.name, inline=uploads.inline(row.content_type))


@routes.get(r"/media/avatars/{user_id:\d+}/{key:[0-9a-f]{16}}")
async def avatar(request: web.Request) -> web.StreamResponse:
    await _reader(request)
    key = await ctx(request).uploads.avatar_of(path_id(request, "user_id", "the user id"), request.match_info["key"])
    return await _serve(request, key, "image/webp", "avatar.webp", inline=True)


def _served_type(row: Upload) -> str:
    if row.content_type in _ACTIVE or not row.content_type.isascii():
        return uploads.OCTET
    return f"{row.content_type}; charset=utf-8" if row.content_type == "text/plain" else row.content_type


async def _serve(request: web.Request, key: str, content_type: str, name: str, *, inline: bool) -> web.StreamResponse:
    """A blob with validators and byte ranges (seeking in audio and video), in a sandbox: no
    script in it ever runs with this origin's rights, and only pictures and sound play inline."""
    service = ctx(request).uploads
    size = await service.blobs.size(key)
    if size is None:
        raise NotFound(uploads_not_found())
    etag = f'"{key[:32]}"'
    headers = {"ETag": etag, "Accept-Ranges": "bytes", "Cache-Control": "private, max-age=86400",
               "X-Content-Type-Options": "nosniff", "Content-Security-Policy": MEDIA_CSP,
               "Cross-Origin-Resource-Policy": "same-origin",
               "Content-Disposition": f"{'inline' if inline else 'attachment'}; filename*=UTF-8''{quote(name, safe='')}"}
    if etag in [t.strip() for t in request.headers.get("If-None-Match", "").split(",")]:
        return web.Response(status=304, headers=headers)
    wanted = request.headers.get("Range", "")
    if request.headers.get("If-Range", etag) != etag:
        wanted = ""
    span = uploads.parse_range(wanted, size) if wanted else None
    if span is False:
        return web.Response(status=416, headers={**headers, "Content-Range": f"bytes */{size}"})
    start, end = span if span else (0, size)
    response = web.StreamResponse(status=206 if span else 200, headers=headers)
    if span:
        response.headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
    response.content_type = content_type.split(";")[0]
    if "charset=" in content_type:
        response.charset = content_type.split("charset=")[1]
    response.content_length = end - start
    await response.prepare(request)
    try:
        if request.method != "HEAD":
            async for chunk in service.open_range(key, start, end):
                await response.write(chunk)
        await response.write_eof()
    except ConnectionResetError:  # the reader went away (a player seeking drops its request)
        pass
    return response
