"""A user's script on the XGBoost image joins XGBoost's collective across hosts (process
backend): examples/script-mode/xgboost_train.py, the tracker smtune starts on the leader,
and what happens when a host's script fails before it joins."""

from __future__ import annotations

import importlib.util
import shutil
import time
from dataclasses import replace
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from smtune.containers.catalogue import image
from smtune.containers.local.job import JobResult, JobSpec, JobStatus
from smtune.containers.local.layout import ChannelSource
from smtune.containers.local.process import ProcessBackend
from smtune.containers.script import ScriptSpec
from smtune.entrypoints.contract.config import S3DistributionType
from smtune.entrypoints.contract.metrics import cloudwatch_form
from tests.conftest import REPO
from tests.entrypoints.script.conftest import job_processes, nothing_left, script_job, wait_for

xgboost = pytest.importorskip("xgboost")

EXAMPLE = REPO / "examples" / "script-mode" / "xgboost_train.py"
ROUNDS = 8
# A wrapper that fails on one host before the example joins the collective, or that keeps
# one host from joining for a minute while the other waits in the collective.
BEFORE_JOIN = """\
import argparse, os, sys, time
parser = argparse.ArgumentParser()
parser.add_argument("--fail_on")
parser.add_argument("--late_on")
known, rest = parser.parse_known_args()
if os.environ["SM_CURRENT_HOST"] == known.fail_on:
    sys.exit("cannot read my shard: disk on fire")
if os.environ["SM_CURRENT_HOST"] == known.late_on:
    time.sleep(60)
print("joining", flush=True)
import xgboost_train
xgboost_train.main(rest)
"""


def write_channel(folder: Path, rows: int, seed: int) -> Path:
    """Integer features of 8 values each: with every value a bin of its own, the hosts'
    merged quantile sketch has the cuts one host would find, so `hist` on 2 hosts grows
    the trees one host grows on all rows (on real continuous data only nearly)."""
    rng = np.random.default_rng(seed)
    features = rng.integers(0, 8, size=(rows, 5)).astype(float)
    labels = (features[:, 0] + features[:, 1] + rng.normal(scale=2, size=rows) > 7).astype(int)
    folder.mkdir(parents=True)
    for part, chunk in enumerate(np.array_split(np.column_stack([labels, features]), 2)):
        np.savetxt(folder / f"part-{part}.csv", chunk, delimiter=",", fmt="%g")
    return folder


@pytest.fixture
def channels(tmp_path: Path) -> dict[str, ChannelSource]:
    replicated = S3DistributionType.FULLY_REPLICATED
    return {
        name: ChannelSource(name, write_channel(tmp_path / "data" / name, rows, seed), replicated)
        for name, rows, seed in (("train", 1001, 0), ("validation", 301, 1))
    }


@pytest.fixture
def source(tmp_path: Path) -> Path:
    folder = tmp_path / "source"
    folder.mkdir()
    shutil.copy(EXAMPLE, folder / EXAMPLE.name)
    (folder / "before_join.py").write_text(BEFORE_JOIN)
    return folder


def load_example() -> ModuleType:
    module_spec = importlib.util.spec_from_file_location("xgboost_train", EXAMPLE)
    assert module_spec is not None and module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


LOGLOSS = load_example().LOGLOSS  # the script's own MetricSpecs give the regexes


def xgboost_job(
    out: Path,
    source: Path,
    channels: dict[str, ChannelSource],
    hosts: int,
    program: str = EXAMPLE.name,
    **hyperparameters: object,
) -> JobSpec:
    spec = script_job(
        out, source.as_uri(), channels["train"].source, program=program, hosts=hosts,
        image_name="xgboost", num_round=ROUNDS, max_depth=3, eta=0.5, **hyperparameters,
    )  # fmt: skip
    return replace(spec, channels=channels)


def logloss(log: Path) -> list[tuple[float, float]]:
    """(train, validation) of each metric line, read as a tuning job reads CloudWatch."""
    lines = [cloudwatch_form(line) for line in log.read_text().splitlines()]
    read = [(LOGLOSS["train"].read(line), LOGLOSS["validation"].read(line)) for line in lines]
    return [(t, v) for t, v in read if t is not None and v is not None]


