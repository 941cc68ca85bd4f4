"""The import graph: sibling services over ``query``, ``runtime`` and ``schemas``.

Read from the source with ``ast`` (lazy imports inside functions count too), so a service
that reaches into another fails here, whatever the import style.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.support.environment import REPOSITORY

PACKAGES = REPOSITORY / "services" / "mediawatch"
SERVICES = ("fetcher", "tagger", "alerter", "archiver")
#: What each package may import besides itself. ``cli`` and ``stack`` sit above the services
#: (the command line and the dev tooling that compose them), so they may import anything.
ALLOWED: dict[str, frozenset[str]] = {
    **{service: frozenset({"schemas", "runtime", "query"}) for service in SERVICES},
    "query": frozenset({"schemas"}),
    "runtime": frozenset({"schemas"}),
}


def imported_packages(path: Path) -> set[tuple[str, int]]:
    """(first package under ``mediawatch``, line) of every import in the file."""
    found: set[tuple[str, int]] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        for name in names:
            parts = name.split(".")
            if parts[0] == "mediawatch" and len(parts) > 1:
                found.add((parts[1], node.lineno))
    return found


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_a_package_imports_only_what_its_layer_allows(package: str) -> None:
    allowed = ALLOWED[package] | {package}
    files = sorted((PACKAGES / package).rglob("*.py"))
    assert files, f"no modules under {PACKAGES / package}"
    wrong = [
        f"{path.relative_to(REPOSITORY)}:{line} imports mediawatch.{target}"
        for path in files
        for target, line in sorted(imported_packages(path))
        if target not in allowed
    ]
    assert not wrong, "\n".join(wrong)


def test_the_checker_sees_a_lazy_import_inside_a_function(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from mediawatch.tagger.pipeline import Tagger\n")
    assert imported_packages(module) == {("tagger", 2)}


def test_test_helpers_live_in_tests_support() -> None:
    """A test module imports helpers from ``tests.support`` only, never from another test
    module, so that helpers have one place."""
    wrong = []
    for path in sorted((REPOSITORY / "tests").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                parts = node.module.split(".")
                if parts[0] == "tests" and parts[1:2] not in (["support"],):
                    wrong.append(f"{path.relative_to(REPOSITORY)}:{node.lineno} {node.module}")
    assert not wrong, "\n".join(wrong)
