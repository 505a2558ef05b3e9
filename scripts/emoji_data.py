"""Builds src/parley/static/emoji/emoji.json from the `emojibase-data` npm package (MIT).

    npm pack emojibase-data@17.0.0 && tar xzf emojibase-data-17.0.0.tgz
    python scripts/emoji_data.py package

Keeps what the picker needs: the emoji, its category, English and Simplified Chinese names and
keywords, and shortcodes (GitHub's, then Emojibase's). Skin-tone variants, components and emoji
newer than Unicode 15.0 (which common system fonts cannot draw yet) are left out.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

MAX_VERSION = 15.0
OUT = Path(__file__).resolve().parents[1] / "src" / "parley" / "static" / "emoji"


def load(package: Path, name: str) -> object:
    return json.loads((package / name).read_text(encoding="utf-8"))


def main(package: Path) -> None:
    en = load(package, "en/data.json")
    zh = {e["hexcode"]: e for e in load(package, "zh/data.json")}
    github = load(package, "en/shortcodes/github.json")
    emojibase = load(package, "en/shortcodes/emojibase.json")
    rows = []
    for entry in sorted(en, key=lambda e: e.get("order", 1 << 30)):
        group = entry.get("group")
        if group is None or group == 2 or entry.get("version", 0) > MAX_VERSION:
            continue
        codes: list[str] = []
        for source in (github, emojibase):
            value = source.get(entry["hexcode"], [])
            for code in [value] if isinstance(value, str) else value:
                if code not in codes:
                    codes.append(code)
        other = zh.get(entry["hexcode"], {})
        rows.append([
            entry["emoji"],
            group,
            entry["label"],
            " ".join(entry.get("tags", [])),
            other.get("label", ""),
            " ".join(other.get("tags", [])),
            " ".join(codes),
        ])
    OUT.mkdir(parents=True, exist_ok=True)
    version = json.loads((package / "package.json").read_text())["version"]
    data = {"source": f"emojibase-data {version} (MIT)",
            "fields": ["emoji", "group", "en", "en_tags", "zh", "zh_tags", "shortcodes"], "emoji": rows}
    (OUT / "emoji.json").write_text(json.dumps(data, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
    (OUT / "LICENSE-emojibase.txt").write_text((package / "LICENSE").read_text(encoding="utf-8"), encoding="utf-8")
    print(f"{len(rows)} emoji -> {OUT / 'emoji.json'}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
