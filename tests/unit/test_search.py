"""core.search: the tokens both databases index, the terms they are asked, snippets and bounds."""

from __future__ import annotations

import pytest

from parley.core import search
from parley.core.errors import Invalid


def test_latin_words_fold_case_and_accents_and_cjk_runs_become_bigrams() -> None:
    assert search.tokens("Café au LAIT, ok_go İstanbul Straße") == [
        "cafe", "au", "lait", "ok", "go", "istanbul", "strasse"]
    assert search.tokens("我们去咖啡店吧") == ["我们", "们去", "去咖", "咖啡", "啡店", "店吧"]
    assert search.tokens("東京に行く and 好") == ["東京", "京に", "に行", "行く", "and", "好"]
    assert search.tokens("x" * 100) == ["x" * search.TOKEN_MAX]
    # Between CJK runs: ASCII stretches whole, other words one by one, long words cut alike.
    assert search.tokens("Go 咖啡 Naïve ok ½ " + "y" * 70 + "好" + "Z" * 70) == [
        "go", "咖啡", "naive", "ok", "1", "2", "y" * search.TOKEN_MAX, "好", "z" * search.TOKEN_MAX]
    assert search.tokens("!!! ...") == []


def test_queries_become_prefix_words_and_bigrams_and_runs_for_both_databases() -> None:
    terms = search.parse("  Cafe 咖啡店 ")
    # No phrases (neither index keeps positions): all the bigrams, then the run in the text.
    assert search.fts5_query(terms) == '"cafe" * AND "咖啡" AND "啡店"'
    assert search.tsquery(terms, [3]) == "'3~cafe':* & '3~咖啡' & '3~啡店'"
    assert search.runs(terms) == ["咖啡店"]
    assert search.runs(search.parse("咖 cafe 東京")) == []  # one character or one bigram: the index is exact
    assert search.fts5_query(terms, ["§r1", "§r2"]).endswith('AND ("§r1" OR "§r2")')
    assert search.tsquery(terms, [3], ["§r1"]).endswith("& ('3~§r1')")
    assert all("§" not in t for t in search.tokens("§r1 §u2"))  # no text can forge a facet


@pytest.mark.parametrize("q", ["", " ", "?!", "x" * 201, " ".join(f"w{i}" for i in range(17))])
def test_bad_queries(q: str) -> None:
    with pytest.raises(Invalid):
        search.parse(q)


def test_snippet_parts_cover_the_window_and_mark_the_matches() -> None:
    parts = search.snippet("<b>Café</b> and cafés, 咖啡店", search.parse("cafe 咖啡"))
    assert "".join(p for p, _ in parts) == "<b>Café</b> and cafés, 咖啡店"
    assert [p for p, marked in parts if marked] == ["Café", "cafés", "咖啡"]
    assert search.snippet("nothing here", search.parse("zebra")) == [("nothing here", False)]


def test_bounds_are_seqs_cursors_or_times() -> None:
    assert search.bound("42", "before") == search.Bound(seq=42)
    assert search.bound("c99", "before") == search.Bound(cursor=99)
    assert search.bound("2026-12-01", "after") == search.Bound(ts=1_796_083_200_000)
    assert search.bound("2026-12-01T08:00:00+08:00", "after") == search.Bound(ts=1_796_083_200_000)
    for bad in ("yesterday", "c", "c1x", "-5"):
        with pytest.raises(Invalid):
            search.bound(bad, "before")


def test_postgresql_lexemes_carry_the_era_of_their_event() -> None:
    assert search.era(65_535) == 0 and search.era(65_536) == 1
    assert search.tsvector(["cafe", "咖啡"]) == "'#cafe' '#咖啡'"  # the insert statement puts the era
    assert search.tsvector(["cafe", "§r1"], event_id=3 * 65_536 + 5) == "'3~cafe' '3~§r1'"  # no positions
    # Each message has one era, so a query over several eras is one conjunction per era.
    assert search.tsquery(search.parse("ok 咖"), [2, 1], ["§r1", "§r2"]) == (
        "('2~ok':* & '2~咖':* & ('2~§r1' | '2~§r2')) | ('1~ok':* & '1~咖':* & ('1~§r1' | '1~§r2'))")
