"""Any error one host hits before joining (not only a UserError) fails every host at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from smtune.containers.local.job import JobStatus
from smtune.entrypoints.contract.config import S3DistributionType
from tests.conftest import RunJob

BINARY = {"num_round": 3, "objective": "binary:logistic"}


@pytest.mark.timeout(120)
def test_invalid_utf8_in_a_libsvm_shard_on_one_host_fails_both_within_30_s(
    run_job: RunJob, tmp_path: Path
) -> None:
    data = tmp_path / "shards"
    data.mkdir()
    (data / "a.libsvm").write_text("".join(f"{i % 2} 1:{i} 2:{i * 0.5}\n" for i in range(50)))
    (data / "b.libsvm").write_bytes(b"1 1:0.5 2:\xff\xfe\n")  # algo-2's shard
    result = run_job(
        data,
        BINARY,
        hosts=2,
        distribution=S3DistributionType.SHARDED_BY_S3_KEY,
        content_type="text/libsvm",
    )
    assert result.status is JobStatus.FAILED
    assert result.wall_seconds < 30, result.wall_seconds
    assert [h.exit_code for h in result.hosts] == [1, 1]
    leader, other = (h.failure or "" for h in result.hosts)
    assert leader.startswith("host algo-2 failed: "), leader
    assert "utf-8" in leader.splitlines()[0].lower(), leader
    assert "AlgorithmError" in leader
    assert "utf-8" in other.splitlines()[0].lower(), other


@pytest.mark.timeout(120)
def test_a_leader_that_cannot_start_the_tracker_fails_both_within_30_s(
    run_job: RunJob, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The leader's port for XGBoost's tracker is taken: it still joins, with its reason."""
    import socket

    from smtune.containers.local import process
    from smtune.entrypoints.contract.topology import Port

    base = process.reserve_port_block()
    process.release_port_block(base)
    monkeypatch.setattr(process, "reserve_port_block", lambda: base)
    train = tmp_path / "train.csv"
    train.write_text("".join(f"{i % 2},{i},{i * 0.5}\n" for i in range(50)))
    with socket.create_server((process.LOOPBACK, base + Port.XGBOOST_TRACKER)):
        result = run_job(train, BINARY, hosts=2)
    assert result.status is JobStatus.FAILED
    assert result.wall_seconds < 30, result.wall_seconds
    leader, other = (h.failure or "" for h in result.hosts)
    assert leader.startswith("the leader cannot start XGBoost's tracker on port"), leader
    assert "PlatformError" in leader
    assert other.startswith("host algo-1 failed: the leader cannot start"), other
