"""The code's layout: data flows one way, and the README's module map names every module."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _module_imports(package: Path) -> dict[str, set[str]]:
    """Each module's imports of its siblings, wherever they stand.

    Type-only imports and imports inside functions count too: a function-level
    import that closes a cycle still means two modules that cannot be read, or
    moved, apart.
    """
    import ast

    graph: dict[str, set[str]] = {}
    for path in package.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        graph[path.stem] = {
            node.module.split(".")[0]
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module
        }
    return graph


@pytest.mark.parametrize("package", ["authorizer", "authorizer_tools"])
def test_no_module_imports_one_that_imports_it_back(package: str) -> None:
    """Data flows one way, type-only and function-level imports included."""
    graph = _module_imports(ROOT / package)

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        return any(
            dep == goal or (dep not in seen and reaches(dep, goal, seen | {dep}))
            for dep in graph.get(start, ())
        )

    assert [name for name in graph if reaches(name, name, {name})] == []


def test_the_readme_module_map_lists_every_module() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    runtime = {path.name for path in (ROOT / "authorizer").glob("*.py")} - {"__init__.py"}
    tools = {path.name for path in (ROOT / "authorizer_tools").glob("*.py")}
    tools -= {"__init__.py", "__main__.py"}
    assert (
        sorted(
            name for name in runtime if f"| `{name}`" not in readme and f"/ `{name}`" not in readme
        )
        == []
    )
    assert sorted(name for name in tools if f"`{name}`" not in readme) == []
