"""The shape of the code base: small modules, arrows that point one way, a test file per module."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MAX_LINES = 420  # "about 400": a module past this is doing two jobs
MODULES = sorted(p for folder in ("mmchat", "gui") for p in (ROOT / folder).rglob("*.py") if p.name != "__init__.py")
PURE = ("mmchat/protocol", "mmchat/room.py", "mmchat/actions.py", "mmchat/typed.py", "mmchat/address.py")
FRONT_ENDS = {"mmchat.cli", "mmchat.terminal", "mmchat.headless"}


def imports(path: Path) -> set[str]:
    """Every module `path` imports, as absolute dotted names."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - node.level + 1]
                base = ".".join([*parts, base]) if base else ".".join(parts)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


@pytest.mark.parametrize("path", MODULES, ids=rel)
def test_every_module_is_small_enough_to_read_in_one_sitting(path):
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{rel(path)} has {lines} lines: split it by job"


@pytest.mark.parametrize("path", [p for p in MODULES if rel(p).startswith("mmchat/")], ids=rel)
def test_mmchat_never_imports_tk_or_gui(path):
    bad = {name for name in imports(path) if name.split(".")[0] in ("gui", "tkinter")}
    assert not bad, f"{rel(path)} imports {sorted(bad)}"


@pytest.mark.parametrize("path", [p for p in MODULES if rel(p).startswith("gui/")], ids=rel)
def test_the_windows_never_import_the_terminal_front_end(path):
    bad = imports(path) & FRONT_ENDS
    assert not bad, f"{rel(path)} imports {sorted(bad)}"


@pytest.mark.parametrize("path", [p for p in MODULES if rel(p).startswith(PURE)], ids=rel)
def test_the_sans_io_cores_start_no_sockets_threads_or_clocks(path):
    bad = {name for name in imports(path) if name.split(".")[0] in ("socket", "selectors", "threading", "tkinter")}
    assert not bad, f"{rel(path)} imports {sorted(bad)}"


@pytest.mark.parametrize("path", MODULES, ids=rel)
def test_every_module_has_its_test_file(path):
    parts = path.relative_to(ROOT).with_suffix("").parts
    if parts[0] == "gui":
        name = parts[-1]
        names = [f"test_gui_{name}.py", f"test_gui_{name.removesuffix('_window')}.py", f"test_{name}.py"]
    else:
        names = [f"test_{'_'.join(parts[1:])}.py", f"test_{parts[-1]}.py"]
    assert any((ROOT / "tests" / name).exists() for name in names), f"no tests/{names[0]} for {rel(path)}"
