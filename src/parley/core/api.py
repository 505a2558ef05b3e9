"""Typed REST requests: every JSON body and query string is decoded into one of these structs.

The structs carry the type and the plain bounds (lengths, patterns, enums, ranges) of each field;
the OpenAPI document is generated from them, so what it promises is what decoding enforces. The
semantic rules (NFC, control characters, common passwords...) stay in `validation` and run after.
No string holding a NUL gets through: PostgreSQL cannot store one (a 500 on that database only).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, TypeVar

import msgspec
from msgspec import UNSET, Meta, Struct, UnsetType

from parley.core import audit, moderation, reports, search, support, validation
from parley.core.admin import (
    INVITE_CODE_MAX,
    INVITE_TTL_DEFAULT_S,
    INVITE_TTL_MAX_S,
    INVITE_TTL_MIN_S,
    INVITE_USES_MAX,
    PAGE_MAX,
)
from parley.core.bots import COMMAND_NAME
from parley.core.errors import BadRequest, Invalid, ParleyError

T = TypeVar("T")

# JSON Schema (ECMA-262) and Python read these patterns alike; Python's `$` also matches before a
# final newline, which `validation.username` (a fullmatch) still refuses.
Username = Annotated[str, Meta(pattern=f"^{validation.USERNAME_CHARS}$")]
Password = Annotated[str, Meta(min_length=validation.PASSWORD_MIN, max_length=validation.PASSWORD_MAX)]
DisplayName = Annotated[str, Meta(min_length=1, max_length=validation.DISPLAY_NAME_MAX)]
RoomName = Annotated[str, Meta(min_length=1, max_length=validation.ROOM_NAME_MAX)]
Topic = Annotated[str, Meta(max_length=validation.TOPIC_MAX)]
ClientMsgId = Annotated[str, Meta(min_length=1, max_length=validation.CLIENT_MSG_ID_MAX)]
NonNegative = Annotated[int, Meta(ge=0, le=validation.INT_MAX)]
Visibility = Literal["public", "private"]
PATH_ID_DIGITS = 18  # room and user ids in paths


class _Body(Struct, kw_only=True, frozen=True):
    def given(self, name: str) -> Any:
        """The field's value, or None when it was left out."""
        value = getattr(self, name)
        return None if value is UNSET else value


class RegisterBody(_Body):
    username: Username
    password: Password
    # Left out, null or "": the username is shown.
    display_name: Annotated[str, Meta(max_length=validation.DISPLAY_NAME_MAX)] | None = None
    # Needed in the `invite` registration mode (GET /api/v1/server says which); ignored otherwise.
    invite: Annotated[str, Meta(max_length=INVITE_CODE_MAX)] | None = None


class LoginBody(_Body):
    # Any strings: a name that breaks the rules is just an unknown one, answered 401 like the rest.
    username: str
    password: str


class ProfileBody(_Body, forbid_unknown_fields=True):
    """One or both; `status` "" clears it."""
    display_name: DisplayName | UnsetType = UNSET
    status: Annotated[str, Meta(max_length=validation.STATUS_MAX)] | UnsetType = UNSET


class PasswordBody(_Body):
    current_password: str
    new_password: Password


class DeleteAccountBody(_Body):
    password: Annotated[str, Meta(max_length=1024)]


class RoomCreateBody(_Body):
    name: RoomName
    topic: Topic | None = ""
    visibility: Visibility = "public"


class RoomUpdateBody(_Body, forbid_unknown_fields=True):
    name: RoomName | UnsetType = UNSET
    topic: Topic | UnsetType = UNSET
    archived: bool | UnsetType = UNSET
    slow_mode_s: Annotated[int, Meta(ge=0, le=moderation.SLOW_MODE_MAX_S)] | UnsetType = UNSET  # 0: off
    post_policy: Literal["everyone", "moderators"] | UnsetType = UNSET
    retention_days: Annotated[int, Meta(ge=0, le=validation.RETENTION_DAYS_MAX)] | UnsetType = UNSET
    visibility: Visibility | UnsetType = UNSET

    def changes(self) -> dict[str, Any]:
        return {f: self.given(f) for f in self.__struct_fields__ if self.given(f) is not None}


class InviteBody(_Body):
    """`usernames`, or `username` for one."""
    username: Username | UnsetType = UNSET
    usernames: Annotated[list[Username], Meta(min_length=1, max_length=validation.INVITE_MAX)] | UnsetType = UNSET

    def names(self) -> list[str] | None:
        if self.usernames is not UNSET:
            return self.usernames
        return None if self.username is UNSET else [self.username]


