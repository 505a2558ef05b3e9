"""The Grafana dashboard (deploy/grafana-dashboard.json) asks only for series a node exports."""

from __future__ import annotations

import json
import re
from pathlib import Path

from parley.core import metrics
from parley.web.live import LIVE
from parley.web.metrics import _NodeCollector

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana-dashboard.json"


def exported() -> set[str]:
    metrics.SPAM_DECISIONS.labels("deliver")  # labelled series appear once used
    metrics.HTTP_REQUESTS.labels("GET", "/", "200")
    metrics.HTTP_SECONDS.labels("/")
    families = [*metrics.REGISTRY.collect(), *_NodeCollector({LIVE: set()}).collect()]  # type: ignore[arg-type]
    return {sample.name for family in families for sample in family.samples}


def test_every_series_of_the_dashboard_is_exported() -> None:
    panels = json.loads(DASHBOARD.read_text())["panels"]
    asked = {name for panel in panels for target in panel["targets"]
             for name in re.findall(r"\b(parley_\w+)", target["expr"])}
    assert asked, "the dashboard asks for no parley_ series"
    assert asked - exported() == set()


def test_counts_are_exported_as_counters() -> None:
    before = {s.name: s.value for f in _NodeCollector({LIVE: set()}).collect() for s in f.samples}  # type: ignore[arg-type]
    metrics.COUNTS.deliveries += 5
    after = {s.name: s.value for f in _NodeCollector({LIVE: set()}).collect() for s in f.samples}  # type: ignore[arg-type]
    assert after["parley_deliveries_total"] - before["parley_deliveries_total"] == 5
    assert after["parley_connections"] == 0
