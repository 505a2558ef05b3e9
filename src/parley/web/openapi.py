"""The OpenAPI 3.1 description of the REST API, served at /api/openapi.json; tests check real
answers against it."""

from __future__ import annotations

from functools import cache
from typing import Any, Union

import msgspec
from aiohttp import web

from parley.core import api, wire
from parley.web.http import ctx

routes = web.RouteTableDef()


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _obj(required: list[str], **props: Any) -> dict[str, Any]:
    return {"type": "object", "required": required, "properties": props}


_INT = {"type": "integer"}
_STR = {"type": "string"}
_BOOL = {"type": "boolean"}
_NULLABLE_INT = {"type": ["integer", "null"]}

# Hand-written: the REST-only shapes. Users, rooms and every room event come from core/wire.py.
SCHEMAS: dict[str, Any] = {
    "Error": _obj(["error"], error=_obj(["code", "message"], code=_STR, message=_STR)),
    "SessionAnswer": _obj(["user", "token"], user=_ref("User"), token=_STR),
    "Member": _obj(["user", "role", "state", "online"], user=_ref("UserPublic"),
                   role={"enum": ["owner", "admin", "moderator", "member"]},
                   state={"enum": ["joined", "invited"]}, online=_BOOL, muted_until=_NULLABLE_INT),
    "History": _obj(["messages", "has_more", "last_seq"], messages={"type": "array", "items": _ref("Event")},
                    has_more=_BOOL, last_seq=_INT, has_more_after=_BOOL,
                    # a member who left of their own accord reads up to their leave, read-only
                    former=_obj(["left_seq", "name", "kind", "can_join"], left_seq=_INT, name=_STR, kind=_STR,
                                can_join=_BOOL)),
    "UploadAnswer": _obj(["upload"], upload=_ref("Attachment")),
    "RoomFiles": _obj(["uploads", "has_more"], has_more=_BOOL, uploads={"type": "array", "items": _ref("RoomFile")}),
    "FileBody": _obj(["file"], file={"type": "string", "format": "binary"}),
    # message actions (issue 10)
    "Versions": _obj(["seq", "text", "edited_at", "versions"], seq=_INT, text=_STR, edited_at=_NULLABLE_INT,
                     versions={"type": "array", "items": _obj(["text", "written_at", "replaced_at"], text=_STR,
                                                              written_at=_INT, replaced_at=_INT)}),
    "Pins": _obj(["pins"], pins={"type": "array", "items": _obj(
        ["message", "pinned_by", "pinned_at"], message=_ref("Event"), pinned_by=_NULLABLE_INT, pinned_at=_INT)}),
    "Thread": _obj(["root", "replies", "has_more"], root=_ref("Event"),
                   replies={"type": "array", "items": _ref("Event")}, has_more=_BOOL),
    # search: a snippet is [text, highlighted] parts, to be put in text nodes (never parsed as HTML)
    "SearchAnswer": _obj(["hits", "has_more", "next_before"], hits={"type": "array", "items": _obj(
        ["room", "seq", "snippet", "message"], room=_INT, seq=_INT,
        snippet={"type": "array", "items": {"type": "array", "prefixItems": [_STR, _BOOL], "minItems": 2,
                                            "maxItems": 2}},
        message=_ref("Event"))}, has_more=_BOOL, next_before={"type": ["string", "null"]}),
    # moderation (issue 11)
    "Ban": _obj(["user", "by", "reason", "until", "created_at"], user=_ref("UserPublic"),
                by={"oneOf": [_ref("UserPublic"), {"type": "null"}]}, reason=_STR, until=_NULLABLE_INT,
                created_at=_INT),
    "AuditPage": _obj(["entries", "has_more"], has_more=_BOOL, entries={"type": "array", "items": _obj(
        ["id", "ts", "actor", "action", "room", "target", "reason", "data"], id=_INT, ts=_INT,
        actor={"oneOf": [_ref("UserPublic"), {"type": "null"}]}, action=_STR,
        room={"oneOf": [_obj(["id", "name"], id=_INT, name=_STR), {"type": "null"}]},
        target={"oneOf": [_ref("UserPublic"), {"type": "null"}]}, reason=_STR, data={"type": "object"})}),
    # server administration (issue 11)
    "ServerInfo": _obj(["registration", "version", "deleted_account_messages"],
                       registration={"enum": ["open", "invite", "closed"]},
                       version={"type": "string", "description": "the API's version (never the software's)"},
                       deleted_account_messages={"enum": ["keep", "erase"]},
                       assistant=_ref("UserPublic")),  # the server's own bot (issue 12)
    "AdminUser": {"allOf": [_ref("User"), _obj(["disabled", "rooms", "last_login_at"], disabled=_BOOL, rooms=_INT,
                                               last_login_at=_NULLABLE_INT)]},
    "AdminRoom": _obj(["id", "name", "topic", "visibility", "archived", "created_at", "member_count", "owners",
                       "last_activity"], id=_INT, name=_STR, topic=_STR,
                      visibility={"enum": ["public", "private"]}, archived=_BOOL, created_at=_INT,
                      member_count=_INT, owners={"type": "array", "items": _ref("UserPublic")},
                      last_activity=_NULLABLE_INT),
    # owner_id null: the server's own bot (the support assistant), which room admins may add to a room
    "Bot": {"allOf": [_ref("UserPublic"), _obj(["bot", "owner_id", "created_at"], bot={"const": True},
                                                owner_id=_NULLABLE_INT, created_at=_INT)]},
    "Registration": _obj(["mode"], mode={"enum": ["open", "invite", "closed"]}),
    "Invite": _obj(["code", "uses", "used", "expires_at", "created_at", "created_by"], code=_STR, uses=_INT,
                   used=_INT, expires_at=_INT, created_at=_INT,
                   created_by={"oneOf": [_ref("UserPublic"), {"type": "null"}]}),
    "AdminStats": _obj(["users", "disabled_users", "admins", "rooms", "archived_rooms", "direct_chats",
                        "messages_today", "open_invites", "open_reports"],
                       users=_INT, disabled_users=_INT, admins=_INT, rooms=_INT, archived_rooms=_INT,
                       direct_chats=_INT, messages_today=_INT, open_invites=_INT, open_reports=_NULLABLE_INT),
    "HeldPage": _obj(["held", "has_more"], held={"type": "array", "items": _ref("HeldMessage")}, has_more=_BOOL),
    "HeldAnswer": _obj(["held"], held=_ref("HeldMessage")),
    "HeldApproved": _obj(["approved", "message"], approved={"const": True}, message=_ref("Event")),
    "HeldRejected": _obj(["approved"], approved={"const": False}),
    # customer service (issue 12)
    "SupportDesk": _obj(["room", "entries", "admin", "assistant", "model"], room=_INT, entries=_INT, admin=_BOOL,
                        assistant=_ref("UserPublic"), model=_BOOL),
    "SupportEntry": _obj(["id", "title", "answer", "tags"], id=_INT, title=_STR, answer=_STR, tags=_STR),
    "SupportTry": _obj(["threshold", "hits"], threshold={"type": "number"}, hits={"type": "array", "items": _obj(
        ["entry", "score", "coverage", "answers"], entry=_ref("SupportEntry"), score={"type": "number"},
        coverage={"type": "number"}, answers=_BOOL)}),
    "SupportConversationAnswer": _obj(["conversation"], conversation=_ref("SupportConversation")),
    "SupportVisit": _obj(["token", "conversation"], token=_STR, conversation=_ref("SupportConversation")),
    "SupportMine": {"allOf": [_ref("History"), _obj(["conversation"], conversation=_ref("SupportConversation"))]},
    "SupportAsked": _obj(["message", "created"], message={"type": "object"}, created=_BOOL),
    "SpamSettings": _obj(["hold", "reject", "new_account_s"], hold={"type": "number"}, reject={"type": "number"},
                         new_account_s=_INT),
    "SpamFigures": _obj(
        ["enabled", "thresholds", "model", "decisions", "node", "heldout"], enabled=_BOOL,
        thresholds=_ref("SpamSettings"),
        model=_obj(["version", "trained_at"], version=_NULLABLE_INT, trained_at=_NULLABLE_INT),
        decisions=_obj(["window_s", "waiting", "held", "approved", "rejected"], window_s=_INT, waiting=_INT,
                       held=_INT, approved=_INT, rejected=_INT),
        node=_obj(["scored", "held", "refused"], scored=_INT, held=_INT, refused=_INT),
        heldout={"oneOf": [{"type": "null"}, _obj(
            ["messages", "spam", "precision", "recall"], messages=_INT, spam=_INT,
            precision={"type": ["number", "null"]}, recall={"type": ["number", "null"]})]}),
}


