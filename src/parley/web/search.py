"""GET /api/v1/search: message search over the rooms the user may read."""

from __future__ import annotations

from aiohttp import web

from parley.core import api as req
from parley.web.http import auth, ctx, json, query

routes = web.RouteTableDef()


@routes.get("/api/v1/search")
async def search(request: web.Request) -> web.StreamResponse:
    user, _ = await auth(request)
    params = query(request, req.SearchQuery)
    found = await ctx(request).search.search(
        user, params.q, room_id=params.given("room"), sender=params.given("from_"), has=params.given("has"),
        before=params.given("before"), after=params.given("after"), limit=params.limit)
    return json(found)
