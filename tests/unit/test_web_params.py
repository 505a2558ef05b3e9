"""parley.web.http query and path integers: anything but plain digits is `invalid`, never a crash."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from parley.core.errors import Invalid
from parley.web.http import int_param


def request(query: str) -> web.Request:
    return make_mocked_request("GET", f"/api/v1/rooms/1/messages?{query}")


def test_int_param_plain_digits_and_defaults() -> None:
    r = request("after=7&before=&limit=100")
    assert int_param(r, "after") == 7
    assert int_param(r, "before", 3) == 3  # empty: the default
    assert int_param(r, "missing", 50) == 50
    assert int_param(r, "limit") == 100


@pytest.mark.parametrize("raw", ["-1", "1.5", "abc", "1e3", "0x10", "9" * 19, " 7"])
def test_int_param_refuses_non_digits(raw: str) -> None:
    with pytest.raises(Invalid, match="before must be a non-negative integer"):
        int_param(request("before=" + quote(raw)), "before")


@pytest.mark.parametrize("raw", ["²", "①", "7²"], ids=["superscript-two", "circled-one", "seven-superscript-two"])
def test_int_param_unicode_digits_are_invalid_not_a_500(raw: str) -> None:
    """str.isdigit() is true for '²', which int() cannot parse: `?before=²` must be a 422, not a ValueError
    (which the error middleware turns into 500 internal)."""
    with pytest.raises(Invalid, match="before must be a non-negative integer"):
        int_param(request("before=" + quote(raw)), "before")
