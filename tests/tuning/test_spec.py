"""Loading a spec file: channel names, `${VAR}` only where a variable belongs, no duplicate keys."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from smtune.tuning.spec import SpecError, load, parse
from tests.tuning.conftest import SEED
from tests.tuning.test_request import seed_data


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    return path


def problems_of(path: Path) -> list[str]:
    with pytest.raises(SpecError) as error:
        load(path)
    return error.value.problems


def test_a_channel_name_that_leaves_the_job_tree_is_listed_with_every_other_problem() -> None:
    data = seed_data()
    data["channels"]["../../../x"] = data["channels"]["train"]
    data["channels"]["ok"] = data["channels"]["train"]
    data["instance"]["count"] = 0
    with pytest.raises(SpecError) as error:
        parse(data)
    problems = error.value.problems
    assert any(
        p.startswith("channels: channel name '../../../x' is not allowed: must be 1-64")
        for p in problems
    ), problems
    assert any(p.startswith("instance.count:") for p in problems), problems
    assert not any("'ok'" in p for p in problems), problems


@pytest.mark.parametrize(
    ("field", "text"),
    [
        ("tags.owner", "tags: {owner: '${SECRET}'}"),
        ("static_hyperparameters.objective", "static_hyperparameters: {objective: 'x${SECRET}'}"),
        ("name", "name: '${SECRET}'"),
    ],
)
def test_a_variable_outside_the_fields_that_take_one_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, field: str, text: str
) -> None:
    monkeypatch.setenv("SECRET", "wJalrXUtnFEMI")
    data = yaml.safe_load(SEED.read_text())
    data.update(yaml.safe_load(text))
    problems = problems_of(write(tmp_path, yaml.safe_dump(data)))
    assert any(p.startswith(f"{field}: ") and "${SECRET}" in p for p in problems), problems
    assert any("variables are expanded only in role, image" in p for p in problems), problems
    assert not any("wJalrXUtnFEMI" in p for p in problems)  # the secret is never shown


def test_a_value_with_a_newline_stays_one_value(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Expanded into the text before parsing, this value added a top-level `name`.
    monkeypatch.setenv("BUCKET", "my-bucket/\nname: hijacked")
    problems = problems_of(SEED)
    assert any(p.startswith("channels.train.s3_uri: String should match") for p in problems)


def test_a_duplicate_key_is_refused_naming_key_and_lines(tmp_path: Path) -> None:
    text = SEED.read_text() + "\nname: other-name\n"
    problems = problems_of(write(tmp_path, text))
    first = 1 + SEED.read_text().splitlines().index("name: xgboost-bank-hyperband")
    last = len(text.splitlines())
    assert problems == [
        f"is not valid YAML: key 'name' at line {last} repeats the one at line {first}: "
        "each key may appear once"
    ]


def test_an_unset_variable_without_default_is_a_problem(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BUCKET", raising=False)
    text = SEED.read_text().replace("${BUCKET:-my-bucket}/bank-marketing/output/", "${BUCKET}/o/")
    problems = problems_of(write(tmp_path, text))
    assert problems == [
        "output_path: ${BUCKET} is not set in the environment and has no default: set it, "
        "or write ${BUCKET:-value}"
    ]


def test_defaults_still_apply(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BUCKET")
    monkeypatch.setenv("ACCOUNT", "210987654321")
    spec = load(SEED)
    assert spec.output_path == "s3://my-bucket/bank-marketing/output/"
    assert spec.role == "arn:aws:iam::210987654321:role/SageMakerExecutionRole"


def smtune(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "smtune.tuning.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_plan_names_each_variable_it_read() -> None:
    result = smtune("tune", "plan", str(SEED))
    assert result.returncode == 0, result.stderr
    line = "variables   ACCOUNT, BUCKET, REGISTRY (from the environment)"
    assert line in result.stdout.splitlines()
    as_json = smtune("tune", "plan", str(SEED), "--json")
    assert as_json.returncode == 0, as_json.stderr
    assert "variables: ACCOUNT, BUCKET, REGISTRY (from the environment)" in as_json.stderr
