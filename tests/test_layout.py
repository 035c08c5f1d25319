"""The code's layout: folders are the stages, data flows one way, the map names every module.

The rules are data (``STAGES``, ``STAGE_MAY_IMPORT``): a newcomer reads the
pipeline off the folder list, and a change that breaks a rule fails here with
the import that breaks it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests import ROOT

#: The request's stages, each a folder of ``authorizer/``, in the order they may import
#: each other: a stage uses only those before it (tokens are verified with keys, a
#: binding checks the request and the verified token, access rules stand alone).
STAGES = ("gateway", "keys", "tokens", "binding", "access")
#: What a request stage may import from the package's top (the shared leaves).
STAGE_MAY_IMPORT = frozenset(
    {"authorizer", "authorizer.errors", "authorizer.strictjson", "authorizer.claims"}
)
#: The tools' wings: they drive the runtime from outside and never import it.
WINGS = ("authorizer_tools.local", "authorizer_tools.devissuer")
MAX_TOP_MODULES = 12
MAX_SUBPACKAGE_MODULES = 9


def _name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(package: str) -> dict[str, set[str]]:
    """Each module of ``package`` and the modules it imports, wherever the import stands.

    Type-only imports and imports inside functions count too: a function-level
    import that closes a cycle still means two modules that cannot be read, or
    moved, apart. ``from . import x`` counts as an import of ``x`` where ``x`` is a module.
    """
    graph: dict[str, set[str]] = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        name = _name(path)
        here = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = here[: len(here) - node.level + 1]
                    base = ".".join([*anchor, *([base] if base else [])])
                found.add(base)
                found.update(f"{base}.{alias.name}" for alias in node.names)
            elif isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
        graph[name] = found
    modules = set(graph)
    return {
        name: {dep for dep in deps if dep in modules and dep != name}
        for name, deps in graph.items()
    }


@pytest.fixture(scope="module")
def runtime() -> dict[str, set[str]]:
    return _imports("authorizer")


@pytest.mark.parametrize("package", ["authorizer", "authorizer_tools", "benchmarks", "tests"])
def test_no_module_imports_one_that_imports_it_back(package: str) -> None:
    """Data flows one way, type-only and function-level imports included."""
    graph = {name: deps - {package} for name, deps in _imports(package).items()}
    # A package's __init__ is imported on the way to each of its modules: not a cycle.
    graph = {
        name: {dep for dep in deps if not name.startswith(dep + ".")}
        for name, deps in graph.items()
    }

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        return any(
            dep == goal or (dep not in seen and reaches(dep, goal, seen | {dep}))
            for dep in graph.get(start, ())
        )

    assert [name for name in graph if reaches(name, name, {name})] == []


def test_request_stages_import_earlier_stages_and_shared_leaves_only(
    runtime: dict[str, set[str]],
) -> None:
    """No stage reads configuration or the wiring: settings come in as plain values."""
    broken = []
    for name, deps in runtime.items():
        stage = name.split(".")[1] if name.count(".") >= 1 else ""
        if stage not in STAGES:
            continue
        for dep in deps:
            target = dep.split(".")[1] if dep.count(".") >= 1 else ""
            if target in STAGES or dep in STAGE_MAY_IMPORT:
                continue
            broken.append(f"{name} imports {dep}")
    assert broken == []


def test_the_pipeline_stages_run_in_folder_order(runtime: dict[str, set[str]]) -> None:
    """A stage imports only the stages before it in ``STAGES``."""
    order = {stage: index for index, stage in enumerate(STAGES)}
    backwards = []
    for name, deps in runtime.items():
        parts = name.split(".")
        if len(parts) < 3 or parts[1] not in order:
            continue
        for dep in deps:
            target = dep.split(".")
            if len(target) >= 2 and target[1] in order and order[target[1]] > order[parts[1]]:
                backwards.append(f"{name} imports {dep}")
    assert backwards == []


@pytest.mark.parametrize("wing", WINGS)
def test_the_tools_wings_never_import_the_runtime(wing: str) -> None:
    graph = _imports("authorizer_tools")
    members = [name for name in graph if name == wing or name.startswith(wing + ".")]
    assert members
    for path in (ROOT / wing.replace(".", "/")).rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported = [
            node.module
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module
        ] + [
            alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.Import)
            for alias in node.names
        ]
        assert [name for name in imported if name.split(".")[0] == "authorizer"] == [], path
        outside = [dep for dep in graph[_name(path)] if not dep.startswith(wing)]
        assert outside in ([], ["authorizer_tools"]), f"{path} imports {outside}"


@pytest.mark.parametrize("package", ["authorizer", "authorizer_tools"])
def test_every_subpackage_init_holds_only_its_docstring(package: str) -> None:
    """So that importing one stage loads nothing else (the cold start pays for what it uses)."""
    for init in (ROOT / package).rglob("*/__init__.py"):
        body = ast.parse(init.read_text(encoding="utf-8")).body
        assert len(body) == 1, init
        assert isinstance(body[0], ast.Expr), init
        assert isinstance(body[0].value, ast.Constant), init
        assert isinstance(body[0].value.value, str), init


def test_the_runtime_package_stays_small_at_every_level() -> None:
    top = [path for path in (ROOT / "authorizer").glob("*.py") if path.name != "__init__.py"]
    assert len(top) <= MAX_TOP_MODULES
    for folder in (ROOT / "authorizer").iterdir():
        if (folder / "__init__.py").is_file():
            assert len(list(folder.glob("*.py"))) - 1 <= MAX_SUBPACKAGE_MODULES, folder
    assert sorted(
        folder.name
        for folder in (ROOT / "authorizer").iterdir()
        if (folder / "__init__.py").is_file()
    ) == sorted((*STAGES, "config"))


@pytest.mark.parametrize("package", ["authorizer", "authorizer_tools"])
def test_the_layout_map_names_every_module_by_its_path(package: str) -> None:
    layout = (ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8")
    paths = sorted(
        str(path.relative_to(ROOT / package))
        for path in (ROOT / package).rglob("*.py")
        if path.name not in ("__init__.py", "__main__.py")
    )
    assert [path for path in paths if f"`{path}`" not in layout] == []


def test_test_modules_share_helpers_through_helper_modules_only() -> None:
    """A test module imported by another runs its tests twice and ties two folders together."""
    graph = _imports("tests")
    shared = [
        f"{name} imports {dep}"
        for name, deps in graph.items()
        for dep in deps
        if dep.rsplit(".", 1)[-1].startswith("test_")
    ]
    assert shared == []
