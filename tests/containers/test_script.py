"""Script mode on the host side: `smtune train --entry-point ...` parsed and checked, and what
each host finds in hyperparameters.json (SDK v2's form), without running a job."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path
from typing import Any

import pytest

from smtune.containers.cli import job_spec
from smtune.containers.local.docker import DockerBackend
from smtune.containers.local.job import Backend, JobSpec, RunningJob
from smtune.containers.local.process import ProcessBackend
from smtune.containers.script import (
    CODE_DIR,
    Distribution,
    ScriptSpec,
    encode_text,
    hyperparameter_name_problem,
)
from smtune.entrypoints.contract.paths import ContainerPaths
from smtune.tuning.cli import main, parser


@pytest.fixture
def source(tmp_path: Path) -> Path:
    folder = tmp_path / "src"
    (folder / "lib").mkdir(parents=True)
    (folder / "train.py").write_text("print('hello')\n")
    (folder / "lib" / "helpers.py").write_text("X = 1\n")
    return folder


def args_of(*argv: str) -> Any:
    return parser().parse_args(["train", "dnn", *argv])


def spec_of(tmp_path: Path, *argv: str) -> JobSpec:
    return job_spec(args_of(*argv, "--out", str(tmp_path / "job")))


# -- parsing and checking -------------------------------------------------------------------


def test_a_script_job_parses_into_a_typed_script_and_any_channels(
    tmp_path: Path, source: Path
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    spec = spec_of(
        tmp_path,
        "--entry-point", "train.py", "--source-dir", str(source),
        "--distribution-mode", "mpi", "--processes-per-host", "2",
        "--channel", f"images={data}", "--channel", f"labels={data}", "--train", str(data),
        "--hp", "epochs=3", "--hp", "optimizer=adam",
    )  # fmt: skip
    assert spec.script == ScriptSpec("train.py", source, Distribution.MPI, 2)
    assert sorted(spec.channels) == ["images", "labels", "train"]
    # As SDK v2 sends a script's values: JSON; text that is no JSON becomes a string.
    assert spec.hyperparameters == {"epochs": "3", "optimizer": '"adam"'}


def test_without_a_source_dir_the_entry_points_folder_is_shipped(
    tmp_path: Path, source: Path
) -> None:
    spec = spec_of(tmp_path, "--entry-point", str(source / "train.py"))
    assert spec.script is not None
    assert (spec.script.entry_point, spec.script.source_dir) == ("train.py", source)
    assert spec.channels == {}  # a script needs no channel


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["--entry-point", "trian.py"],
            "--entry-point='trian.py' is not a file in --source-dir=",
        ),
        (["--entry-point", "lib"], "--entry-point='lib' is not a file in --source-dir="),
        (["--entry-point", "../train.py"], "--entry-point='../train.py' is not allowed"),
        (["--entry-point=-c.py"], "--entry-point='-c.py' is not allowed"),
        (
            ["--entry-point", "train.py", "--distribution-mode", "torch_distributed",
             "--processes-per-host", "2"],
            "--processes-per-host=2 applies to --distribution-mode mpi only",
        ),
        (
            ["--entry-point", "train.py", "--distribution-mode", "mpi",
             "--processes-per-host", "0"],
            "--processes-per-host=0 is out of range: must be --processes-per-host >= 1",
        ),
        (["--entry-point", "train.py", "--hp", "sagemaker_program=x.py"], "--hp sagemaker_"),
        (["--entry-point", "train.py", "--hp", "two words=1"], "it reaches the script as"),
        (["--entry-point", "train.py", "--channel", "../up=."], "channel name '../up'"),
        (["--entry-point", "train.py", "--channel", "train"], "must be written NAME=DIR"),
        (["--entry-point", "train.py", "--channel", "x=/no/such"], "--channel x=/no/such does"),
    ],
)  # fmt: skip
def test_bad_script_options_name_the_option_value_and_rule(
    tmp_path: Path, source: Path, argv: list[str], message: str
) -> None:
    with pytest.raises(ValueError, match=None) as error:
        spec_of(tmp_path, "--source-dir", str(source), *argv)
    assert message in str(error.value)


def test_a_missing_source_dir_and_script_options_without_a_script_are_refused(
    tmp_path: Path,
) -> None:
    with pytest.raises(ValueError, match="--source-dir='/no/src' is not a folder"):
        spec_of(tmp_path, "--entry-point", "train.py", "--source-dir", "/no/src")
    with pytest.raises(ValueError, match="--distribution-mode applies to a script"):
        spec_of(tmp_path, "--train", str(tmp_path), "--distribution-mode", "mpi")


def test_channels_are_given_once_and_the_image_still_needs_train(
    tmp_path: Path, source: Path
) -> None:
    with pytest.raises(ValueError, match="channel train is given twice"):
        spec_of(tmp_path, "--train", str(source), "--channel", f"train={source}")
    with pytest.raises(ValueError, match="--train is required: the dnn image trains on"):
        spec_of(tmp_path, "--validation", str(source))
    spec = spec_of(tmp_path, "--channel", f"train={source}", "--distribution", "sharded")
    assert spec.channels["train"].distribution.value == "ShardedByS3Key"


def test_the_cli_exits_2_naming_the_bad_option(
    tmp_path: Path, source: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["train", "dnn", "--entry-point", "nope.py", "--source-dir", str(source)]
    assert main([*argv, "--out", str(tmp_path / "job")]) == 2
    assert "--entry-point='nope.py' is not a file" in capsys.readouterr().err


def test_command_line_values_become_json_as_sdk_v2_sends_them() -> None:
    assert [encode_text(t) for t in ("10", "0.1", "1e-05", "true", '"10"', "adam", "")] == [
        "10", "0.1", "1e-05", "true", '"10"', '"adam"', '""',
    ]  # fmt: skip
    assert hyperparameter_name_problem("batch-size") is None
    assert hyperparameter_name_problem("lr.scale") is None
    assert "must start with a letter" in str(hyperparameter_name_problem("--lr"))


# -- what a host sees -----------------------------------------------------------------------


class Layout(Backend):
    """A backend that lays out the hosts' trees and starts nothing."""

    def __init__(self, real: Backend) -> None:
        self.real = real
        self.mounted_at = real.mounted_at
        self.inputs_read_only = real.inputs_read_only

    def submit_directory(self, script: ScriptSpec) -> str | None:
        return self.real.submit_directory(script)

    def _launch(self, spec: JobSpec, trees: dict[str, ContainerPaths], echo: bool) -> RunningJob:
        self.trees = trees
        return None  # type: ignore[return-value]

    def end_leftovers(self, out: Path) -> list[str]:
        return []


