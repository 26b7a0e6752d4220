"""The dependency rules of ARCHITECTURE.md, checked on the import statements themselves."""

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


def test_hyperband_is_pure() -> None:
    folder = REPO / "tuning" / "hyperband"
    if not folder.is_dir():
        pytest.skip("tuning/hyperband does not exist yet")
    for path in folder.rglob("*.py"):
        outside = {m for m in imports(path) if not m.startswith("tuning.hyperband")}
        assert not {m.split(".")[0] for m in outside} & PURE, path


def test_strategies_are_pure_and_lean_only_on_hyperbands_values() -> None:
    """Search strategies and AMT's rules: no I/O, no clock; of the rest of `tuning`, only
    Hyperband's public values (Decision, Suggestion, Verdict, the result check) and its range
    types; of `containers`, only the status enums (SageMaker's spellings, no I/O)."""
    allowed = {
        "tuning.hyperband",
        "tuning.hyperband.space",
        "tuning.hyperband.scheduler",
        "containers.status",
    }
    paths = sorted((REPO / "tuning" / "strategies").rglob("*.py"))
    assert paths
    offenders = {
        str(path.relative_to(REPO)): sorted(
            m
            for m in imports(path)
            if m.split(".")[0] in PURE
            and m not in allowed
            and not m.startswith("tuning.strategies")
        )
        for path in paths
    }
    assert {k: v for k, v in offenders.items() if v} == {}


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