def digests(result: JobResult) -> list[str]:
    return [
        line.split("=", 1)[1]
        for host in result.hosts
        for line in host.log.read_text().splitlines()
        if line.startswith("model sha256=")
    ]


def predictions(out: Path, validation: Path) -> np.ndarray:
    booster = xgboost.Booster()
    booster.load_model(bytearray((out / "algo-1" / "model" / "xgboost-model").read_bytes()))
    table = np.vstack([np.loadtxt(p, delimiter=",") for p in sorted(validation.glob("*.csv"))])
    return booster.predict(xgboost.DMatrix(table[:, 1:]))


def assert_two_hosts_grew_one_hosts_model(
    two: JobResult, two_out: Path, one: JobResult, one_out: Path, channels: dict[str, ChannelSource]
) -> None:
    assert one.status is JobStatus.COMPLETED, one.reason
    assert two.status is JobStatus.COMPLETED, two.reason
    # Both hosts grew the same model; only the leader printed metric lines.
    assert len(digests(two)) == 2 and len(set(digests(two))) == 1
    assert len(logloss(two.leader_log)) == ROUNDS and logloss(two.hosts[1].log) == []
    # Each host trained on half the rows, and XGBoost summed them: one host's result.
    np.testing.assert_allclose(logloss(two.leader_log), logloss(one.leader_log), rtol=1e-5)
    validation = channels["validation"].source
    np.testing.assert_allclose(
        predictions(two_out, validation), predictions(one_out, validation), atol=1e-5
    )
    assert logloss(one.leader_log)[-1][1] < 0.6  # it learnt something


@pytest.mark.timeout(120)
def test_two_hosts_grow_the_trees_one_host_grows_on_all_rows(
    tmp_path: Path, source: Path, channels: dict[str, ChannelSource]
) -> None:
    one_out, two_out = tmp_path / "one", tmp_path / "two"
    with nothing_left(one_out), nothing_left(two_out):
        one = ProcessBackend().run(xgboost_job(one_out, source, channels, hosts=1))
        two = ProcessBackend().run(xgboost_job(two_out, source, channels, hosts=2))
        assert_two_hosts_grew_one_hosts_model(two, two_out, one, one_out, channels)
        assert job_processes(one_out) == job_processes(two_out) == []


@pytest.mark.timeout(90)
@pytest.mark.parametrize("failing", ["algo-1", "algo-2"])
def test_a_script_failing_before_it_joins_fails_the_job_naming_it(
    tmp_path: Path, source: Path, channels: dict[str, ChannelSource], failing: str
) -> None:
    # Its peer waits in XGBoost's collective for it; the tracker must not keep anyone there.
    out = tmp_path / "job"
    spec = xgboost_job(out, source, channels, 2, program="before_join.py", fail_on=failing)
    with nothing_left(out):
        started = time.monotonic()
        result = ProcessBackend().run(spec)
        assert result.status is JobStatus.FAILED
        assert result.reason is not None and failing in result.reason
        reasons = {host.host: host.failure or "" for host in result.hosts}
        (other,) = set(reasons) - {failing}
        first, *tail = reasons[failing].splitlines()
        assert first == f"the training script before_join.py exited 1 on host {failing}"
        assert "cannot read my shard: disk on fire" in tail
        assert reasons[other].startswith(f"host {failing} failed or was lost during training")
        assert time.monotonic() - started < 60  # no host left waiting in the tracker
        assert job_processes(out) == []


@pytest.mark.timeout(90)
def test_a_stop_while_a_host_waits_in_xgboosts_collective_ends_the_job_stopped(
    tmp_path: Path, source: Path, channels: dict[str, ChannelSource]
) -> None:
    out = tmp_path / "job"
    spec = xgboost_job(out, source, channels, 2, program="before_join.py", late_on="algo-2")
    with nothing_left(out), ProcessBackend().start(spec) as job:
        wait_for(spec.log_path("algo-1"), "joining")
        time.sleep(1)  # algo-1's script is in collective.init, waiting for algo-2's
        stopped = time.monotonic()
        job.stop()
        result = job.wait()
        assert result.status is JobStatus.STOPPED, result.reason
        assert all(h.exit_code == 0 and h.failure is None for h in result.hosts)
        assert time.monotonic() - stopped < 30
        assert job_processes(out) == []