class DirectBody(InviteBody):
    usernames: Annotated[list[Username], Meta(min_length=1, max_length=validation.DIRECT_MAX_OTHERS)] | UnsetType = UNSET


class RoleBody(_Body):
    role: Literal["owner", "admin", "moderator", "member"]


class MessageBody(_Body):
    # The longest text is a setting; validation.message_text checks it on the normalised text.
    # One of text and attachments at least.
    text: str = ""
    client_msg_id: ClientMsgId | None = None
    attachments: Annotated[list[Annotated[int, Meta(ge=1, le=validation.INT_MAX)]],
                           Meta(min_length=1, max_length=10)] | None = None
    reply_to: NonNegative | None = None  # the seq of the message this one answers
    thread_root: NonNegative | None = None  # the seq of the thread's top-level message


class EditBody(_Body, forbid_unknown_fields=True):
    text: Annotated[str, Meta(min_length=1)]


class UploadsQuery(_Body):
    before: NonNegative | UnsetType = UNSET
    limit: Annotated[int, Meta(ge=1, le=100)] = 50


class ThreadQuery(_Body):
    after: NonNegative = 0
    limit: Annotated[int, Meta(ge=1, le=100)] = 50


class ReadBody(_Body):
    seq: NonNegative


class UserQuery(_Body):
    q: str = ""
    limit: Annotated[int, Meta(ge=1, le=50)] = 20


class PublicRoomsQuery(_Body):
    q: str = ""
    limit: Annotated[int, Meta(ge=1, le=200)] = 100


class HistoryQuery(_Body):
    before: NonNegative | UnsetType = UNSET
    after: NonNegative | UnsetType = UNSET
    around: NonNegative | UnsetType = UNSET  # a page centred on this seq (search: jump into context)
    limit: Annotated[int, Meta(ge=1, le=100)] = 50


# search: `q` and the bounds are checked by core.search (words, dates, seqs or a page cursor).
Bound = Annotated[str, Meta(max_length=40)]


class SearchQuery(_Body):
    q: Annotated[str, Meta(max_length=search.QUERY_MAX)] = ""
    room: NonNegative | UnsetType = UNSET
    from_: Annotated[str, Meta(max_length=40)] | UnsetType = msgspec.field(default=UNSET, name="from")
    has: Literal["file"] | UnsetType = UNSET
    before: Bound | UnsetType = UNSET
    after: Bound | UnsetType = UNSET
    limit: Annotated[int, Meta(ge=1, le=50)] = 20


# -- reports and blocks (issue 11) -------------------------------------------------------------------
ReportNote = Annotated[str, Meta(max_length=reports.NOTE_MAX)]


class ReportBody(_Body, forbid_unknown_fields=True):
    reason: Literal["spam", "abuse", "other"]
    note: ReportNote = ""


class ResolveBody(_Body, forbid_unknown_fields=True):
    action: Literal["dismiss", "delete", "mute", "kick", "ban"]
    # mute: required; ban: optional (none: until unbanned); ignored otherwise. At most a year.
    duration_s: Annotated[int, Meta(ge=1, le=reports.DURATION_MAX_S)] | None = None
    note: ReportNote = ""


class ReportsQuery(_Body):
    state: Literal["open", "resolved"] = "open"
    room: NonNegative | UnsetType = UNSET
    before: NonNegative | UnsetType = UNSET  # a report id: the page before it
    limit: Annotated[int, Meta(ge=1, le=reports.PAGE_MAX)] = 50


class MyReportsQuery(_Body):
    before: NonNegative | UnsetType = UNSET
    limit: Annotated[int, Meta(ge=1, le=reports.PAGE_MAX)] = 50


# -- moderation (issue 11) ------------------------------------------------------------------------------
Reason = Annotated[str, Meta(max_length=validation.REASON_MAX)]
Duration = Annotated[int, Meta(ge=1, le=moderation.DURATION_MAX_S)]
UserId = Annotated[int, Meta(ge=1, le=validation.INT_MAX)]


class KickBody(_Body, forbid_unknown_fields=True):
    reason: Reason | None = ""


class BanBody(_Body, forbid_unknown_fields=True):
    user_id: UserId
    reason: Reason | None = ""
    duration_s: Duration | None = None  # left out or null: until lifted


class MuteBody(_Body, forbid_unknown_fields=True):
    user_id: UserId
    duration_s: Duration
    reason: Reason | None = ""


class PurgeBody(_Body, forbid_unknown_fields=True):
    since_s: Annotated[int, Meta(ge=1, le=moderation.PURGE_MAX_S)]