def _wire_schemas() -> dict[str, Any]:
    """From the registry: `Event` is any room event (one schema per type, told apart by `type`),
    `ServerFrame` any other frame of the WebSocket and the event stream, `EventType` their names."""
    events, frames = Union[tuple(wire.EVENTS.values())], Union[tuple(wire.FRAMES.values())]  # noqa: UP007
    (event, frame, _, _, _), components = msgspec.json.schema_components(
        [events, frames, wire.User, wire.Room, wire.RoomFile], ref_template="#/components/schemas/{name}")
    components.update(Event=event, ServerFrame=frame, EventType={"enum": list(wire.EVENTS)})
    assert not components.keys() & SCHEMAS.keys(), "a wire struct is named like a hand-written schema"
    return components


_ERRORS = {code: {"description": desc, "content": {"application/json": {"schema": _ref("Error")}}}
           for code, desc in {"400": "malformed request", "401": "not logged in", "403": "not allowed",
                              "404": "no such thing, or not yours to see", "409": "conflict",
                              "413": "the body is too large", "422": "a field breaks a rule",
                              "429": "rate limited", "503": "the database is unreachable; retry"}.items()}
# Request schemas come from the structs that decode the requests (core/api.py), so the document
# states the types and bounds the server enforces. Rules the services check on top of them:
_SERVICE_RULES: dict[str, dict[str, Any]] = {
    "RoomUpdateBody": {"minProperties": 1},
    "ProfileBody": {"minProperties": 1},
    "AdminUserBody": {"minProperties": 1},
    "InviteBody": {"anyOf": [{"required": ["usernames"]}, {"required": ["username"]}]},
    "DirectBody": {"anyOf": [{"required": ["usernames"]}, {"required": ["username"]}]},
}
_INT_ID = {"type": "integer", "minimum": 0, "maximum": 10**api.PATH_ID_DIGITS - 1}


def _request_schemas(max_text: int) -> dict[str, Any]:
    _, components = msgspec.json.schema_components(api.BODIES, ref_template="#/components/schemas/{name}")
    for name, extra in _SERVICE_RULES.items():
        components[name].update(extra)
    components["MessageBody"]["properties"]["text"]["maxLength"] = max_text
    return components


