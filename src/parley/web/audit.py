"""REST handler of the audit log (issue 11)."""

from __future__ import annotations

from aiohttp import web

from parley.core import api as req
from parley.web.http import auth, ctx, json, query

routes = web.RouteTableDef()


@routes.get("/api/v1/audit")
async def audit(request: web.Request) -> web.StreamResponse:
    user, _ = await auth(request)
    params = query(request, req.AuditQuery)
    return json(await ctx(request).audit.entries(
        user, room=params.given("room"), actor=params.given("actor"), action=params.given("action"),
        before=params.given("before"), limit=params.limit))
