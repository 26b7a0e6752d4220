"""Real multi-host XGBoost jobs on the process backend: accuracy, failures, stop, resume."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from smtune.containers.catalogue import image
from smtune.containers.demo import NOTEBOOK_HYPERPARAMETERS
from smtune.containers.local.job import JobResult, JobSpec, JobStatus
from smtune.containers.local.layout import ChannelSource
from smtune.containers.local.process import ProcessBackend
from smtune.entrypoints.contract.config import S3DistributionType
from smtune.entrypoints.contract.metrics import cloudwatch_form
from smtune.entrypoints.xgboost import checkpoints
from smtune.entrypoints.xgboost.metrics import metric_spec
from tests.conftest import RunJob

SHARDED = S3DistributionType.SHARDED_BY_S3_KEY
NOTEBOOK = {
    **NOTEBOOK_HYPERPARAMETERS,
    # One thread per host on every run: the 3 hosts of the 3-host job share 2 cores, and
    # histogram sums in another thread order would change the trees, not the method.
    "nthread": "1",
}
VALIDATION_AUC = metric_spec("validation", "auc")
TRAIN_AUC = metric_spec("train", "auc")


def metric_values(log: Path, spec_name: str = "validation") -> list[float]:
    spec = VALIDATION_AUC if spec_name == "validation" else TRAIN_AUC
    lines = log.read_text().splitlines()
    values = [spec.read(cloudwatch_form(line)) for line in lines]
    return [v for v in values if v is not None]


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_three_sharded_hosts_match_one_host_on_bank_marketing(
    run_job: RunJob, bank: Path, tmp_path: Path
) -> None:
    one = run_job(bank / "train", NOTEBOOK, validation=bank / "validation", out=tmp_path / "one")
    three = run_job(
        bank / "train",
        NOTEBOOK,
        hosts=3,
        distribution=SHARDED,
        validation=bank / "validation",
        out=tmp_path / "three",
    )
    assert one.status is JobStatus.COMPLETED and three.status is JobStatus.COMPLETED
    auc_one, auc_three = metric_values(one.leader_log), metric_values(three.leader_log)
    assert len(auc_one) == len(auc_three) == 150
    # Only the leader prints metric lines; AMT would count duplicates as extra epochs.
    for host in three.hosts[1:]:
        assert metric_values(host.log) == [] and metric_values(host.log, "train") == []
    assert abs(auc_one[-1] - auc_three[-1]) < 0.005, (auc_one[-1], auc_three[-1])
    assert auc_three[-1] > 0.74


@pytest.mark.slow
def test_regexes_capture_each_round_as_xgboost_computed_it(
    run_job: RunJob, bank: Path, tmp_path: Path
) -> None:
    import xgboost as xgb

    rounds = 25
    # With the notebook's column sampling: a job without a CheckpointConfig boosts as one
    # xgboost.train call does (with one, the image reseeds at each checkpoint, for exact
    # resumes, and its trees are then those of another seed).
    hyperparameters = {**NOTEBOOK, "num_round": rounds, "eval_metric": "auc,logloss"}
    result = run_job(bank / "train", hyperparameters, validation=bank / "validation")
    assert result.status is JobStatus.COMPLETED
    log = cloudwatch_form(result.leader_log.read_text())

    def load(channel: str) -> xgb.DMatrix:
        rows = np.loadtxt(next((bank / channel).glob("*.csv")), delimiter=",", ndmin=2)
        return xgb.DMatrix(rows[:, 1:], label=rows[:, 0])

    stacked = np.vstack([np.loadtxt(f, delimiter=",") for f in sorted((bank / "train").glob("*"))])
    train = xgb.DMatrix(stacked[:, 1:], label=stacked[:, 0])
    params = {k: v for k, v in hyperparameters.items() if k != "num_round"}
    params["eval_metric"] = ["auc", "logloss"]
    computed: dict = {}
    xgb.train(
        params,
        train,
        rounds,
        evals=[(train, "train"), (load("validation"), "validation")],
        evals_result=computed,
        verbose_eval=False,
    )
    for channel in ("train", "validation"):
        for metric in ("auc", "logloss"):
            regex = metric_spec(channel, metric).regex
            captured = [float(v) for v in re.findall(regex, log, flags=re.MULTILINE)]
            assert captured == computed[channel][metric], (channel, metric)


def test_a_host_with_no_files_does_not_hang_the_others(run_job: RunJob, toy: Path) -> None:
    files = sorted((toy / "train").glob("*.csv"))
    files[2].unlink()  # two files for three hosts: algo-3 gets none
    result = run_job(
        toy / "train",
        {"num_round": 5, "objective": "binary:logistic", "eval_metric": "auc"},
        hosts=3,
        distribution=SHARDED,
        validation=toy / "validation",
        rendezvous_timeout_s=30,
    )
    assert result.status is JobStatus.COMPLETED, result.reason
    assert list((tmp_tree(result, "algo-3") / "input/data/train").iterdir()) == []
    assert len(metric_values(result.leader_log)) == 5


def test_only_a_job_with_a_checkpoint_config_checkpoints(
    run_job: RunJob, toy: Path, tmp_path: Path
) -> None:
    hyperparameters = {"num_round": 25, "objective": "binary:logistic", "colsample_bytree": 0.5}
    plain = run_job(toy / "train", hyperparameters, out=tmp_path / "plain")
    kept = run_job(toy / "train", hyperparameters, out=tmp_path / "kept", checkpoints=True)
    assert plain.status is kept.status is JobStatus.COMPLETED
    assert not (tmp_tree(plain, "algo-1") / "input/config/checkpointconfig.json").exists()
    assert list((tmp_tree(plain, "algo-1") / "checkpoints").iterdir()) == []
    written = checkpoints.list_checkpoints(tmp_tree(kept, "algo-1") / "checkpoints")
    assert [p.name for p in written] == ["xgboost-checkpoint.20", "xgboost-checkpoint.25"]
    for result in (plain, kept):
        assert (tmp_tree(result, "algo-1") / "model" / "xgboost-model").stat().st_size > 0


def tmp_tree(result: JobResult, host: str) -> Path:
    return result.leader_log.parent / host


def long_job(data: Path, out: Path, hosts: int, **hyperparameters: object) -> JobSpec:
    return JobSpec(
        image=image("xgboost"),
        host_count=hosts,
        channels={
            "train": ChannelSource("train", data / "train", SHARDED),
            "validation": ChannelSource("validation", data / "validation"),
        },
        hyperparameters={
            k: str(v)
            for k, v in {
                "num_round": 3000,
                "objective": "binary:logistic",
                "eval_metric": "auc",
                "max_depth": 8,
                "nthread": 1,
                **hyperparameters,
            }.items()
        },
        out=out,
        rendezvous_timeout_s=30,
        checkpoints=True,  # these jobs get stopped or killed, and resume: spot jobs' setting
    )


def wait_for_round(log: Path, round_: int, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if log.exists() and f"[{round_}]\t" in log.read_text():
            return
        time.sleep(0.05)
    raise AssertionError(f"round {round_} never appeared in {log}")


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_a_worker_killed_mid_training_fails_the_others_naming_it(
    bank: Path, tmp_path: Path
) -> None:
    with ProcessBackend().start(long_job(bank, tmp_path / "job", hosts=3)) as job:
        wait_for_round(job.spec.log_path("algo-1"), 5)
        os.killpg(job.processes["algo-2"].pid, signal.SIGKILL)  # type: ignore[attr-defined]
        killed = time.monotonic()
        for host in ("algo-1", "algo-3"):
            job.processes[host].wait(timeout=60)  # type: ignore[attr-defined]
        ended_within = time.monotonic() - killed
        result = job.wait()
    assert ended_within < 60
    assert result.hosts[1].exit_code == -signal.SIGKILL
    assert_the_others_named_the_lost_host(result, "algo-2")


def assert_the_others_named_the_lost_host(result: JobResult, lost: str) -> None:
    """Every other host failed (exit 1) with a reason that names the lost one."""
    assert result.status is JobStatus.FAILED
    for host in result.hosts:
        if host.host == lost:
            assert host.exit_code != 0
            continue
        assert host.exit_code == 1, (host.host, host.exit_code)
        assert host.failure is not None
        assert host.failure.startswith(f"host {lost} was lost during training"), host.failure
    assert result.reason.startswith(f"algo-1: host {lost} was lost")  # type: ignore[union-attr]


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_sigterm_stops_every_host_at_the_same_round_with_a_checkpoint(
    bank: Path, tmp_path: Path
) -> None:
    with ProcessBackend().start(long_job(bank, tmp_path / "job", hosts=2)) as job:
        wait_for_round(job.spec.log_path("algo-1"), 12)
        asked = time.monotonic()
        job.stop()
        result = job.wait()
    assert time.monotonic() - asked < 30
    assert result.status is JobStatus.STOPPED
    assert all(h.exit_code == 0 for h in result.hosts)
    import xgboost as xgb

    rounds_printed = len(metric_values(result.leader_log))
    assert 3 <= rounds_printed < 3000
    model = xgb.Booster(
        model_file=bytearray((tmp_tree(result, "algo-1") / "model" / "xgboost-model").read_bytes())
    )
    assert model.num_boosted_rounds() == rounds_printed  # saved on termination
    saved = checkpoints.newest(tmp_tree(result, "algo-1") / "checkpoints")
    # Checkpoints fall on multiples of checkpoint_frequency (10), where resuming is exact.
    assert saved is not None and saved[0] == rounds_printed // 10 * 10


# One host of a two-host job, up to XGBoost's collective and out of it, paced by the test
# through stdin: "join" lets a host started with "hold" enter the collective, "leave" ends it.
HOST = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from xgboost import collective
    from smtune.entrypoints.contract.config import ResourceConfig
    from smtune.entrypoints.contract.lifecycle import StopFlag
    from smtune.entrypoints.contract.paths import ContainerPaths
    from smtune.entrypoints.contract.topology import Topology
    from smtune.entrypoints.xgboost.distributed import cluster

    host, port_base, hold, root = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "hold", sys.argv[4]
    join = collective.init

    def join_when_told(**args):
        print("joining", flush=True)
        if hold:
            assert sys.stdin.readline() == "join\\n"
        join(**args)

    collective.init = join_when_told
    stop = StopFlag()
    stop.install()
    hosts = ("algo-1", "algo-2")
    topology = Topology(
        resource=ResourceConfig(current_host=host, hosts=hosts),
        addresses={h: "127.0.0.1" for h in hosts},
        port_base=port_base,
        timeout_s=60,
    )
    with cluster(topology, ContainerPaths(Path(root) / host), {}, None, check=lambda _: None):
        print("in", flush=True)
        assert sys.stdin.readline() == "leave\\n"
    print("stopped" if stop.is_set() else "not stopped", flush=True)
    """
)