def _op(summary: str, answer: tuple[str, Any] | None, *, body: type | None = None,
        params: type | None = None, auth: bool = True, multipart: bool = False) -> dict[str, Any]:
    status, schema = answer or ("204", None)
    responses: dict[str, Any] = {status: {"description": summary}}
    if schema is not None:
        responses[status]["content"] = {"application/json": {"schema": schema}}
    responses.update(_ERRORS)
    op: dict[str, Any] = {"summary": summary, "responses": responses}
    if body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": _ref(body.__name__)}}}
    elif multipart:
        op["requestBody"] = {"required": True, "content": {"multipart/form-data": {"schema": _ref("FileBody")}}}
        responses["415"] = {"description": "not multipart/form-data",
                            "content": {"application/json": {"schema": _ref("Error")}}}
    else:
        del responses["413"]
    if params is not None:
        props = msgspec.json.schema(params)["$defs"][params.__name__]["properties"]
        op["parameters"] = [{"name": p, "in": "query", "required": False, "schema": props[p]}
                            for p in params.__struct_encode_fields__]
    if not auth:
        op["security"] = []
    return op


_ROOM_ID = [{"name": "room_id", "in": "path", "required": True, "schema": _INT_ID}]
_ROOM_LIST = _obj(["rooms"], rooms={"type": "array", "items": _ref("Room")})


def _paths() -> dict[str, Any]:
    paths: dict[str, Any] = {
        "/api/v1/auth/register": {"post": _op("Create an account and log in. 403 `registration_closed`, "
                                              "`invite_required`, `invite_invalid`, `invite_expired` or "
                                              "`invite_used` when the registration mode refuses it",
                                              ("201", _ref("SessionAnswer")),
                                              body=api.RegisterBody, auth=False)},
        "/api/v1/auth/login": {"post": _op("Log in", ("200", _ref("SessionAnswer")), body=api.LoginBody,
                                           auth=False)},
        "/api/v1/auth/logout": {"post": _op("Log out (revoke this session)", None)},
        "/api/v1/me": {"get": _op("The logged-in user", ("200", _ref("User"))),
                       "patch": _op("Change the display name and/or the status line", ("200", _ref("User")),
                                    body=api.ProfileBody)},
        "/api/v1/me/password": {"post": _op("Change the password; revokes every other session",
                                            ("200", _ref("SessionAnswer")),
                                            body=api.PasswordBody)},
        "/api/v1/users": {"get": _op("Find users by name prefix",
                                     ("200", _obj(["users"], users={"type": "array", "items": _ref("UserPublic")})),
                                     params=api.UserQuery)},
        "/api/v1/rooms": {"get": _op("Rooms I am joined or invited to", ("200", _ROOM_LIST)),
                          "post": _op("Create a room", ("201", _ref("Room")), body=api.RoomCreateBody)},
        "/api/v1/rooms/public": {"get": _op("Public rooms, with member counts", ("200", _ROOM_LIST),
                                            params=api.PublicRoomsQuery)},
        "/api/v1/rooms/{room_id}": {
            "get": _op("A room", ("200", _ref("Room"))),
            "patch": _op("Change name, topic, retention_days (admin) or archive (owner; or a server admin); 409 if a public name is taken", ("200", _ref("Room")),
                         body=api.RoomUpdateBody)},
        "/api/v1/rooms/{room_id}/join": {"post": _op("Join a public room or accept an invite", ("200", _ref("Room")))},
        "/api/v1/rooms/{room_id}/leave": {"post": _op("Leave a room or decline an invitation; 409 for the last owner of a room with others in it", None)},
        "/api/v1/rooms/{room_id}/invite": {"post": _op(
            "Invite users", ("200", _obj(["invited"], invited={"type": "array", "items": _ref("UserPublic")})),
            body=api.InviteBody)},
        "/api/v1/rooms/{room_id}/members": {"get": _op(
            "Members with roles and presence", ("200", _obj(["members"], members={"type": "array",
                                                                                   "items": _ref("Member")})))},
        "/api/v1/rooms/{room_id}/members/{user_id}": {"patch": _op(
            "Change a member's role (admins and owners, for roles below their own); `owner` hands ownership over", ("200", _ref("Member")),
            body=api.RoleBody)},
        "/api/v1/rooms/{room_id}/messages": {
            "get": _op("History, oldest first, at most 100 a page; around=S: a page centred on seq S. A member who "
                       "left reads it up to their leave (`former` is set); after a kick or a ban, 404",
                       ("200", _ref("History")),
                       params=api.HistoryQuery),
            "post": _op("Send a message (idempotent with client_msg_id)", ("201", _ref("Event")),
                        body=api.MessageBody)},
        "/api/v1/rooms/{room_id}/read": {"post": _op("Move my read marker", ("200", _obj(["room", "seq"], room=_INT,
                                                                                           seq=_INT)),
                                                     body=api.ReadBody)},
        "/api/v1/direct": {"post": _op("Find or create a direct chat", ("201", _ref("Room")), body=api.DirectBody)},
        "/api/v1/rooms/{room_id}/uploads": {
            "post": _op("Upload a file (part `file`) to attach to a message; 413 `payload_too_large` past "
                        "PARLEY_MAX_UPLOAD_BYTES, 413 `quota_exceeded` past the user's quota. Served at its `url` "
                        "(GET /media/{id}/{name}, Range and ETag) to the room's members once attached",
                        ("201", _ref("UploadAnswer")), multipart=True),
            "get": _op("The room's attached files, newest first", ("200", _ref("RoomFiles")),
                       params=api.UploadsQuery)},
        # Before `{name}`: a path that is both goes to the thumbnail, as on the server.
        "/media/{upload_id}/thumbnail": _media("An image's or a video's thumbnail (WebP, at most 480 px)", False),
        "/media/{upload_id}/{name}": _media("An uploaded file (the `url` of its upload)", True),
        "/api/v1/me/avatar": {
            "put": _op("Set my avatar from an image (cropped square)", ("200", _ref("User")), multipart=True),
            "delete": _op("Remove my avatar", ("200", _ref("User")))},
        **_action_paths(),
        **_report_paths(),
        "/api/v1/search": {"get": _op(
            "Search messages in the rooms I may read (a room I left: up to my leave), newest first. Words match "
            "by prefix ignoring case and accents; Chinese and Japanese by character pairs. before/after: a seq "
            "(with room), a date or ISO 8601 time, or (before) the next_before of the previous page",
            ("200", _ref("SearchAnswer")), params=api.SearchQuery)},
        **_moderation_paths(),
        **_privacy_paths(),
        **_admin_paths(),
        **_support_paths(),
        **_bot_paths(),
        **_call_paths(),
        "/metrics": _metrics_path(),
    }
    paths["/api/v1/me"]["delete"] = _op(
        "Delete my account (403 if the password is wrong): every session is revoked, I leave every room (a "
        "last owner hands the room to the longest-standing member of the highest role), my reactions and "
        "files are erased, my name is freed; my messages stay under a \"Deleted user\" placeholder or become "
        "tombstones (PARLEY_DELETED_ACCOUNT_MESSAGES)", None, body=api.DeleteAccountBody)
    for path, ops in paths.items():
        if "{room_id}" in path:
            for op in ops.values():
                op["parameters"] = _ROOM_ID + op.get("parameters", [])
    for path, ops in paths.items():
        if "{user_id}" in path:
            for op in ops.values():
                op.setdefault("parameters", []).append(
                    {"name": "user_id", "in": "path", "required": True, "schema": _INT_ID})
    for path, ops in paths.items():
        for name in ("seq", "emoji"):
            if f"{{{name}}}" in path:
                for op in ops.values():
                    op["parameters"].append({"name": name, "in": "path", "required": True,
                                             "schema": _INT_ID if name == "seq" else _EMOJI})
    for path, name in (("/api/v1/reports/{report_id}/resolve", "report_id"), ("/api/v1/me/blocks/{user_id}", "user_id")):
        for op in paths[path].values():
            op["parameters"] = [{"name": name, "in": "path", "required": True, "schema": _INT_ID}]
    paths["/api/v1/rooms/{room_id}/messages"]["post"]["responses"]["200"] = {
        "description": "a retry: the original message", "content": {"application/json": {"schema": _ref("Event")}}}
    paths["/api/v1/rooms/{room_id}/messages"]["post"]["responses"]["202"] = {
        "description": "held by the spam filter for a moderator's review (not in the room log)",
        "content": {"application/json": {"schema": _ref("HeldAnswer")}}}
    paths["/api/v1/direct"]["post"]["responses"]["200"] = {
        "description": "the existing chat", "content": {"application/json": {"schema": _ref("Room")}}}
    return paths


