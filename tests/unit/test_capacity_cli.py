"""`parley capacity`, through click's CliRunner, on constants measured by bench/capacity.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from parley.cli import main
from parley.core import capacity as model

# A run of bench/capacity.py on a quiet 2-core machine (rounded): what the command computes from.
MEASURED = {"idle_s": 0.02, "per_batch_s": 3.2e-4, "per_message_s": 5.0e-5, "per_delivery_s": 4.2e-6,
            "commit_per_batch_s": 1.4e-3, "commit_per_message_s": 2.0e-5, "commit_cv2": 1.5,
            "floor_p50_s": 1.0e-3, "floor_p50_per_member_s": 1.0e-5,
            "floor_p99_s": 4.0e-3, "floor_p99_per_member_s": 1.5e-5}


@pytest.fixture
def constants(tmp_path: Path) -> str:
    path = tmp_path / "capacity.json"
    path.write_text(json.dumps(MEASURED))
    return str(path)


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["capacity", *args])
    return result.exit_code, result.stdout, result.stderr


def test_a_light_load_is_fine(constants: str) -> None:
    code, out, err = run("--room-size", "100", "--rate", "100", "--constants", constants)
    p = model.predict(model.Constants.from_dict(MEASURED), 100, 100.0)
    # 2 % idle + 100 msg/s · (50 µs + 100 · 4.2 µs) + ~90 batches/s · 320 µs: about 10 % of the loop.
    assert p.rho == pytest.approx(0.02 + 100 * (50e-6 + 100 * 4.2e-6) + 100 / p.batch * 3.2e-4)
    assert 0.09 < p.rho < 0.10
    assert f"event-loop utilisation   {p.rho:.0%} per node" in out
    assert f"p99 {p.p99_s * 1e3:.1f} ms" in out
    assert "10,000 deliveries/s" in out
    assert (code, err) == (0, "")


def test_an_overloaded_node_is_told_how_many_nodes_it_needs(constants: str) -> None:
    k = model.Constants.from_dict(MEASURED)
    need = model.nodes_needed(k, 1000, 400.0)
    assert need is not None and need > 1
    code, out, err = run("-R", "1000", "--rate", "400", "--constants", constants)
    assert code == 3
    assert "over 100 % (the node cannot keep up)" in out
    assert f"run {need} nodes" in err
    code, out, err = run("-R", "1000", "--rate", "400", "--nodes", str(need), "--constants", constants)
    assert "run " not in err
    assert model.predict(k, 1000, 400.0, need).rho <= model.SAFE_UTILISATION


def test_a_huge_room_is_told_to_split(constants: str) -> None:
    # 20,000 members: the floor alone (4 ms + 20,000 · 15 µs = 304 ms) is over the p99 target.
    code, _out, err = run("-R", "20000", "--rate", "1", "--constants", constants)
    assert code == 3
    assert "split the room" in err


def test_the_shipped_constants_load(tmp_path: Path) -> None:
    code, out, _err = run("-R", "3", "--rate", "50")
    assert "rooms of 3, 50 messages/s, 1 node(s)" in out
    assert code in (0, 3)


def test_bad_arguments_are_usage_errors() -> None:
    assert run("-R", "0", "--rate", "10")[0] == 2
    assert run("-R", "10", "--rate", "0")[0] == 2
    assert run("-R", "10")[0] == 2


def test_a_p99_over_the_target_names_the_nodes_that_fix_it_or_says_none_do(constants: str) -> None:
    k = model.Constants.from_dict(MEASURED)
    light = model.predict(k, 100, 300.0)
    assert light.rho < model.SAFE_UTILISATION
    target_ms = light.p99_s * 1e3 * 0.9  # just under what one node gives
    code, _out, err = run("-R", "100", "--rate", "300", "--p99-target", f"{target_ms:.3f}", "--constants", constants)
    assert code == 3
    n = next(n for n in range(2, 65) if model.predict(k, 100, 300.0, n).p99_s * 1e3 <= target_ms)
    assert f"{n} nodes bring it to" in err
    # Under the floor no number of nodes helps.
    code, _out, err = run("-R", "100", "--rate", "300", "--p99-target", "4.5", "--constants", constants)
    assert "split the room" in err or "more nodes do not bring it under" in err