class AuditQuery(_Body):
    room: NonNegative | UnsetType = UNSET
    actor: NonNegative | UnsetType = UNSET
    action: Literal[audit.ACTIONS] | UnsetType = UNSET  # type: ignore[valid-type]
    before: NonNegative | UnsetType = UNSET  # the id of the oldest entry of the previous page
    limit: Annotated[int, Meta(ge=1, le=audit.PAGE_MAX)] = 50


class DeleteQuery(_Body):
    reason: Literal["spam"] | UnsetType = UNSET  # a moderator's "delete as spam": the filter learns it


class HeldQuery(_Body):
    room: NonNegative | UnsetType = UNSET
    before: NonNegative | UnsetType = UNSET  # the id of the oldest held message of the previous page
    limit: Annotated[int, Meta(ge=1, le=100)] = 50


# -- customer service (issue 12) ---------------------------------------------------------------------

class SupportEntryBody(_Body, forbid_unknown_fields=True):
    title: Annotated[str, Meta(min_length=1, max_length=support.TITLE_MAX)]
    answer: Annotated[str, Meta(min_length=1, max_length=support.ANSWER_MAX)]
    tags: Annotated[str, Meta(max_length=support.TAGS_MAX)] = ""


class SupportImportBody(_Body, forbid_unknown_fields=True):
    format: Literal["csv", "markdown"]
    text: Annotated[str, Meta(min_length=1, max_length=support.IMPORT_MAX)]


class SupportTryQuery(_Body):
    q: Annotated[str, Meta(min_length=1, max_length=search.QUERY_MAX)]


class SupportQueueQuery(_Body):
    state: Literal["open", "resolved", "all"] = "open"


class SupportMessageBody(_Body, forbid_unknown_fields=True):
    text: Annotated[str, Meta(min_length=1)]
    client_msg_id: ClientMsgId | None = None


# -- server administration (issue 11) ----------------------------------------------------------------


class AdminListQuery(_Body):
    q: Annotated[str, Meta(max_length=80)] = ""
    before: NonNegative | UnsetType = UNSET  # an id: the page below it (the last one's id of the page before)
    limit: Annotated[int, Meta(ge=1, le=PAGE_MAX)] = 50


class AdminUserBody(_Body, forbid_unknown_fields=True):
    disabled: bool | UnsetType = UNSET
    is_admin: bool | UnsetType = UNSET


class RegistrationBody(_Body):
    mode: Literal["open", "invite", "closed"]


class SpamSettingsBody(_Body):
    hold: Annotated[float, Meta(gt=0, le=1.01)] | UnsetType = UNSET
    reject: Annotated[float, Meta(gt=0, le=1.01)] | UnsetType = UNSET
    new_account_s: Annotated[int, Meta(ge=0, le=365 * 86_400)] | UnsetType = UNSET


class InviteCreateBody(_Body):
    uses: Annotated[int, Meta(ge=1, le=INVITE_USES_MAX)] = 1
    expires_in_s: Annotated[int, Meta(ge=INVITE_TTL_MIN_S, le=INVITE_TTL_MAX_S)] = INVITE_TTL_DEFAULT_S




def decode_body(raw: bytes, type_: type[T]) -> T:
    """A JSON body as `type_`: 400 `bad_request` unless it is a JSON object, 422 `invalid` naming
    the field that has the wrong type, breaks a bound or holds a NUL."""
    try:
        value = msgspec.json.decode(raw or b"{}", type=type_)
    except msgspec.ValidationError as exc:
        raise _invalid(str(exc)) from None
    except msgspec.DecodeError:
        raise BadRequest("the body is not valid JSON") from None
    _refuse_nul(msgspec.to_builtins(value))
    return value


def decode_query(pairs: list[tuple[str, str]], type_: type[T]) -> T:
    """Query parameters as `type_`. Integers are plain ASCII digits; empty values mean the default;
    the first of repeated names counts; names the struct does not know are ignored, but no name or
    value may hold a NUL."""
    for name, raw in pairs:
        if "\x00" in name or "\x00" in raw:
            raise Invalid(f"the query parameter {name.replace(chr(0), '')!r} must not contain NUL characters")
    ints = _int_fields(type_)
    values: dict[str, Any] = {}
    for name, raw in pairs:
        if name not in type_.__struct_encode_fields__ or raw == "" or name in values:
            continue
        if name in ints:
            if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
                raise Invalid(f"{name} must be a non-negative integer")
            values[name] = int(raw)
        else:
            values[name] = raw
    try:
        return msgspec.convert(values, type_)
    except msgspec.ValidationError as exc:
        raise _invalid(str(exc)) from None


