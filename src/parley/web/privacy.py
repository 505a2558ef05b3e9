"""Privacy endpoints (issue 11): export my data, delete my account."""

from __future__ import annotations

from aiohttp import web

from parley.core import api as req
from parley.web.http import COOKIE, auth, body, ctx

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
    async for piece in privacy.export(user):
        if piece:
            await response.write(piece)
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
