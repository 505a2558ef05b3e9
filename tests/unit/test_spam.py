"""The spam filter's pure part (core/spam.py): features, the saved model, signals, verdicts."""

from __future__ import annotations

import random

import numpy as np

from parley.core import spam

POLICY = spam.Policy()


def test_normalise_undoes_the_usual_disguises() -> None:
    assert spam.normalise("Ｆｒｅｅ\u200bＣＲＹＰＴＯ") == "freecrypto"
    assert spam.prepare("  Hello \n  World ") == " hello world "


def test_features_are_the_same_alone_or_in_a_batch_and_scoring_matches_them() -> None:
    texts = ["hello there", "加微信领取免费资料", "", "a"]
    batch = spam.features(texts).toarray()
    for i, text in enumerate(texts):
        assert np.allclose(batch[i], spam.features([text]).toarray()[0])
    model = spam.Model(np.linspace(-1, 1, spam.N_FEATURES), 0.3, 1.0)
    direct = 1 / (1 + np.exp(-(spam.features(texts) @ model.coef + model.intercept)))
    assert np.allclose(model.probabilities(texts), direct)


def test_a_saved_model_loads_to_the_same_scores_and_learns_the_same() -> None:
    texts, labels = spam.read_set("spam-starter.tsv")
    assert len(texts) >= 500 and {True, False} == set(labels)
    model = spam.Model.load(spam.starter_state(), 1)
    again = spam.Model.load(model.dump(), 2)
    probe = ["see you at lunch", "free bitcoin now https://btc-x.top"]
    assert np.allclose(model.probabilities(probe), again.probabilities(probe))
    before = again.probabilities(probe)
    again.learn([probe[0]], True)
    assert again.probabilities(probe)[0] > before[0]


def test_signals_fire_on_floods_new_accounts_repeats_and_rooms() -> None:
    def fired(text: str, age: int = 10**12, rooms: int = 1) -> set[str]:
        c = spam.Candidate(text, 1, 1, age)
        return {reason for reason, _ in spam.signals(c, spam.prepare(text), POLICY, rooms)}

    assert fired("see you at lunch") == set()
    assert fired("see https://one.com and two.net and three.top") == {"link_flood"}
    assert fired("look https://example.org", age=0) == {"link_from_new_account"}
    assert fired("@a @b @c @d @e hello") == {"mention_flood"}
    assert fired("wow!!!!!!!!!!") == {"repeated_characters"}
    assert fired("hi", rooms=3) == {"same_text_in_rooms"}
    recent = spam.Recent(POLICY.window_ms)
    assert [recent.note(7, " hi ", room, 0) for room in (1, 2, 2, 3)] == [1, 2, 2, 3]
    assert recent.note(7, " hi ", 4, POLICY.window_ms + 1) == 1  # the others expired
    assert recent.note(8, " hi ", 1, POLICY.window_ms + 1) == 1  # per sender


def test_verdicts_and_who_is_exempt() -> None:
    score = spam.combine(0.2, [("link_from_new_account", 0.35)])
    assert score.value == round(1 - 0.8 * 0.65, 4) and score.reasons == ["classifier:0.20", "link_from_new_account"]
    assert score.verdict(POLICY) is spam.Verdict.DELIVER
    assert spam.combine(0.7, []).verdict(POLICY) is spam.Verdict.HOLD
    assert spam.combine(0.995, []).verdict(POLICY) is spam.Verdict.REJECT
    assert spam.exempt(True, None) and not spam.exempt(False, None)


def test_an_admins_settings_change_the_policy_within_bounds() -> None:
    import pytest

    from parley.core.errors import Invalid

    changed = spam.settings_policy(POLICY, hold=0.7, new_account_s=3600)
    assert (changed.hold, changed.reject, changed.new_account_ms) == (0.7, POLICY.reject, 3_600_000)
    assert changed.window_ms == POLICY.window_ms  # what an admin does not set stays
    assert spam.settings_json(changed) == {"hold": 0.7, "reject": POLICY.reject, "new_account_s": 3600}
    for bad in ({"hold": 0.0}, {"hold": 0.9, "reject": 0.8}, {"reject": 1.5}, {"new_account_s": -1},
                {"new_account_s": spam.NEW_ACCOUNT_MAX_S + 1}):
        with pytest.raises(Invalid):
            spam.settings_policy(POLICY, **bad)
    assert spam.policy_from_settings(POLICY, {"hold": 0.6, "reject": 1.01}).hold == 0.6
    assert spam.policy_from_settings(POLICY, None) == POLICY
    assert spam.policy_from_settings(POLICY, {"hold": 2}) == POLICY  # stored, then out of bounds: ignored
    assert spam.policy_from_settings(POLICY, {"hold": "x"}) == POLICY


def test_heldout_figures_count_the_models_own_verdicts() -> None:
    texts, labels = spam.read_set("spam-heldout.tsv")
    everything = spam.Model(np.zeros(spam.N_FEATURES), 10.0, 1.0)  # P(spam) ~ 1 for every text
    figures = spam.heldout_figures(everything, POLICY)
    assert figures == {"messages": len(texts), "spam": sum(labels),
                       "precision": round(sum(labels) / len(texts), 4), "recall": 1.0}
    nothing = spam.Model(np.zeros(spam.N_FEATURES), -10.0, 1.0)
    assert spam.heldout_figures(nothing, POLICY)["precision"] is None
    assert spam.heldout_figures(nothing, POLICY)["recall"] == 0.0


def test_run_suspects_include_every_text_the_repeated_character_regex_matches() -> None:
    rng = random.Random(7)
    alphabet = "ab !x💰"
    matched = 0
    for _ in range(2000):
        docs = [spam.prepare("".join(rng.choice(alphabet) * rng.randint(1, 9) for _ in range(rng.randint(0, 8))))
                for _ in range(rng.randint(1, 6))]
        suspects = spam.run_suspects(docs)
        for i, doc in enumerate(docs):
            if spam._RUN.search(doc) is not None:
                matched += 1
                assert i in suspects, doc
    assert matched > 0  # the random texts did hold runs
    docs = [spam.prepare(t) for t in ["hello there", "win!!!!!!!! now", "💰" * 8, "aaaaaaa b"]]
    assert spam.run_suspects(docs) == {1, 2}
