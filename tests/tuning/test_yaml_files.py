"""Every YAML smtune reads goes through one bounded loader: an alias bomb is refused at once."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from smtune.tuning.spec import SpecError, load
from smtune.tuning.study.model import StudyError, read
from smtune.tuning.yaml_files import MAX_NODES, YamlError, parse


def bomb(levels: int = 8, width: int = 9) -> str:
    """`levels` lists of `width` aliases to the one before: width**levels values, 2 kB."""
    lines = [f"a0: &a0 [{', '.join(['lol'] * width)}]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * width)}]" for i in range(1, levels + 1)]
    return "\n".join(lines) + "\n"


def test_smtune_tune_plan_refuses_an_alias_bomb_naming_the_bound(tmp_path: Path) -> None:
    spec = tmp_path / "bomb.yaml"
    spec.write_text(bomb())
    result = subprocess.run(
        [sys.executable, "-m", "smtune.tuning.cli", "tune", "plan", str(spec)],
        capture_output=True,
        text=True,
        timeout=20,  # it ran past 30 s before the bound
    )
    assert result.returncode == 2, result.stderr
    assert f"expands to more than {MAX_NODES:,} values through its aliases" in result.stderr
    assert str(spec) in result.stderr
    assert "Traceback" not in result.stderr


def test_a_study_file_is_read_by_the_same_loader(tmp_path: Path) -> None:
    study = tmp_path / "study.yaml"
    study.write_text(bomb())
    with pytest.raises(StudyError) as error:
        read(study)
    assert any("expands to more than" in p for p in error.value.problems), error.value.problems
    study.write_text("name: a\nname: b\n")  # the last no longer wins silently
    with pytest.raises(StudyError) as error:
        read(study)
    assert any("key 'name' at line 2 repeats the one at line 1" in p for p in error.value.problems)


def test_a_spec_that_aliases_into_itself_is_refused(tmp_path: Path) -> None:
    spec = tmp_path / "loop.yaml"
    spec.write_text("a: &a [1, *a]\n")
    with pytest.raises(SpecError) as error:
        load(spec)
    assert any("refers to a value containing it" in p for p in error.value.problems)


def test_aliases_within_the_bound_still_expand() -> None:
    data = parse(bomb(levels=3, width=9))  # 9**3 values: an ordinary use of anchors, larger
    assert len(data["a3"]) == 9 and data["a3"][0][0][0] == ["lol"] * 9


def test_a_file_past_the_byte_bound_is_refused_before_it_is_parsed() -> None:
    with pytest.raises(YamlError, match="smtune reads YAML of at most 1,000,000 bytes"):
        parse("x: " + "a" * 1_000_001)


def test_nesting_past_pythons_recursion_is_an_error_not_a_traceback() -> None:
    with pytest.raises(YamlError, match="nests too deep"):
        parse("[" * 5000 + "]" * 5000)
