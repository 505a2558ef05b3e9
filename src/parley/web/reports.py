"""REST handlers of reports (issue 11): report a message, the moderators' queue, resolving, my reports."""

from __future__ import annotations

from aiohttp import web

from parley.core import api as req
from parley.web.http import auth, body, ctx, json, path_id, query, room_id

routes = web.RouteTableDef()


@routes.post(r"/api/v1/rooms/{room_id:\d+}/messages/{seq:\d+}/report")
async def report(request: web.Request) -> web.StreamResponse:
    user, _ = await auth(request)
    data = await body(request, req.ReportBody)
    seq = path_id(request, "seq", "the seq")
    return json(await ctx(request).reports.report(user, room_id(request), seq, data.reason, data.note), 201)


@routes.get("/api/v1/reports")
async def queue(request: web.Request) -> web.StreamResponse:
    user, _ = await auth(request)
    params = query(request, req.ReportsQuery)
    return json(await ctx(request).reports.queue(user, params.state, params.given("room"), params.given("before"),
                                                 params.limit))


@routes.post(r"/api/v1/reports/{report_id:\d+}/resolve")
async def resolve(request: web.Request) -> web.StreamResponse:
    user, _ = await auth(request)
    data = await body(request, req.ResolveBody)
    report_id = path_id(request, "report_id", "the report id")
    return json(await ctx(request).reports.resolve(user, report_id, data.action, data.duration_s, data.note))


@routes.get("/api/v1/me/reports")
async def mine(request: web.Request) -> web.StreamResponse:
    user, _ = await auth(request)
    params = query(request, req.MyReportsQuery)
    return json(await ctx(request).reports.mine(user, params.given("before"), params.limit))