def host_hyperparameters(backend: Backend, spec: JobSpec) -> list[dict[str, str]]:
    layout = Layout(backend)
    layout.start(spec)
    return [json.loads(t.hyperparameters.read_text()) for t in layout.trees.values()]


SDK_V2_SCRIPT = {  # PyTorch(..., hyperparameters={"epochs": 3, "optimizer": "adam"})
    "epochs": "3",
    "optimizer": '"adam"',
    "sagemaker_program": '"train.py"',
    "sagemaker_container_log_level": "20",
    "sagemaker_job_name": '"my-job"',
    "sagemaker_region": '"eu-west-1"',
}


def test_process_hosts_fetch_the_folder_by_file_uri(
    tmp_path: Path, source: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    spec = job_spec(
        args_of(
            "--entry-point", "train.py", "--source-dir", str(source), "--hosts", "2",
            "--hp", "epochs=3", "--hp", "optimizer=adam", "--out", str(tmp_path / "my-job"),
        )
    )  # fmt: skip
    seen = host_hyperparameters(ProcessBackend(), spec)
    expected = {**SDK_V2_SCRIPT, "sagemaker_submit_directory": json.dumps(source.as_uri())}
    assert seen == [expected, expected]


def test_docker_hosts_get_the_folder_mounted_read_only_at_opt_ml_code(
    tmp_path: Path, source: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    spec = job_spec(
        args_of(
            "--entry-point", "train.py", "--source-dir", str(source),
            "--distribution-mode", "torch_distributed",
            "--hp", "epochs=3", "--hp", "optimizer=adam", "--out", str(tmp_path / "my-job"),
        )
    )  # fmt: skip
    backend = DockerBackend("smtune-dnn:0.1.0")
    [seen] = host_hyperparameters(backend, spec)
    assert seen == {  # no submit directory: the code is at /opt/ml/code, as SDK local mode has it
        **SDK_V2_SCRIPT,
        "sagemaker_torch_distributed_enabled": "true",
        "sagemaker_instance_type": '"local"',
    }
    tree = ContainerPaths(spec.out / "algo-1")
    command = backend.command(spec, "c", "algo-1", tree, "net")
    assert f"{source}:{CODE_DIR}:ro" in command


def test_a_job_without_a_script_is_written_as_before(tmp_path: Path, source: Path) -> None:
    spec = spec_of(tmp_path, "--train", str(source), "--hp", "epochs=3", "--hp", "lr=x")
    assert spec.script is None
    assert host_hyperparameters(ProcessBackend(), spec) == [{"epochs": "3", "lr": "x"}]
    tree = ContainerPaths(spec.out / "algo-1")
    assert str(CODE_DIR) not in " ".join(DockerBackend("i").command(spec, "c", "h", tree, "n"))


def test_the_archive_holds_the_folder_at_its_root(source: Path) -> None:
    script = ScriptSpec("train.py", source)
    with tarfile.open(fileobj=io.BytesIO(script.archive()), mode="r:gz") as tar:
        assert sorted(tar.getnames()) == ["lib", "lib/helpers.py", "train.py"]
        member = tar.extractfile("train.py")
        assert member is not None and member.read() == b"print('hello')\n"
