"""Query strings and JSON bodies decoded into the request structs of parley.core.api: anything but the
documented shape is `invalid` (or `bad_request`), never a crash."""

from __future__ import annotations

from urllib.parse import quote

import msgspec
import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from parley.core import api
from parley.core.errors import BadRequest, Invalid
from parley.web.http import query


def request(query_string: str) -> web.Request:
    return make_mocked_request("GET", f"/api/v1/rooms/1/messages?{query_string}")


def test_query_plain_digits_and_defaults() -> None:
    params = query(request("after=7&before=&limit=100&unknown=x"), api.HistoryQuery)
    assert params.given("after") == 7
    assert params.given("before") is None  # empty: the default
    assert params.limit == 100
    assert query(request(""), api.HistoryQuery).limit == 50
    assert query(request("q=42"), api.UserQuery).q == "42"  # a string field stays a string


@pytest.mark.parametrize("raw", ["-1", "1.5", "abc", "1e3", "0x10", "9" * 19, " 7", "5.0", "true"])
def test_query_refuses_non_digits(raw: str) -> None:
    with pytest.raises(Invalid, match="before must be a non-negative integer"):
        query(request("before=" + quote(raw)), api.HistoryQuery)


@pytest.mark.parametrize("raw", ["²", "①", "7²"], ids=["superscript-two", "circled-one", "seven-superscript-two"])
def test_query_unicode_digits_are_invalid_not_a_500(raw: str) -> None:
    """str.isdigit() is true for '²', which int() cannot parse: `?before=²` must be a 422, not a ValueError
    (which the error middleware turns into 500 internal)."""
    with pytest.raises(Invalid, match="before must be a non-negative integer"):
        query(request("before=" + quote(raw)), api.HistoryQuery)


@pytest.mark.parametrize(("type_", "raw"), [(api.HistoryQuery, "limit=0"), (api.HistoryQuery, "limit=101"),
                                            (api.UserQuery, "limit=51"), (api.PublicRoomsQuery, "limit=201")])
def test_query_ranges_are_the_documented_ones(type_: type, raw: str) -> None:
    with pytest.raises(Invalid, match="limit"):
        query(request(raw), type_)


@pytest.mark.parametrize("raw", ["q=a%00", "q=ok&x=%00", "%00=1", "q=ok&q=b%00"])
def test_query_refuses_nul_anywhere(raw: str) -> None:
    with pytest.raises(Invalid, match="NUL"):
        query(request(raw), api.UserQuery)


@pytest.mark.parametrize(("raw", "error", "words"), [
    (b"{broken", BadRequest, "not valid JSON"),
    (b'"\\ud800"', BadRequest, "not valid JSON"),  # a lone surrogate could not be stored
    (b"[]", BadRequest, "JSON object"),
    (b"{}", Invalid, "role is required"),
    (b"", Invalid, "role is required"),
    (b'{"role": {}}', Invalid, "role: expected `str`"),
    (b'{"role": []}', Invalid, "role"),
    (b'{"role": "king"}', Invalid, "role: invalid enum value"),
])
def test_body_errors_name_the_field(raw: bytes, error: type, words: str) -> None:
    with pytest.raises(error, match=words) as exc:
        api.decode_body(raw, api.RoleBody)
    assert type(exc.value) is error


@pytest.mark.parametrize(("type_", "raw", "where"), [
    (api.LoginBody, b'{"username": "a\\u0000b", "password": "x"}', "username"),
    (api.PasswordBody, b'{"current_password": "\\u0000", "new_password": "long enough one"}', "current_password"),
    (api.MessageBody, b'{"text": "hi", "client_msg_id": "\\u0000"}', "client_msg_id"),
])
def test_body_refuses_nul_naming_the_field(type_: type, raw: bytes, where: str) -> None:
    with pytest.raises(Invalid, match=rf"^{where.replace('[', '.').replace(']', '.')} must not contain NUL"):
        api.decode_body(raw, type_)


def test_find_nul_names_nested_places() -> None:
    assert api.find_nul({"a": ["ok", {"b": "x\x00"}]}) == "a[1].b"
    assert api.find_nul({"a\x00": 1}) == "a key"
    assert api.find_nul({"a": ["ok", 1, None, {"b": "fine"}]}) is None


def test_a_backslash_u_in_text_is_not_a_nul() -> None:
    assert api.decode_body(b'{"text": "write \\\\u0000 in C"}', api.MessageBody).text == "write \\u0000 in C"


def test_register_display_name_may_be_empty_or_left_out() -> None:
    body = b'{"username": "ann", "password": "long enough", "display_name": ""}'
    assert api.decode_body(body, api.RegisterBody).display_name == ""
    assert api.decode_body(body.replace(b', "display_name": ""', b""), api.RegisterBody).display_name is None


def test_room_update_keeps_only_the_fields_sent() -> None:
    assert api.decode_body(b'{"topic": ""}', api.RoomUpdateBody).changes() == {"topic": ""}
    with pytest.raises(Invalid, match="unknown field 'owner'"):
        api.decode_body(b'{"owner": 1}', api.RoomUpdateBody)


def test_every_struct_has_a_json_schema() -> None:
    schemas, components = msgspec.json.schema_components(api.BODIES + api.QUERIES)
    assert set(components) == {t.__name__ for t in api.BODIES + api.QUERIES}