_MEDIA_HEADERS = {
    "ETag": {"description": "names the bytes; send it back in If-None-Match", "required": True, "schema": _STR},
    "Accept-Ranges": {"schema": {"const": "bytes"}},
    "Content-Disposition": {"description": "`inline` for raster images, audio and video; `attachment` else",
                            "schema": _STR},
    "X-Content-Type-Options": {"schema": {"const": "nosniff"}},
    "Content-Security-Policy": {"schema": _STR},
}
_BINARY = {"*/*": {"schema": {"type": "string", "format": "binary"}}}


def _media(summary: str, name: bool) -> dict[str, Any]:
    """The bytes of an upload (issue 9): not JSON, so written out here rather than through `_op`."""
    ranged = {**_MEDIA_HEADERS, "Content-Range": {"description": "bytes a-b/size", "required": True, "schema": _STR}}
    params = [{"name": "upload_id", "in": "path", "required": True, "schema": _INT_ID}]
    if name:
        params.append({"name": "name", "in": "path", "required": True, "schema": {"type": "string", "minLength": 1},
                       "description": "the file's name, as in the upload's `url` (any name serves the file)"})
    params += [
        {"name": "Range", "in": "header", "required": False, "schema": _STR,
         "description": "one byte range: `bytes=a-b`, `bytes=a-` or `bytes=-n`"},
        {"name": "If-Range", "in": "header", "required": False, "schema": _STR,
         "description": "an ETag: the range applies only if the bytes are still these"},
        {"name": "If-None-Match", "in": "header", "required": False, "schema": _STR,
         "description": "ETags the client holds: 304 if one names these bytes"}]
    error = {"content": {"application/json": {"schema": _ref("Error")}}}
    return {"get": {
        "summary": summary + "; for the room's joined members once attached, its uploader before that (HEAD "
                   "too). Served in a sandbox (`Content-Security-Policy: sandbox`, nosniff)",
        "parameters": params,
        "responses": {
            "200": {"description": "the bytes", "headers": _MEDIA_HEADERS, "content": _BINARY},
            "206": {"description": "the range asked for", "headers": ranged, "content": _BINARY},
            "304": {"description": "not modified (If-None-Match)", "headers": _MEDIA_HEADERS},
            "404": {"description": "no such file, or not yours to see (the anonymous included)", **error},
            "416": {"description": "the range is past the end; Content-Range: bytes */size",
                    "headers": {"Content-Range": {"required": True, "schema": _STR}}},
            "422": {"description": "the upload id is not a number of at most "
                                   f"{api.PATH_ID_DIGITS} digits", **error},
            "503": _ERRORS["503"]}}}


_MESSAGE = "/api/v1/rooms/{room_id}/messages/{seq}"
_EMOJI = {"type": "string", "minLength": 1, "description": "one Unicode emoji, percent-encoded"}


