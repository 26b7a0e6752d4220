"""The dependency rules of docs/ARCHITECTURE.md, checked on the import statements themselves."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
HEAVY = {"torch", "xgboost", "boto3", "botocore", "docker", "sagemaker", "matplotlib", "pandas"}


ROOMS = ("entrypoints", "containers", "tuning")  # smtune.<room>: the one import name


def imports(path: Path, top_level_only: bool = False) -> set[str]:
    """Modules a file imports, the project's own named by room (`tuning.plan` for
    `tuning.plan`); with top_level_only, only those run at import time."""
    return {m.removeprefix("smtune.") for m in imported(path, top_level_only)}


def imported(path: Path, top_level_only: bool = False) -> set[str]:
    """Modules a file imports, as written."""
    tree = ast.parse(path.read_text())
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def modules(package: str) -> list[Path]:
    return sorted((REPO / package).rglob("*.py"))


def test_every_package_is_checked() -> None:
    assert modules("entrypoints") and modules("containers") and modules("tuning")


def test_the_project_imports_itself_only_as_smtune() -> None:
    # A bare `entrypoints`, `containers` or `tuning` is another module on a user's machine
    # (PyPI's `entrypoints`, their own project's folder), or the same file loaded twice.
    paths = [*modules("entrypoints"), *modules("containers"), *modules("tuning")]
    paths += [*modules("tests"), *modules("bench"), *modules("examples")]
    offenders = {
        str(path.relative_to(REPO)): sorted(m for m in imported(path) if m.split(".")[0] in ROOMS)
        for path in paths
    }
    assert {k: v for k, v in offenders.items() if v} == {}


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("entrypoints", ("containers", "tuning")),
        ("containers", ("tuning",)),
    ],
)
def test_rooms_import_only_what_they_may(package: str, forbidden: tuple[str, ...]) -> None:
    offenders = {
        str(path.relative_to(REPO)): sorted(
            m for m in imports(path) if m.split(".")[0] in forbidden
        )
        for path in modules(package)
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_containers_use_only_the_contract_of_entrypoints() -> None:
    allowed = ("entrypoints.contract",)
    offenders = {
        str(path.relative_to(REPO)): sorted(
            m
            for m in imports(path, top_level_only=True)
            if m.startswith("entrypoints") and not m.startswith(allowed)
        )
        for path in modules("containers")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


PURE = {"entrypoints", "containers", "tuning", "subprocess", "socket", "os", "pathlib", "time"}


# Pure rooms: AMT's rules and the schedulers. They import only pure rooms (and the status
# enums, SageMaker's spellings); no I/O, no clock.
PURE_ROOMS = ("tuning.amt", "tuning.schedulers")
PURE_ELSEWHERE = ("containers.status",)


def in_room(module: str, rooms: tuple[str, ...]) -> bool:
    return any(module == room or module.startswith(room + ".") for room in rooms)


def project_modules() -> dict[str, Path]:
    """Every module of the project by dotted name, room-relative (`tuning.amt.ranges`)."""
    found = {}
    for path in modules("entrypoints") + modules("containers") + modules("tuning"):
        name = ".".join(path.relative_to(REPO).with_suffix("").parts)
        found[name.removesuffix(".__init__")] = path
    return found


def project_imports(path: Path, names: dict[str, Path]) -> set[str]:
    """The project's modules a file imports, anywhere in it (a function-level import
    counts): `from a.b import c` is `a.b.c` where that is a module, else `a.b`."""
    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            base = node.module.removeprefix("smtune.")
            found |= {
                f"{base}.{a.name}" if f"{base}.{a.name}" in names else base for a in node.names
            }
        elif isinstance(node, ast.Import):
            found |= {a.name.removeprefix("smtune.") for a in node.names}
    return {m for m in found if m in names}


def test_pure_rooms_import_only_pure_rooms_and_do_no_io() -> None:
    names = project_modules()
    pure = {m: p for m, p in names.items() if in_room(m, PURE_ROOMS)}
    assert {"tuning.amt.ranges", "tuning.schedulers.hyperband"} <= set(pure)
    offenders = {
        str(path.relative_to(REPO)): sorted(
            m
            for m in imports(path)
            if (m.split(".")[0] in PURE and not in_room(m, PURE_ROOMS + PURE_ELSEWHERE))
        )
        for path in pure.values()
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_the_request_and_the_sdk_read_the_plan_never_the_spec() -> None:
    names = project_modules()
    offenders = {
        module: sorted(m for m in project_imports(names[module], names) if m == "tuning.spec")
        for module in ("tuning.request", "tuning.sdk")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_the_rehearsal_never_reaches_planning_the_request_the_sdk_or_boto3() -> None:
    names = project_modules()
    forbidden = ("tuning.planning", "tuning.request", "tuning.sdk", "tuning.sagemaker")
    rehearsal = {m: p for m, p in names.items() if in_room(m, ("tuning.rehearsal",))}
    assert "tuning.rehearsal.runner" in rehearsal
    offenders = {
        module: sorted(m for m in project_imports(path, names) if in_room(m, forbidden))
        for module, path in rehearsal.items()
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while (w := stack.pop()) != v:
                component.append(w)
            if component:
                found.append(sorted([v, *component]))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_circle_even_through_a_function_level_import() -> None:
    names = project_modules()
    graph = {m: project_imports(p, names) - {m} for m, p in names.items()}
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert circles(graph) == []


def concern(stem: str) -> str:
    """A module's name as a concern: `retries` and `retry` are one."""
    if stem.endswith("ies"):
        return stem[:-3] + "y"
    return stem.removesuffix("s")