class Host:
    def __init__(self, name: str, port_base: int, hold: bool, root: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", HOST, name, str(port_base), "hold" if hold else "-", str(root)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def said(self, line: str) -> None:
        """Wait for `line` on its stdout, past what XGBoost prints there."""
        assert self.process.stdout is not None
        seen = []
        while (got := self.process.stdout.readline()) not in (line + "\n", ""):
            seen.append(got)
        assert got, f"ended without saying {line!r}, after {seen}"

    def tell(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def signal(self, signum: int) -> None:
        self.process.send_signal(signum)


def assert_ended(host: Host, last_line: str) -> None:
    out, err = host.process.communicate(timeout=60)
    assert (host.process.returncode, out.splitlines()[-1:]) == (0, [last_line]), err


@contextlib.contextmanager
def two_hosts(root: Path, hold_algo_2: bool) -> Iterator[tuple[Host, Host]]:
    """algo-1 (the leader, with XGBoost's tracker) and algo-2; nothing of them outlives it."""
    from smtune.containers.local.process import release_port_block, reserve_port_block

    port_base = reserve_port_block()
    hosts = Host("algo-1", port_base, False, root), Host("algo-2", port_base, hold_algo_2, root)
    try:
        yield hosts
    finally:
        for host in hosts:
            host.process.kill()
            host.process.wait()
        release_port_block(port_base)


def test_a_sigterm_while_a_host_waits_to_join_xgboosts_collective_stops_it_cleanly(
    tmp_path: Path,
) -> None:
    # XGBoost's tracker sockets have a receive timeout, so the kernel never restarts their
    # recv after a signal: XGBoost failed it (EINTR), and a stop became a failed job.
    with two_hosts(tmp_path, hold_algo_2=True) as (leader, late):
        leader.said("joining")
        late.said("joining")
        time.sleep(0.5)  # the leader is in the tracker, waiting for algo-2
        leader.signal(signal.SIGTERM)
        time.sleep(0.3)
        late.tell("join")
        for host in (leader, late):
            host.said("in")
            host.tell("leave")
        assert_ended(leader, "stopped")
        assert_ended(late, "not stopped")


def test_a_sigterm_while_a_host_leaves_xgboosts_collective_stops_it_cleanly(
    tmp_path: Path,
) -> None:
    # A host that learnt of a stop from a peer's flag gets its own SIGTERM as it leaves.
    # The leader, frozen, holds the tracker's answer, so algo-2 waits in its recv.
    with two_hosts(tmp_path, hold_algo_2=False) as (leader, host):
        for each in (leader, host):
            each.said("joining")
            each.said("in")
        leader.signal(signal.SIGSTOP)
        host.tell("leave")
        time.sleep(0.5)
        host.signal(signal.SIGTERM)
        time.sleep(0.3)
        leader.signal(signal.SIGCONT)
        leader.tell("leave")
        assert_ended(host, "stopped")
        assert_ended(leader, "not stopped")


@pytest.mark.slow
@pytest.mark.timeout(240)
@pytest.mark.parametrize("hosts", [1, 2])
def test_resuming_after_a_kill_gives_the_uninterrupted_model_byte_for_byte(
    bank: Path, tmp_path: Path, hosts: int
) -> None:
    # Row and column sampling make every round depend on the random state.
    sampled = {"num_round": 60, "subsample": 0.7, "colsample_bytree": 0.6, "max_depth": 6}
    whole = ProcessBackend().run(long_job(bank, tmp_path / "whole", hosts, **sampled))
    assert whole.status is JobStatus.COMPLETED
    spec = long_job(bank, tmp_path / "cut", hosts, **sampled)
    with ProcessBackend().start(spec) as job:
        wait_for_round(spec.log_path("algo-1"), 20)
        job.kill()  # kill -9 every host: a lost spot fleet
    kept = checkpoints.newest(tmp_path / "cut" / "algo-1" / "checkpoints")
    assert kept is not None and 20 <= kept[0] < 60
    resumed = ProcessBackend().run(JobSpec(**{**spec.__dict__, "resume": True}))
    assert resumed.status is JobStatus.COMPLETED
    assert f"resuming from the checkpoint after round {kept[0]}" in resumed.leader_log.read_text()
    final = "algo-1/model/xgboost-model"
    assert (tmp_path / "cut" / final).read_bytes() == (tmp_path / "whole" / final).read_bytes()


def test_early_stopping_ends_the_job_and_a_rerun_keeps_its_model(
    bank: Path, tmp_path: Path
) -> None:
    import xgboost as xgb

    spec = long_job(
        bank, tmp_path / "job", 1, num_round=500, eta=0.5, max_depth=8, early_stopping_rounds=5
    )
    first = ProcessBackend().run(spec)
    assert first.status is JobStatus.COMPLETED, first.reason
    printed = len(metric_values(first.leader_log))
    assert 5 < printed < 500
    model_path = tmp_path / "job" / "algo-1" / "model" / "xgboost-model"
    model = xgb.Booster(model_file=bytearray(model_path.read_bytes()))
    assert int(model.attr("best_iteration")) == printed - 1 - 5
    again = ProcessBackend().run(JobSpec(**{**spec.__dict__, "resume": True}))
    assert again.status is JobStatus.COMPLETED
    assert metric_values(again.leader_log) == []  # nothing left to train
    assert model_path.read_bytes() == bytes(model.save_raw("ubj"))
