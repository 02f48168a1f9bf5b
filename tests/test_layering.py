"""The layout is the architecture: a room imports only the rooms below it (docs/architecture.md)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# room -> the rooms it may import (besides itself). dusttwin.cli/processes sit on top of all.
ALLOWED: dict[str, set[str]] = {
    "device_catalog": set(),
    "twins": {"device_catalog"},
    "connectors": {"device_catalog", "twins"},
    "risk": {"device_catalog", "twins"},
    "api": {"device_catalog", "twins", "connectors", "risk"},
    "dash_app": {"device_catalog", "twins", "connectors", "risk"},
}
ROOMS = set(ALLOWED) | {"dusttwin"}
TOP = {"dusttwin/cli.py", "dusttwin/processes.py", "dusttwin/demo.py"}


def _imported_rooms(path: Path) -> set[str]:
    rooms: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = (
            [a.name for a in node.names]
            if isinstance(node, ast.Import)
            else [node.module or ""]
            if isinstance(node, ast.ImportFrom) and node.level == 0
            else []
        )
        rooms |= {n.split(".")[0] for n in names} & ROOMS
    return rooms


def test_rooms_import_only_rooms_below_them() -> None:
    wrong: list[str] = []
    for room, allowed in ALLOWED.items():
        for path in (ROOT / room).rglob("*.py"):
            # every room may use the shell's bottom (settings, db, errors, worker context)
            extra = _imported_rooms(path) - allowed - {room, "dusttwin"}
            wrong += [f"{path.relative_to(ROOT)} imports {r}" for r in sorted(extra)]
    for path in (ROOT / "dusttwin").rglob("*.py"):
        if str(path.relative_to(ROOT)) not in TOP:
            extra = _imported_rooms(path) - {"dusttwin"}
            wrong += [f"{path.relative_to(ROOT)} (shell bottom) imports {r}" for r in sorted(extra)]
    assert wrong == []


def test_rooms_do_not_import_the_shell_top() -> None:
    wrong = []
    for room in ALLOWED:
        for path in (ROOT / room).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            if "dusttwin.cli" in text or "dusttwin.processes" in text or "dusttwin.demo" in text:
                wrong.append(str(path.relative_to(ROOT)))
    assert wrong == []
