"""The cursor token codec: compact, reversible, and still reading the first text form."""

from __future__ import annotations

import random

import pytest

from parley.core.cursors import MAX_TOKEN, decode_cursors, encode_cursors
from parley.core.errors import BadRequest


def test_round_trip_and_size():
    rng = random.Random(7)
    for _ in range(50):
        cursors = {rng.randrange(1, 2**62): rng.randrange(0, 2**62) for _ in range(rng.randrange(0, 50))}
        assert decode_cursors(encode_cursors(cursors)) == cursors
    # 800 rooms with five-digit seqs: about 4 KB, where the text form took about 10 KB.
    many = {100_000 + 3 * k: 12_345 for k in range(800)}
    assert len(encode_cursors(many)) < 4_500 < 9_000 < len("-".join(f"{r}.{s}" for r, s in many.items()))
    assert encode_cursors({}) == "v1." and decode_cursors("v1.") == {}


def test_the_first_text_form_is_still_read():
    assert decode_cursors("12.5-7.0") == {12: 5, 7: 0}
    assert decode_cursors("") == {}


@pytest.mark.parametrize("bad", ["v1.!!!", "v1.gA", "v1.AQ", "v1.AQA==", "v1.é", "12.x", "1.2.3", "5",
                                 "v1." + "_" * 20, "99999999999999999999.1", "x" * (MAX_TOKEN + 1)])
def test_malformed_tokens_are_bad_requests(bad):
    with pytest.raises(BadRequest):
        decode_cursors(bad)
