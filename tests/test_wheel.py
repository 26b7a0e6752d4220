"""The built wheel adds one import name, `smtune`, and shadows nobody: installed in a fresh
venv beside PyPI's `entrypoints` 0.4, both import, each its own."""

from __future__ import annotations

import subprocess
import sys
import venv
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

PROBE = """
import entrypoints, smtune.entrypoints.contract.metrics, smtune.tuning, smtune.containers
assert callable(entrypoints.get_group_all), entrypoints.__file__
assert "site-packages" in smtune.entrypoints.contract.metrics.__file__
print("ok")
"""


def run(*command: str | Path, cwd: Path = REPO) -> str:
    result = subprocess.run(
        [str(c) for c in command], cwd=cwd, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_the_wheel_installs_beside_pypis_entrypoints_and_both_import(tmp_path: Path) -> None:
    run(sys.executable, "-m", "pip", "wheel", "--no-deps",
        "--quiet", "--wheel-dir", tmp_path / "dist", REPO)  # fmt: skip
    (wheel,) = (tmp_path / "dist").glob("smtune-*.whl")
    listed = run(sys.executable, "-m", "zipfile", "--list", wheel)
    tops = {line.split("/")[0] for line in listed.splitlines()[1:] if line.strip()}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"smtune"}
    assert "smtune/tuning/planning/planner.py" in listed  # the rooms, through their links

    venv.create(tmp_path / "venv", with_pip=True)
    python = tmp_path / "venv" / "bin" / "python"
    # smtune's own dependencies are not what this checks: the import names are.
    run(python, "-m", "pip", "install", "--quiet", "--no-deps", "entrypoints==0.4", wheel)
    assert run(python, "-c", PROBE, cwd=tmp_path).strip() == "ok"