def test_a_script_reads_its_place_in_xgboosts_collective_from_the_environment() -> None:
    from smtune.entrypoints.toolkit import collective, distributed

    assert collective.init_arguments({}) is None  # one host: no tracker, train alone
    environ = {
        "DMLC_TRACKER_URI": "10.0.0.1",
        "DMLC_TRACKER_PORT": "9091",
        "DMLC_TASK_ID": "000001",
        "DMLC_NUM_WORKER": "2",
    }
    assert collective.init_arguments(environ) == {
        "dmlc_communicator": "rabit",
        "dmlc_tracker_uri": "10.0.0.1",
        "dmlc_tracker_port": 9091,
        "dmlc_task_id": "000001",
    }
    assert (distributed.rank(environ), distributed.world_size(environ)) == (1, 2)
    with pytest.raises(RuntimeError, match="DMLC_TASK_ID are not"):
        collective.init_arguments({"DMLC_TRACKER_URI": "10.0.0.1", "DMLC_TRACKER_PORT": "1"})


def docker_job(
    out: Path, source: Path, channels: dict[str, ChannelSource], program: str, **extra: str
) -> JobSpec:
    """A script job as `smtune train --backend docker` runs it: the source folder mounted at
    /opt/ml/code; the leader's tracker listens in the job's network, found by name."""
    return JobSpec(
        image=image("xgboost"),
        host_count=2,
        channels=channels,
        hyperparameters={"num_round": str(ROUNDS), "max_depth": "3", "eta": "0.5", **extra},
        out=out,
        script=ScriptSpec(program, source),
        rendezvous_timeout_s=60,
        failure_grace_s=30,
    )


@pytest.mark.docker
@pytest.mark.timeout(180)
def test_two_containers_join_xgboosts_collective_as_two_processes_do(
    docker_image: str,
    no_leftover_containers: None,
    tmp_path: Path,
    source: Path,
    channels: dict[str, ChannelSource],
) -> None:
    from smtune.containers.local.docker import DockerBackend

    spec = docker_job(tmp_path / "docker", source, channels, EXAMPLE.name)
    one_out = tmp_path / "one"
    with nothing_left(one_out):
        one = ProcessBackend().run(xgboost_job(one_out, source, channels, hosts=1))
    two = DockerBackend(docker_image).run(spec)
    assert_two_hosts_grew_one_hosts_model(two, spec.out, one, one_out, channels)


@pytest.mark.docker
@pytest.mark.timeout(180)
def test_a_leader_container_failing_before_it_joins_ends_the_job_and_its_tracker(
    docker_image: str, tmp_path: Path, source: Path, channels: dict[str, ChannelSource]
) -> None:
    # The tracker lives in the leader's container; algo-2 waits in XGBoost's collective.
    from smtune.containers.local.docker import DockerBackend
    from tests.containers.test_docker_backend import leftovers

    spec = docker_job(tmp_path / "job", source, channels, "before_join.py", fail_on="algo-1")
    started = time.monotonic()
    with DockerBackend(docker_image).start(spec) as job:
        names = list(job.names.values())  # type: ignore[attr-defined]
        result = job.wait()
    assert time.monotonic() - started < 90  # no host left waiting in the tracker
    assert result.status is JobStatus.FAILED
    reasons = {host.host: host.failure or "" for host in result.hosts}
    assert reasons["algo-1"].startswith(
        "the training script before_join.py exited 1 on host algo-1"
    )
    assert "disk on fire" in reasons["algo-1"]
    assert reasons["algo-2"].startswith("host algo-1 failed or was lost during training")
    assert leftovers([n.rsplit("-algo-", 1)[0] for n in names]) == []