def find_nul(value: Any, path: str = "") -> str | None:
    """Where the first NUL is in strings, keys, lists and dicts (`usernames[2]`), or None."""
    if isinstance(value, str):
        return (path or "the value") if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            here = f"{path}.{key}" if path else str(key)
            if "\x00" in str(key):
                return path or "a key"
            if (found := find_nul(item, here)) is not None:
                return found
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            if (found := find_nul(item, f"{path}[{i}]")) is not None:
                return found
    return None


def _refuse_nul(value: Any) -> None:
    where = find_nul(value)
    if where is not None:
        raise Invalid(f"{where} must not contain NUL characters")


def _int_fields(type_: type[Any]) -> set[str]:
    info = msgspec.inspect.type_info(type_)
    return {f.encode_name for f in info.fields if _is_int(f.type)}  # type: ignore[attr-defined]


def _is_int(t: msgspec.inspect.Type) -> bool:
    if isinstance(t, msgspec.inspect.UnionType):
        return any(_is_int(x) for x in t.types)
    return isinstance(t, msgspec.inspect.IntType)


_AT = re.compile(r" - at `\$\.?(.*)`$")
_MISSING = re.compile(r"Object missing required field `(\w+)`")
_UNKNOWN = re.compile(r"Object contains unknown field `(.*)`")


def _invalid(detail: str) -> ParleyError:
    """msgspec's words, turned around so the field comes first."""
    if missing := _MISSING.match(detail):
        return Invalid(f"{missing.group(1)} is required")
    if unknown := _UNKNOWN.match(detail):
        return Invalid(f"unknown field {unknown.group(1)!r}")
    at = _AT.search(detail)
    if at is None:  # about the whole body: not an object
        return BadRequest("the body must be a JSON object")
    reason = detail[: at.start()]
    return Invalid(f"{at.group(1) or 'the body'}: {reason[0].lower()}{reason[1:]}")


# -- bots and webhooks (issue 12) -----------------------------------------------------------------------
WebhookEvent = Literal["message", "mention", "direct"]
RoomId = Annotated[int, Meta(ge=1, le=validation.INT_MAX)]


class BotCreateBody(_Body, forbid_unknown_fields=True):
    username: Username
    display_name: Annotated[str, Meta(max_length=validation.DISPLAY_NAME_MAX)] | None = None


class RoomBotBody(_Body, forbid_unknown_fields=True):
    bot_id: UserId


class WebhookBody(_Body, forbid_unknown_fields=True):
    url: Annotated[str, Meta(min_length=1, max_length=2000)]
    events: Annotated[list[WebhookEvent], Meta(min_length=1, max_length=3)]
    rooms: Annotated[list[RoomId], Meta(max_length=100)] | None = None


class HookBody(_Body, forbid_unknown_fields=True):
    room: RoomId


class Command(_Body, forbid_unknown_fields=True):
    name: Annotated[str, Meta(pattern=COMMAND_NAME)]
    description: Annotated[str, Meta(max_length=200)] = ""
    usage: Annotated[str, Meta(max_length=100)] = ""


class CommandsBody(_Body, forbid_unknown_fields=True):
    commands: Annotated[list[Command], Meta(max_length=50)]


class HookPostBody(_Body):
    """An incoming webhook's post: `{text}`, or Slack's simple payload (`text`, plus fields ignored)."""

    text: Annotated[str, Meta(min_length=1)]
    username: str | None = None
    icon_emoji: str | None = None
    icon_url: str | None = None
    channel: str | None = None
    mrkdwn: bool | None = None


class DeliveriesQuery(_Body):
    limit: Annotated[int, Meta(ge=1, le=200)] = 50


BODIES = (RegisterBody, LoginBody, ProfileBody, PasswordBody, RoomCreateBody, RoomUpdateBody, InviteBody,
          DirectBody, RoleBody, MessageBody, ReadBody, EditBody, ReportBody, ResolveBody, KickBody, BanBody, MuteBody,
          PurgeBody, DeleteAccountBody, AdminUserBody, RegistrationBody, InviteCreateBody, SupportEntryBody,
          SupportMessageBody, SupportImportBody, BotCreateBody, RoomBotBody, WebhookBody, HookBody, CommandsBody,
          HookPostBody, Command)  # Command: an item of CommandsBody, a schema component of its own
QUERIES = (UserQuery, PublicRoomsQuery, HistoryQuery, UploadsQuery, ThreadQuery, SearchQuery, ReportsQuery,
           MyReportsQuery, AuditQuery, HeldQuery, AdminListQuery, SupportTryQuery, SupportQueueQuery, DeliveriesQuery)