def _action_paths() -> dict[str, Any]:
    """Message actions (issue 10). Each appends its event to the room log; a repeat changes nothing."""
    return {
        _MESSAGE: {
            "patch": _op("Edit my message (the earlier text is kept as a version)", ("200", _ref("Event")),
                         body=api.EditBody),
            "delete": _op("Delete a message (mine; anyone's for moderators and up): text, attachments, "
                          "reactions and versions are erased, a tombstone stays. reason=spam: a moderator's "
                          "deletion of someone else's message teaches the spam filter", None,
                          params=api.DeleteQuery)},
        f"{_MESSAGE}/versions": {"get": _op("Earlier texts of a message, oldest first", ("200", _ref("Versions")))},
        f"{_MESSAGE}/reactions/{{emoji}}": {
            "put": _op("React with one Unicode emoji (idempotent; 409 past 20 different ones)", None),
            "delete": _op("Take my reaction back (idempotent)", None)},
        "/api/v1/rooms/{room_id}/pins": {"get": _op("Pinned messages, latest pin first", ("200", _ref("Pins")))},
        "/api/v1/rooms/{room_id}/pins/{seq}": {
            "put": _op("Pin a message (moderators and up; idempotent)", None),
            "delete": _op("Unpin a message (moderators and up; idempotent)", None)},
        "/api/v1/rooms/{room_id}/threads/{seq}": {
            "get": _op("A thread: its root and replies, oldest first", ("200", _ref("Thread")),
                       params=api.ThreadQuery)},
    }


_REPORTS = _obj(["reports", "has_more"], reports={"type": "array", "items": _ref("Report")}, has_more=_BOOL)


def _report_paths() -> dict[str, Any]:
    """Reports and blocks (issue 11). Reports travel live as the user frames `report_added` and
    `report_resolved` (docs/protocol.md)."""
    return {
        f"{_MESSAGE}/report": {"post": _op(
            "Report a message I can read (not mine, not deleted: 422 / 409); one per reporter per message (409); "
            "rate limited. Answers the reporter's view", ("201", _ref("Report")), body=api.ReportBody)},
        "/api/v1/reports": {"get": _op(
            "Reports I handle, newest first, each on its own: those of rooms I moderate (moderators and up), "
            "except those about a moderator's message, which go to the server admins; server admins see all",
            ("200", _REPORTS), params=api.ReportsQuery)},
        "/api/v1/reports/{report_id}/resolve": {"post": _op(
            "Resolve a report with an action (dismiss, delete, mute, kick, ban): every open report of the "
            "message is resolved; 409 if resolved already", ("200", _ref("Report")), body=api.ResolveBody)},
        "/api/v1/me/reports": {"get": _op(
            "The reports I made, newest first, with their state (without who resolved them)", ("200", _REPORTS),
            params=api.MyReportsQuery)},
        "/api/v1/me/blocks": {"get": _op(
            "The users I block, latest first", ("200", _obj(["blocks"], blocks={"type": "array", "items": _obj(
                ["user", "created_at"], user=_ref("UserPublic"), created_at=_INT)})))},
        "/api/v1/me/blocks/{user_id}": {
            "put": _op("Block a user (idempotent; 422 for myself): no direct chats from them; they are not told",
                       None),
            "delete": _op("Unblock a user (idempotent)", None)},
    }


def _moderation_paths() -> dict[str, Any]:
    """Moderation and the audit log (issue 11)."""
    return {
        "/api/v1/audit": {"get": _op(
            "The audit log, newest first: a room's entries (room=; its admins and owner, server admins), or "
            "without room= every entry (server admins) or those of the rooms I administer (403 if none). "
            "before= the id of the oldest entry of the previous page", ("200", _ref("AuditPage")),
            params=api.AuditQuery)},
        "/api/v1/rooms/{room_id}/members/{user_id}/kick": {"post": _op(
            "Remove a member (moderators and up, over lower roles; server admins): `member_kicked`; they may "
            "join again", None, body=api.KickBody)},
        "/api/v1/rooms/{room_id}/bans": {
            "get": _op("The bans in force, latest first (moderators and up)", ("200", _obj(
                ["bans"], bans={"type": "array", "items": _ref("Ban")}))),
            "post": _op("Ban a user, member or not, for duration_s seconds or until lifted: `member_banned`; no "
                        "join or invitation until it ends. Banning again replaces the ban",
                        ("201", _obj(["ban"], ban=_ref("Ban"))), body=api.BanBody)},
        "/api/v1/rooms/{room_id}/bans/{user_id}": {"delete": _op("Lift a ban: `member_unbanned`", None)},
        "/api/v1/rooms/{room_id}/mutes": {"post": _op(
            "Mute a member for duration_s seconds (reads, neither posts nor types): `member_muted`",
            ("200", _obj(["user", "until"], user=_ref("UserPublic"), until=_INT)), body=api.MuteBody)},
        "/api/v1/rooms/{room_id}/mutes/{user_id}": {"delete": _op("Unmute a member: `member_unmuted`", None)},
        "/api/v1/admin/users/{user_id}/purge": {"post": _op(
            "Delete every message the user sent in the last since_s seconds, in every room (server admins)",
            ("200", _obj(["deleted", "rooms"], deleted=_INT, rooms=_INT)), body=api.PurgeBody)},
    }


def _privacy_paths() -> dict[str, Any]:
    """Privacy (issue 11): the export is a zip, not JSON."""
    export = _op("Everything of mine as a zip, streamed: README.txt, profile.json, rooms.json, messages.json "
                 "(with edits, replies, threads), reactions.json, uploads/ (my files), avatar. One a minute "
                 "(429)", ("200", None))
    export["responses"]["200"] = {"description": "the zip", "content": {
        "application/zip": {"schema": {"type": "string", "format": "binary"}}},
        "headers": {"Content-Disposition": {"required": True, "schema": _STR}}}
    return {"/api/v1/me/export": {"get": export}}
