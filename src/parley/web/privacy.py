"""Privacy endpoints (issue 11): export my data, delete my account."""

from __future__ import annotations

import logging

from aiohttp import web

from parley.core import api as req
from parley.web.http import COOKIE, auth, body, ctx

log = logging.getLogger(__name__)
routes = web.RouteTableDef()


@routes.get("/api/v1/me/export")
async def export(request: web.Request) -> web.StreamResponse:
    """A zip of everything of mine, streamed as it is built (one a minute)."""
    user, _ = await auth(request)
    privacy = ctx(request).privacy
    await privacy.check_export(user)
    response = web.StreamResponse(headers={
        "Content-Type": "application/zip",
        "Content-Disposition": f'attachment; filename="parley-{user.username}-export.zip"'})
    response.enable_chunked_encoding()
    await response.prepare(request)
    try:
        async for piece in privacy.export(user):
            if piece:
                await response.write(piece)
    except Exception:
        # The status went out with the first bytes: all that is left is to cut the stream short, so
        # that the client sees a truncated download rather than a zip that looks whole.
        log.exception("the export of user %s failed", user.id)
        if request.transport is not None:
            request.transport.abort()
        return response
    await response.write_eof()
    return response


@routes.delete("/api/v1/me")
async def delete_account(request: web.Request) -> web.StreamResponse:
    user, _ = await auth(request)
    data = await body(request, req.DeleteAccountBody)
    await ctx(request).privacy.delete_account(user, data.password)
    response = web.Response(status=204)
    response.del_cookie(COOKIE, path="/")
    return response
