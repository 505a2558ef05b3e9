"""The README documents every setting, with its default."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from parley.config import Settings, env_name

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_table_lists_every_setting_with_its_default() -> None:
    rows = {line.split("|")[1].strip().strip("`"): line for line in README.read_text().splitlines()
            if line.startswith("| `PARLEY_")}
    for field in dataclasses.fields(Settings):
        name = env_name(field.name)
        assert name in rows, f"{name} is missing from the README's settings table"
        assert f"`{field.default}`" in rows[name], f"{name}: the README shows another default"
    assert set(rows) == {env_name(f.name) for f in dataclasses.fields(Settings)}