_BOT_ID = [{"name": "bot_id", "in": "path", "required": True, "schema": _INT_ID}]


def _with(params: list[dict[str, Any]], op: dict[str, Any]) -> dict[str, Any]:
    op["parameters"] = params + op.get("parameters", [])
    return op


def _bot_paths() -> dict[str, Any]:
    """Bots and webhooks (issue 12). A bot authenticates with `Authorization: Bearer <token>`."""
    bot = _ref("Bot")
    webhook = _obj(["id", "bot_id", "url", "events", "rooms", "created_at"], id=_INT, bot_id=_INT, url=_STR,
                   events={"type": "array", "items": {"enum": ["message", "mention", "direct"]}},
                   rooms={"type": ["array", "null"], "items": _INT}, created_at=_INT, secret=_STR)
    command = _obj(["name", "description", "usage"], name=_STR, description=_STR, usage=_STR)
    delivery = _obj(["id", "webhook_id", "room_id", "seq", "kind", "state", "attempts", "next_at", "last_status",
                     "last_error", "created_at", "updated_at"], id=_INT, webhook_id=_INT, room_id=_INT, seq=_INT,
                    kind={"enum": ["message", "mention", "direct", "command"]},
                    state={"enum": ["pending", "done", "failed"]}, attempts=_INT, next_at=_INT,
                    last_status=_NULLABLE_INT, last_error={"type": ["string", "null"]}, created_at=_INT,
                    updated_at=_INT)
    hook = _obj(["id", "room", "secret", "url"], id=_INT, room=_INT, secret=_STR, url=_STR)
    hook_id = [{"name": "hook_id", "in": "path", "required": True, "schema": _INT_ID}]
    webhook_id = [{"name": "webhook_id", "in": "path", "required": True, "schema": _INT_ID}]
    secret = [{"name": "secret", "in": "path", "required": True, "schema": {"type": "string", "minLength": 1,
                                                                           "maxLength": 100}}]
    post_hook = _op("Post as the bot in the hook's room: `{text}`, or Slack's simple payload. The secret in "
                    "the path is the credential (no session); rate limited per hook", ("201", _ref("Event")),
                    body=api.HookPostBody, auth=False)
    return {
        "/api/v1/bots": {
            "post": _op("Create a bot I own; the token is shown only here", ("201", _obj(
                ["bot", "token"], bot=bot, token=_STR)), body=api.BotCreateBody),
            "get": _op("The bots I own", ("200", _obj(["bots"], bots={"type": "array", "items": bot})))},
        "/api/v1/bots/{bot_id}": {
            "get": _with(_BOT_ID, _op("A bot of mine with its webhooks, hooks, commands and rooms",
                                      ("200", _obj(["bot"], bot=bot)))),
            "delete": _with(_BOT_ID, _op("Delete a bot of mine: it leaves its rooms, its token is revoked", None))},
        "/api/v1/bots/{bot_id}/token": {"post": _with(_BOT_ID, _op(
            "A new token for the bot (shown once); the old one is revoked at once", ("200", _obj(
                ["token"], token=_STR))))},
        "/api/v1/bots/{bot_id}/commands": {"put": _with(_BOT_ID, _op(
            "Replace the bot's slash commands (its owner, or the bot itself)", ("200", _obj(
                ["commands"], commands={"type": "array", "items": command})), body=api.CommandsBody))},
        "/api/v1/bots/{bot_id}/webhooks": {
            "post": _with(_BOT_ID, _op(
                "Add an outgoing webhook; the secret that signs its deliveries is shown only here. Private, "
                "loopback and link-local addresses are refused (422 `forbidden_address`) unless "
                "PARLEY_WEBHOOK_ALLOW_PRIVATE allows them", ("201", _obj(["webhook"], webhook=webhook)),
                body=api.WebhookBody)),
            "get": _with(_BOT_ID, _op("The bot's outgoing webhooks", ("200", _obj(
                ["webhooks"], webhooks={"type": "array", "items": webhook}))))},
        "/api/v1/bots/{bot_id}/webhooks/{webhook_id}": {"delete": _with(_BOT_ID + webhook_id, _op(
            "Remove an outgoing webhook", None))},
        "/api/v1/bots/{bot_id}/deliveries": {"get": _with(_BOT_ID, _op(
            "The webhook delivery log, newest first", ("200", _obj(
                ["deliveries"], deliveries={"type": "array", "items": delivery})), params=api.DeliveriesQuery))},
        "/api/v1/bots/{bot_id}/hooks": {"post": _with(_BOT_ID, _op(
            "Add an incoming webhook posting as the bot in a room it is in; the secret is shown only here",
            ("201", _obj(["hook"], hook=hook)), body=api.HookBody))},
        "/api/v1/bots/{bot_id}/hooks/{hook_id}": {"delete": _with(_BOT_ID + hook_id, _op(
            "Remove an incoming webhook", None))},
        "/api/v1/hooks/{hook_id}/{secret}": {"post": _with(hook_id + secret, post_hook)},
        "/api/v1/rooms/{room_id}/bots": {"post": _op(
            "Add a bot to the room (its admins, or the bot's owner when a member): `member_joined`",
            ("200", _obj(["bot"], bot=bot)), body=api.RoomBotBody)},
        "/api/v1/rooms/{room_id}/commands": {"get": _op(
            "The slash commands of the bots in the room", ("200", _obj(["commands"], commands={
                "type": "array", "items": {"allOf": [command, _obj(["bot"], bot=_obj(
                    ["id", "username"], id=_INT, username=_STR))]}})))},
    }


