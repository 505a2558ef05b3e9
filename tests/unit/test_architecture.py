"""The layering rule, checked on the source: an inner layer never imports an outer one.

    core (pure, no I/O)  <-  store, bus, blobs, export  <-  services  <-  realtime  <-  web  <-  app / cli / config

Every module under src/parley is parsed with `ast`; every import counts, wherever it is written
(module level, inside functions, under `if TYPE_CHECKING:`, relative, or `importlib.import_module`
with a literal name).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
PACKAGE = SRC / "parley"

# The first component under `parley.` decides the layer.
LAYER_OF = {
    "core": "core",
    "store": "store",
    "bus": "bus",
    "blobs": "blobs",
    "export": "export",
    "services": "services",
    "realtime": "realtime",
    "web": "web",
    "app": "app",
    "cli": "cli",
    "__main__": "cli",
    "config": "config",
    "bot": "bot",  # the bot client (issue 12): speaks the public API, like any outside program
}
ROOT = "root"  # `parley/__init__.py` itself, or `from parley import <not a layer>`

# Which other layers each layer may import. A layer may always import itself.
ALLOWED: dict[str, frozenset[str]] = {
    ROOT: frozenset(),
    "core": frozenset(),
    "config": frozenset(),
    "bot": frozenset({"core"}),
    "store": frozenset({"core"}),
    "bus": frozenset({"core"}),
    "blobs": frozenset({"core"}),
    "export": frozenset({"core"}),
    "services": frozenset({"core", "store", "bus", "blobs", "export"}),
    "realtime": frozenset({"core", "bus", "services", "store"}),
    "web": frozenset({"core", "services", "realtime", "config"}),
    "app": frozenset({"core", "store", "bus", "blobs", "export", "services", "realtime", "web", "config"}),
    "cli": frozenset({"core", "store", "bus", "blobs", "export", "services", "realtime", "web", "config", "app"}),
}

# Narrow exceptions, by module prefix. web holds the Database handle in its Context (web/context.py)
# and pings it for /readyz (web/api.py); nothing else of the store is web's business.
EXTRA_ALLOWED: dict[str, tuple[str, ...]] = {
    "web": ("parley.store.db",),
}

# The core is pure: no network, no database, no event loop.
CORE_FORBIDDEN_LIBS = frozenset({
    "aiohttp", "sqlalchemy", "asyncpg", "aiosqlite", "redis", "alembic", "asyncio", "socket", "uvloop",
})

_IMPORT_FUNCS = {"import_module", "__import__"}


def layer_of(module: str) -> str | None:
    """The layer of a `parley.*` module name, ROOT for the package itself, None if not parley's."""
    parts = module.split(".")
    if parts[0] != "parley":
        return None
    if len(parts) == 1:
        return ROOT
    return LAYER_OF.get(parts[1], ROOT)


def imports_of(module: str, source: str, *, is_package: bool = False) -> list[tuple[int, str]]:
    """Every (line, dotted name) the source imports. `from a import b` yields `a.b` (b may be a module)."""
    package = module if is_package else module.rpartition(".")[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".")
                if node.level > 1:
                    base_parts = base_parts[: -(node.level - 1)]
                base = ".".join(p for p in [*base_parts, node.module or ""] if p)
            else:
                base = node.module or ""
            found.extend((node.lineno, f"{base}.{alias.name}" if alias.name != "*" else base)
                         for alias in node.names)
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            if (name in _IMPORT_FUNCS and node.args and isinstance(node.args[0], ast.Constant)
                    and isinstance(node.args[0].value, str)):
                found.append((node.lineno, node.args[0].value))
    return found


def violations(module: str, source: str, *, is_package: bool = False, where: str = "") -> list[str]:
    """One line per forbidden import: `module (where:line) -> imported: reason`."""
    src_layer = layer_of(module)
    if src_layer is None or (src_layer == ROOT and module != "parley"):
        return [f"{module} ({where}) is in no layer: add it to LAYER_OF in {Path(__file__).name}"]
    out = []
    for line, target in imports_of(module, source, is_package=is_package):
        loc = f"{module} ({where or module}:{line}) -> {target}"
        top = target.split(".")[0]
        if src_layer == "core" and top in CORE_FORBIDDEN_LIBS:
            out.append(f"{loc}: core must stay pure and may not import the I/O library {top}")
            continue
        dst_layer = layer_of(target)
        if dst_layer is None or dst_layer in (src_layer, ROOT):
            continue
        if dst_layer in ALLOWED[src_layer]:
            continue
        if any(target == p or target.startswith(p + ".") for p in EXTRA_ALLOWED.get(src_layer, ())):
            continue
        allowed = ", ".join(sorted(ALLOWED[src_layer])) or "no other layer"
        out.append(f"{loc}: {src_layer} may not import {dst_layer} (it may import {allowed})")
    return out


def source_modules() -> list[tuple[str, Path, bool]]:
    mods = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(SRC).with_suffix("")
        is_package = rel.name == "__init__"
        parts = rel.parts[:-1] if is_package else rel.parts
        mods.append((".".join(parts), path, is_package))
    return mods


def check_tree() -> list[str]:
    problems: list[str] = []
    for module, path, is_package in source_modules():
        problems += violations(module, path.read_text(encoding="utf-8"), is_package=is_package,
                               where=str(path.relative_to(SRC.parent)))
    return problems