# A self-contained subpackage keeps its own command and report.
SELF_CONTAINED = ("tuning/study/",)
OWN_OF_A_SUBPACKAGE = ("cli", "report")


def test_one_concern_one_module_name_in_tuning() -> None:
    by_concern: dict[str, list[str]] = {}
    for path in modules("tuning"):
        where = str(path.relative_to(REPO))
        if path.stem == "__init__" or (
            where.startswith(SELF_CONTAINED) and path.stem in OWN_OF_A_SUBPACKAGE
        ):
            continue
        by_concern.setdefault(concern(path.stem), []).append(where)
    assert concern("retries") == concern("retry")
    assert {k: v for k, v in by_concern.items() if len(v) > 1} == {}


MAX_LINES = 500


def test_no_module_is_over_500_lines() -> None:
    lengths = {
        str(path.relative_to(REPO)): len(path.read_text().splitlines())
        for path in modules("entrypoints") + modules("containers") + modules("tuning")
    }
    assert {k: n for k, n in lengths.items() if n > MAX_LINES} == {}


# An image's own program is built on its framework and imports it like any program would;
# nothing outside that package may import the framework when it is loaded.
FRAMEWORK_OF_IMAGE = {"entrypoints/dnn": "torch", "entrypoints/xgboost": "xgboost"}


def test_heavy_libraries_are_imported_where_they_are_used() -> None:
    """Heavy libraries are imported inside the functions that use them, but for an image's
    own framework inside that image's package."""

    def allowed(path: Path, module: str) -> bool:
        package = str(path.parent.relative_to(REPO))
        return FRAMEWORK_OF_IMAGE.get(package) == module.split(".")[0]

    offenders = {
        str(path.relative_to(REPO)): sorted(
            m
            for m in imports(path, top_level_only=True)
            if m.split(".")[0] in HEAVY and not allowed(path, m)
        )
        for path in modules("entrypoints") + modules("containers") + modules("tuning")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_cli_help_and_the_contract_stay_light() -> None:
    probe = (
        "import sys, smtune.tuning.cli, smtune.entrypoints.contract;"
        "import smtune.entrypoints.contract.rendezvous;"
        # The helper library a user's script imports, whether it trains with torch or not.
        "import smtune.entrypoints.toolkit;"
        # What `smtune tune plan` reads of every image: its hyperparameters and metrics.
        "from smtune.containers.catalogue import IMAGES;"
        "[(i.hyperparameters, i.metric_specs) for i in IMAGES.values()];"
        f"print(sorted(m for m in {sorted(HEAVY)!r} if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"


def longest_chain(graph: dict[str, set[str]]) -> list[str]:
    """The longest chain of imports, a -> b -> ... (the graph has no circle)."""
    memo: dict[str, list[str]] = {}

    def longest_from(v: str) -> list[str]:
        if v not in memo:
            memo[v] = [v, *max((longest_from(w) for w in graph[v]), key=len, default=[])]
        return memo[v]

    return max((longest_from(v) for v in sorted(graph)), key=len)


if __name__ == "__main__":  # the house in figures: python tests/test_architecture.py
    names = project_modules()
    graph = {m: project_imports(p, names) - {m} for m, p in names.items()}
    packages: dict[str, int] = {}
    for module, path in names.items():
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        packages[package] = packages.get(package, 0) + 1
    print("modules per package:", dict(sorted(packages.items())))
    print("imports between modules:", sum(len(v) for v in graph.values()))
    print("circles:", circles(graph))
    if not circles(graph):
        chain = longest_chain(graph)
        print(f"longest chain: {len(chain)} modules:", " -> ".join(chain))
    sizes = sorted(((len(p.read_text().splitlines()), m) for m, p in names.items()), reverse=True)
    print("longest modules:", sizes[:3])