def _metrics_path() -> dict[str, Any]:
    """Prometheus' text format (issue 14), for the addresses of PARLEY_METRICS_ALLOW only."""
    text = {"text/plain": {"schema": _STR}}
    return {"get": {
        "summary": "The node's metrics in Prometheus' text format (connections, sends, deliveries, batch sizes, "
                   "commit times, event-loop lag, slow readers dropped, bus lag, spam decisions, HTTP requests). "
                   "Answered only to PARLEY_METRICS_ALLOW (default loopback); anyone else gets the 404 of a "
                   "missing page",
        "security": [],
        "responses": {"200": {"description": "the metrics", "content": text},
                      "404": {"description": "not an allowed address (the same answer as a missing page)",
                              "content": text},
                      "429": _ERRORS["429"]}}}


def _admin_paths() -> dict[str, Any]:
    """Server administration (issue 11): server admins only (403 `forbidden` for anyone else)."""
    user_id = [{"name": "user_id", "in": "path", "required": True, "schema": _INT_ID}]
    code = [{"name": "code", "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}]
    page = {"type": "array", "items": _ref("AdminUser")}
    return {
        "/api/v1/server": {"get": _op("What a sign-up form needs: the registration mode (no login)",
                                      ("200", _ref("ServerInfo")), auth=False)},
        "/api/v1/admin/users": {"get": _op(
            "Every user, newest first; q: a prefix of the username or display name (any case); before: an id",
            ("200", _obj(["users", "has_more"], users=page, has_more=_BOOL)), params=api.AdminListQuery)},
        "/api/v1/admin/users/{user_id}": {"patch": {**_op(
            "Disable (revokes every session at once, on every node) or enable a user, grant or revoke admin. "
            "Not yourself; 409 for the last enabled admin", ("200", _ref("AdminUser")), body=api.AdminUserBody),
            "parameters": user_id}},
        "/api/v1/admin/rooms": {"get": _op(
            "Every room (private and archived too; no direct chat), newest first; q: part of the name",
            ("200", _obj(["rooms", "has_more"], rooms={"type": "array", "items": _ref("AdminRoom")},
                         has_more=_BOOL)), params=api.AdminListQuery)},
        "/api/v1/admin/registration": {
            "get": _op("The registration mode", ("200", _ref("Registration"))),
            "put": _op("Set the registration mode, for every node", ("200", _ref("Registration")),
                       body=api.RegistrationBody)},
        "/api/v1/admin/invites": {
            "get": _op("Invite codes, newest first", ("200", _obj(["invites"], invites={
                "type": "array", "items": _ref("Invite")}))),
            "post": _op("Make an invite code (409 past 1,000 open codes)", ("201", _obj(["invite"], invite=_ref("Invite"))),
                        body=api.InviteCreateBody)},
        "/api/v1/admin/invites/{code}": {"delete": {**_op("Revoke an invite code", None), "parameters": code}},
        "/api/v1/admin/stats": {"get": _op("Figures for the admin console (messages since 00:00 UTC)",
                                           ("200", _ref("AdminStats")))},
        "/api/v1/admin/spam": {
            "get": _op("The spam filter for the console: thresholds, model version and when it last learned, "
                       "decisions of the last day (held, approved, rejected; waiting now), this node's verdicts "
                       "since it started, precision and recall on the held-out set", ("200", _ref("SpamFigures"))),
            "put": _op("Change the spam thresholds (0 < hold <= reject <= 1.01) or the age under which an account "
                       "is new, for every node; audited spam_settings", ("200", _ref("SpamSettings")),
                       body=api.SpamSettingsBody)},
        **_held_paths(),
    }


def _support_paths() -> dict[str, Any]:
    """Customer service (issue 12): a support room's desk (its members are the agents; its admins
    keep the knowledge base) and the widget's guest endpoints (a guest's session reaches only
    /api/v1/support/me*, /ws and the event stream: 404 elsewhere). Agents hear of conversations by
    the user frame `support_updated`."""
    entry_id = {"name": "entry_id", "in": "path", "required": True, "schema": _INT_ID}
    conversation_id = [{"name": "conversation_id", "in": "path", "required": True, "schema": _INT_ID}]
    desk = "/api/v1/rooms/{room_id}/support"
    paths: dict[str, Any] = {
        desk: {
            "get": _op("The room's support desk (its members; 404 if the room is none)", ("200", _ref("SupportDesk"))),
            "post": _op("Make the room a support desk (its admins); 200 if it is one already",
                        ("201", _ref("SupportDesk")))},
        f"{desk}/entries": {
            "get": _op("The knowledge base, oldest first (the desk's members)", ("200", _obj(
                ["entries"], entries={"type": "array", "items": _ref("SupportEntry")}))),
            "post": _op("Add an entry (the room's admins)", ("201", _ref("SupportEntry")), body=api.SupportEntryBody)},
        f"{desk}/import": {"post": _op(
            "Add entries from CSV (title, answer, tags; a header row is skipped) or Markdown (each heading a "
            "question, the text under it the answer, `Tags: ...`), all or none (the room's admins)",
            ("201", _obj(["entries"], entries={"type": "array", "items": _ref("SupportEntry")})),
            body=api.SupportImportBody)},
        f"{desk}/entries/{{entry_id}}": {
            "put": _op("Replace an entry (the room's admins)", ("200", _ref("SupportEntry")), body=api.SupportEntryBody),
            "delete": _op("Delete an entry (the room's admins)", None)},
        f"{desk}/try": {"get": _op(
            "What the assistant would answer: the best entries with their BM25 score and coverage",
            ("200", _ref("SupportTry")), params=api.SupportTryQuery)},
        f"{desk}/conversations": {"get": _op(
            "The desk's conversations, newest first: open (with the assistant, waiting, taken) or resolved",
            ("200", _obj(["conversations"], conversations={"type": "array", "items": _ref("SupportConversation")})),
            params=api.SupportQueueQuery)},
        "/api/v1/support/conversations/{conversation_id}/take": {"post": _op(
            "Take a conversation (an agent): the assistant adds me to its room; 409 if someone took "
            "it first or it is resolved", ("200", _ref("SupportConversationAnswer")))},
        "/api/v1/support/conversations/{conversation_id}/resolve": {"post": _op(
            "Resolve a conversation (an agent); the visitor writing again opens it again",
            ("200", _ref("SupportConversationAnswer")))},
        "/api/v1/support/rooms/{room_id}/visit": {"post": _op(
            "A new widget visitor (no login; needs X-Requested-With; rate limited per address): a guest "
            "session's token and its conversation", ("201", _ref("SupportVisit")), auth=False)},
        "/api/v1/support/me": {"get": _op("My conversation (a guest) and its last 100 events",
                                          ("200", _ref("SupportMine")))},
        "/api/v1/support/me/messages": {"post": _op(
            "Write in my conversation (a guest): the normal send path, then the assistant answers while the "
            "conversation is its; idempotent with client_msg_id (200 for a retry)", ("201", _ref("SupportAsked")),
            body=api.SupportMessageBody)},
        "/api/v1/support/me/handover": {"post": _op("Talk to a person (a guest)",
                                                    ("200", _ref("SupportConversationAnswer")))},
    }
    for op in paths[f"{desk}/entries/{{entry_id}}"].values():
        op["parameters"] = [entry_id]
    for name in ("take", "resolve"):
        paths[f"/api/v1/support/conversations/{{conversation_id}}/{name}"]["post"]["parameters"] = conversation_id
    paths[desk]["post"]["responses"]["200"] = {"description": "a support desk already",
                                               "content": {"application/json": {"schema": _ref("SupportDesk")}}}
    paths["/api/v1/support/me/messages"]["post"]["responses"]["200"] = {
        "description": "a retry", "content": {"application/json": {"schema": _ref("SupportAsked")}}}
    return paths
_ICE_SERVER = _obj(["urls"], urls={"type": "array", "items": _STR}, username=_STR, credential=_STR)


def _call_paths() -> dict[str, Any]:
    """Calls (issue 13): the signalling is on /ws (`call_*` frames); REST tells ICE servers and the
    running call."""
    return {
        "/api/v1/calls/ice": {"get": _op(
            "ICE servers for a call (RTCConfiguration.iceServers): PARLEY_ICE_SERVERS, and the TURN servers "
            "with credentials of mine valid for ttl_s seconds (coturn use-auth-secret); rate limited",
            ("200", _obj(["ice_servers", "ttl_s"], ice_servers={"type": "array", "items": _ICE_SERVER},
                         ttl_s=_NULLABLE_INT)))},
        "/api/v1/rooms/{room_id}/call": {"get": _op(
            "The room's running call and who is in it (null: none), for its joined members",
            ("200", _obj(["call"], call={"anyOf": [_ref("Call"), {"type": "null"}]})))},
    }


def _held_paths() -> dict[str, Any]:
    """The spam filter's held-for-review queue (issue 11)."""
    held_id = [{"name": "held_id", "in": "path", "required": True, "schema": _INT_ID}]
    approve = _op("Approve a held message: it is sent to its room now (the next seq, to everyone) and the "
                  "filter learns it as not spam (the room's moderators and up, server admins)",
                  ("200", _ref("HeldApproved")))
    reject = _op("Reject a held message: it is discarded and the filter learns it as spam", ("200", _ref("HeldRejected")))
    for op in (approve, reject):
        op["parameters"] = held_id
    return {
        "/api/v1/held": {"get": _op(
            "Messages the spam filter held for review, newest first: of one room (room=; its moderators and "
            "up: 403 for its other members, 404 for non-members), or of every room I moderate (server "
            "admins: all)", ("200", _ref("HeldPage")), params=api.HeldQuery)},
        "/api/v1/me/held": {"get": _op(
            "My messages the spam filter holds for review, oldest first, in rooms I am joined to (the client "
            "shows them again as held after a reload), and the ids of mine a moderator rejected in the last "
            "day", ("200", _obj(["held", "rejected"], held={"type": "array", "items": _ref("HeldMessage")},
                                rejected={"type": "array", "items": _INT})))},
        "/api/v1/held/{held_id}/approve": {"post": approve},
        "/api/v1/held/{held_id}/reject": {"post": reject},
    }


@cache
def document(max_text: int) -> bytes:
    """The document for a server whose longest message is `max_text` characters, encoded once."""
    return msgspec.json.encode({
        "openapi": "3.1.0",
        "info": {"title": "Parley", "version": "1", "description": "Self-hosted real-time chat. "
                 "The WebSocket protocol at /ws is described in docs/protocol.md."},
        "paths": _paths(),
        "components": {
            "schemas": {**SCHEMAS, **_wire_schemas(), **_request_schemas(max_text)},
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"},
                                "cookie": {"type": "apiKey", "in": "cookie", "name": "parley_session"}},
        },
        "security": [{"bearer": []}, {"cookie": []}],
    })


@routes.get("/api/openapi.json")
async def openapi(request: web.Request) -> web.StreamResponse:
    return web.Response(body=document(ctx(request).settings.max_text), content_type="application/json")
