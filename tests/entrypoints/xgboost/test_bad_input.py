"""Bad input fails the job with a reason that says what to fix, and a non-zero exit."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from smtune.containers.catalogue import image
from smtune.containers.local.job import JobResult, JobSpec, JobStatus
from smtune.containers.local.layout import ChannelSource
from smtune.containers.local.process import host_environment, release_port_block, reserve_port_block
from smtune.entrypoints.contract.config import S3DistributionType
from smtune.entrypoints.contract.paths import ContainerPaths
from tests.conftest import RunJob, write_csv

BINARY = {"num_round": 3, "objective": "binary:logistic"}


def failed(result: JobResult, reason: str) -> None:
    """The job failed on every host with exit 1, and its FailureReason starts with `reason`."""
    assert result.status is JobStatus.FAILED
    assert all(h.exit_code == 1 for h in result.hosts), [h.exit_code for h in result.hosts]
    leader = result.hosts[0]
    assert leader.failure is not None
    first_line = leader.failure.splitlines()[0]
    assert reason in first_line, leader.failure


@pytest.fixture
def train(tmp_path: Path) -> Path:
    return write_csv(tmp_path / "data" / "train" / "train.csv", 200)


def test_missing_train_channel(run_job: RunJob, tmp_path: Path) -> None:
    validation = write_csv(tmp_path / "v" / "v.csv", 50)
    failed(
        run_job(None, BINARY, validation=validation),
        "channel train is required: this job's channels are validation",
    )


def test_empty_train_channel(run_job: RunJob, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    failed(run_job(tmp_path / "empty", BINARY), "channel train has no rows on any host")


def test_empty_train_channel_on_every_host_of_three(run_job: RunJob, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "blank.csv").write_text("")
    failed(
        run_job(tmp_path / "empty", BINARY, hosts=3, rendezvous_timeout_s=30),
        "channel train has no rows on any host",
    )


def test_non_numeric_cell(run_job: RunJob, train: Path) -> None:
    lines = train.read_text().splitlines()
    lines[6] = lines[6].split(",", 1)[0] + ",abc," + lines[6].split(",", 2)[2]
    train.write_text("\n".join(lines) + "\n")
    failed(
        run_job(train.parent, BINARY),
        "train file train.csv line 7 column 2 holds 'abc', which is not a number",
    )


def test_header_row(run_job: RunJob, train: Path) -> None:
    train.write_text("label,a,b,c,d,e\n" + train.read_text())
    failed(run_job(train.parent, BINARY), "train file train.csv starts with a header row")


def test_label_outside_0_1_for_binary_logistic(run_job: RunJob, train: Path) -> None:
    train.write_text("2," + train.read_text().split(",", 1)[1])
    failed(
        run_job(train.parent, BINARY),
        "train label 2 does not fit objective=binary:logistic: must be 0 <= label <= 1",
    )


def test_unknown_content_type(run_job: RunJob, train: Path) -> None:
    failed(
        run_job(train.parent, BINARY, content_type="application/x-recordio-protobuf"),
        "channel train ContentType='application/x-recordio-protobuf' is not supported",
    )


@pytest.mark.parametrize(
    ("hyperparameters", "reason"),
    [
        ({"objective": "binary:logistic"}, "hyperparameter num_round is required"),
        ({"num_round": "0"}, "num_round=0 is out of range: must be 1 <= num_round"),
        ({"num_round": "abc"}, "num_round='abc' is not an integer"),
        ({"num_round": "3", "eta": "1.7"}, "eta=1.7 is out of range: must be 0 <= eta <= 1"),
        ({"num_round": "3", "tree_method": "gpu_hist"}, "tree_method='gpu_hist' is not allowed"),
        ({"num_round": "3", "objective": "multi:softmax"}, "needs num_class"),
        ({"num_round": "3", "max_dept": "4"}, "'max_dept' is unknown (did you mean 'max_depth'?)"),
    ],
)
def test_bad_hyperparameters(
    run_job: RunJob, train: Path, hyperparameters: dict[str, str], reason: str
) -> None:
    failed(run_job(train.parent, hyperparameters), reason)


def test_exact_tree_method_on_several_hosts(run_job: RunJob, train: Path) -> None:
    failed(
        run_job(train.parent, {**BINARY, "tree_method": "exact"}, hosts=2),
        "tree_method=exact does not train across hosts",
    )


def test_hyperparameter_values_never_reach_a_shell(
    run_job: RunJob, train: Path, tmp_path: Path
) -> None:
    marker = tmp_path / "pwned"
    failed(
        run_job(train.parent, {**BINARY, "eta": f"$(touch {marker}); `touch {marker}`"}),
        "is not a number",
    )
    assert not marker.exists()


def test_a_bad_file_on_one_host_fails_every_host_with_its_reason(
    run_job: RunJob, tmp_path: Path
) -> None:
    data = tmp_path / "shards"
    write_csv(data / "a.csv", 100)
    (data / "b.csv").write_text("1,2,3,4,5,x\n")
    result = run_job(data, BINARY, hosts=2, distribution=S3DistributionType.SHARDED_BY_S3_KEY)
    failed(result, "host algo-2 failed: train file b.csv line 1 column 6 holds 'x'")
    assert result.hosts[1].failure.startswith("train file b.csv line 1 column 6")  # type: ignore[union-attr]


# Files SageMaker itself writes, broken by hand: run the entrypoint on a laid-out tree.


def run_host(spec: JobSpec, tree: ContainerPaths, timeout: float = 60) -> int:
    base = reserve_port_block()
    try:
        return subprocess.run(
            [sys.executable, "-m", "smtune.entrypoints.xgboost"],
            env=host_environment(spec, tree, base),
            capture_output=True,
            timeout=timeout,
        ).returncode
    finally:
        release_port_block(base)


@pytest.fixture
def laid_out(tmp_path: Path, train: Path) -> tuple[JobSpec, ContainerPaths]:
    from smtune.containers.local.layout import lay_out_host

    spec = JobSpec(
        image=image("xgboost"),
        host_count=2,
        channels={"train": ChannelSource("train", train.parent)},
        hyperparameters={k: str(v) for k, v in BINARY.items()},
        out=tmp_path / "job",
        rendezvous_timeout_s=3,
    )
    trees = {
        h: lay_out_host(spec.out, spec.hosts, h, spec.channels, spec.hyperparameters)
        for h in spec.hosts
    }
    return spec, trees["algo-1"]


@pytest.mark.parametrize(
    ("file", "content", "reason"),
    [
        ("hyperparameters", '{"num_round": "3",', "hyperparameters.json at"),
        ("hyperparameters", '["num_round"]', "hyperparameters.json must hold a JSON object"),
        ("resource_config", "{", "resourceconfig.json at"),
        (
            "resource_config",
            json.dumps({"current_host": "algo-9", "hosts": ["algo-1", "algo-2"]}),
            "current_host='algo-9' is not in hosts=['algo-1', 'algo-2']",
        ),
    ],
)
def test_malformed_config_files(
    laid_out: tuple[JobSpec, ContainerPaths], file: str, content: str, reason: str
) -> None:
    spec, tree = laid_out
    getattr(tree, file).write_text(content)
    assert run_host(spec, tree) == 1
    assert reason in tree.failure.read_text().splitlines()[0]


def test_a_host_that_never_joins_is_named(laid_out: tuple[JobSpec, ContainerPaths]) -> None:
    spec, leader = laid_out  # algo-2 is laid out but never started
    assert run_host(spec, leader) == 1
    assert leader.failure.read_text().startswith("host algo-2 did not join the job within 3 s")


def test_a_validation_channel_with_other_columns_than_train_is_refused_on_every_host(
    run_job: RunJob, train: Path, tmp_path: Path
) -> None:
    validation = write_csv(tmp_path / "v" / "cut.csv", 50, columns=3)
    failed(
        run_job(train.parent, BINARY, hosts=2, validation=validation.parent),
        "channel validation file cut.csv has 3 feature columns, train has 5: "
        "every channel must have train's columns, in its order",
    )


def libsvm(path: Path, rows: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(rows) + "\n")
    return path


def test_libsvm_validation_may_leave_out_features_but_not_add_one(
    run_job: RunJob, tmp_path: Path
) -> None:
    train = libsvm(
        tmp_path / "t" / "t.libsvm", [f"{i % 2} 0:{i} 1:{-i} 4:{i % 3}" for i in range(60)]
    )
    sparse = libsvm(tmp_path / "v" / "v.libsvm", [f"{i % 2} 0:{i} 1:{-i}" for i in range(20)])
    fine = run_job(
        train.parent, BINARY, hosts=2, validation=sparse.parent, content_type="text/libsvm"
    )
    assert fine.status is JobStatus.COMPLETED, fine.hosts[0].failure
    wider = libsvm(tmp_path / "w" / "w.libsvm", [f"{i % 2} 0:{i} 7:{-i}" for i in range(20)])
    failed(
        run_job(train.parent, BINARY, hosts=2, validation=wider.parent, content_type="text/libsvm"),
        "channel validation file w.libsvm uses feature index 7, train's highest is 4: "
        "a libsvm validation row may leave out features, not use one train has none of",
    )