def assert_layering(problems: list[str]) -> None:
    assert not problems, "layering violations (offending module -> import):\n  " + "\n  ".join(problems)


def test_source_tree_respects_the_layers() -> None:
    modules = {m for m, _, _ in source_modules()}
    # Not vacuous: the scan really sees the tree, in every layer.
    assert {"parley.core.protocol", "parley.store.db", "parley.bus.memory", "parley.services.rooms",
            "parley.realtime.hub", "parley.web.ws", "parley.app", "parley.cli", "parley.config"} <= modules
    assert_layering(check_tree())


def test_web_uses_exactly_the_allowed_part_of_the_store() -> None:
    """web -> store is tolerated only for parley.store.db; this records that it is really used
    (so the exception can be dropped the day it is not)."""
    uses = set()
    for module, path, is_package in source_modules():
        if layer_of(module) != "web":
            continue
        for _, target in imports_of(module, path.read_text(encoding="utf-8"), is_package=is_package):
            if layer_of(target) == "store":
                uses.add((module, target))
    assert uses == {("parley.web.context", "parley.store.db.Database")}


# --- the checker itself must catch violations, or the test above proves nothing ---------------

BAD = [
    ("parley.core.fake", "import parley.web.app\n", "parley.web.app"),
    ("parley.core.fake", "def f():\n    from parley.store import db\n", "parley.store.db"),
    ("parley.core.fake",
     "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from parley.services.rooms import Rooms\n",
     "parley.services.rooms.Rooms"),
    ("parley.core.fake", "from sqlalchemy.ext.asyncio import AsyncConnection\n", "sqlalchemy.ext.asyncio.AsyncConnection"),
    ("parley.core.fake", "import aiohttp\n", "aiohttp"),
    ("parley.core.fake", "from parley.config import Settings\n", "parley.config.Settings"),
    ("parley.store.fake", "from ..services import rooms\n", "parley.services.rooms"),
    ("parley.store.fake", "from parley.bus.base import Bus\n", "parley.bus.base.Bus"),
    ("parley.bus.fake", "from parley.store.db import Database\n", "parley.store.db.Database"),
    ("parley.blobs.fake", "from parley.store.db import Database\n", "parley.store.db.Database"),
    ("parley.export.fake", "from parley.store.db import Database\n", "parley.store.db.Database"),
    ("parley.web.fake", "from parley.export.amqp import AmqpExporter\n", "parley.export.amqp.AmqpExporter"),
    ("parley.web.fake", "from parley.blobs.local import LocalBlobs\n", "parley.blobs.local.LocalBlobs"),
    ("parley.services.fake", "from parley import realtime\n", "parley.realtime"),
    ("parley.services.fake", "from parley.web.http import json\n", "parley.web.http.json"),
    ("parley.realtime.fake", "import importlib\nimportlib.import_module('parley.web.ws')\n", "parley.web.ws"),
    ("parley.realtime.fake", "from parley.app import build\n", "parley.app.build"),
    ("parley.web.fake", "from parley.store import rooms\n", "parley.store.rooms"),
    ("parley.web.fake", "from parley.bus.memory import MemoryBus\n", "parley.bus.memory.MemoryBus"),
    ("parley.web.fake", "from parley.cli import main\n", "parley.cli.main"),
    ("parley.config", "from parley.core.models import Role\n", "parley.core.models.Role"),
    ("parley.app", "from parley.cli import main\n", "parley.cli.main"),
]


@pytest.mark.parametrize(("module", "source", "target"), BAD)
def test_checker_catches_a_violation(module: str, source: str, target: str) -> None:
    problems = violations(module, source, where="synthetic.py")
    assert len(problems) == 1, problems
    assert f"{module} (synthetic.py:" in problems[0]
    assert f"-> {target}:" in problems[0]
    with pytest.raises(AssertionError, match=f"{module}.*-> {target}"):
        assert_layering(problems)


GOOD = [
    ("parley.core.fake", "import re\nfrom parley.core.errors import Invalid\nfrom . import models\n"),
    ("parley.store.fake", "import sqlalchemy as sa\nfrom parley.core.models import Room\n"),
    ("parley.services.fake", "from parley.store import rooms\nfrom parley.bus.base import Bus\n"),
    ("parley.realtime.fake", "from parley.services.messages import Messages\nfrom parley.bus import base\n"),
    ("parley.web.fake", "from parley.store.db import Database\nfrom parley.realtime import hub\n"
                        "from parley.config import Settings\n"),
    ("parley.cli", "def f():\n    from parley.app import build\n    from parley.store import users\n"),
]


@pytest.mark.parametrize(("module", "source"), GOOD)
def test_checker_accepts_allowed_imports(module: str, source: str) -> None:
    assert violations(module, source) == []


def test_checker_flags_modules_outside_every_layer() -> None:
    problems = violations("parley.newthing", "import os\n", where="src/parley/newthing.py")
    assert problems and "in no layer" in problems[0]


def test_relative_imports_resolve_against_the_package() -> None:
    assert imports_of("parley.store.migrations", "from .. import db\n", is_package=True) == [(1, "parley.store.db")]
    assert imports_of("parley.store.rooms", "from .tables import users\n") == [(1, "parley.store.tables.users")]
