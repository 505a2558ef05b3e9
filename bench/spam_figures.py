"""The spam filter's quality and cost, in process: precision and recall on the held-out set
(src/parley/core/data/spam-heldout.tsv) of the model trained on the starter set, SGD (the one
Parley uses) against MultinomialNB, and the scoring cost per message of a 500-message batch.

    .venv/bin/python bench/spam_figures.py
"""

from __future__ import annotations

import re
import time

import numpy as np
from sklearn.naive_bayes import MultinomialNB

from parley.core import spam

HAN = re.compile(r"[\u4e00-\u9fff]")


def rates(predicted: np.ndarray, truth: np.ndarray) -> str:
    tp = int((predicted & truth).sum())
    fp = int((predicted & ~truth).sum())
    precision = tp / max(int(predicted.sum()), 1)
    recall = tp / max(int(truth.sum()), 1)
    return f"precision {precision:6.1%}  recall {recall:6.1%}  false positives {fp:3d} of {int((~truth).sum())}"


def main() -> None:
    texts, labels = spam.read_set("spam-starter.tsv")
    held_texts, held_labels = spam.read_set("spam-heldout.tsv")
    truth = np.array(held_labels)
    chinese = np.array([bool(HAN.search(t)) for t in held_texts])
    print(f"starter set {len(texts)} messages ({sum(labels)} spam); held-out {len(held_texts)} ({truth.sum()} spam)")

    sgd = spam.Model.train(texts, labels)
    nb = MultinomialNB(alpha=0.1).fit(spam.features(texts), np.array(labels))
    p_sgd = sgd.probabilities(held_texts)
    p_nb = nb.predict_proba(spam.features(held_texts))[:, 1]
    for threshold in (0.5, 0.7, 0.9):
        print(f"classifier alone, p >= {threshold}:")
        print(f"  SGDClassifier(log_loss)  {rates(p_sgd >= threshold, truth)}")
        print(f"  MultinomialNB(alpha=.1)  {rates(p_nb >= threshold, truth)}")
    policy = spam.Policy()
    for label, age in (("an established account (a year old)", 365 * 86_400_000), ("a new account", 0)):
        scores = spam.score(sgd, [spam.Candidate(t, i, 1, age) for i, t in enumerate(held_texts)], policy,
                            spam.Recent(policy.window_ms), 0)
        values = np.array([s.value for s in scores])
        held = values >= policy.hold
        print(f"with the signals, from {label}, held or refused at {policy.hold}:")
        print(f"  all      {rates(held, truth)}")
        print(f"  English  {rates(held[~chinese], truth[~chinese])}")
        print(f"  Chinese  {rates(held[chinese], truth[chinese])}")
        print(f"  refused outright (>= {policy.reject}): {int((values >= policy.reject).sum())} "
              f"({int((values[~truth] >= policy.reject).sum())} of them ham)")

    batch = [f"#{i} {held_texts[i % len(held_texts)]}" for i in range(500)]
    candidates = [spam.Candidate(t, i % 50, i % 10, 0) for i, t in enumerate(batch)]
    recent = spam.Recent(policy.window_ms)
    spam.score(sgd, candidates, policy, recent, 0)
    runs = 20
    start = time.perf_counter()
    for r in range(runs):
        spam.score(sgd, candidates, policy, recent, r)
    cost = (time.perf_counter() - start) / runs / len(batch) * 1e6
    print(f"scoring cost: {cost:.0f} µs per message in batches of {len(batch)} (CPU of this process, wall clock)")


if __name__ == "__main__":
    main()
