"""Any error one DNN host hits before joining (not only a UserError) fails every host at once."""

from __future__ import annotations

import gzip
from dataclasses import replace
from pathlib import Path

import pytest

from smtune.containers.local.job import JobStatus
from smtune.containers.local.layout import ChannelSource
from smtune.containers.local.process import ProcessBackend
from smtune.entrypoints.contract.config import S3DistributionType
from tests.entrypoints.dnn.conftest import dnn_job


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_a_corrupt_gzip_file_on_one_host_fails_both_within_30_s(
    mnist: Path, tmp_path: Path
) -> None:
    # ShardedByS3Key deals the sorted keys out in turn: algo-1 gets a- and c-, algo-2 b- and
    # d-. algo-2's images are gzip whose deflate stream is broken: zlib.error, no UserError.
    train = tmp_path / "train"
    train.mkdir()
    images = (mnist / "train" / "train-images-idx3-ubyte").read_bytes()
    labels = (mnist / "train" / "train-labels-idx1-ubyte").read_bytes()
    packed = gzip.compress(images)
    (train / "a-images-idx3-ubyte").write_bytes(images)
    (train / "b-images-idx3-ubyte.gz").write_bytes(packed[:10] + b"\xff" * 8 + packed[18:])
    (train / "c-labels-idx1-ubyte").write_bytes(labels)
    (train / "d-labels-idx1-ubyte").write_bytes(labels)
    spec = dnn_job(mnist, tmp_path / "job", hosts=2)
    sharded = ChannelSource(
        "train", train, S3DistributionType.SHARDED_BY_S3_KEY, "application/x-idx"
    )
    result = ProcessBackend().run(replace(spec, channels={**spec.channels, "train": sharded}))
    assert result.status is JobStatus.FAILED
    assert result.wall_seconds < 30, result.wall_seconds
    assert [h.exit_code for h in result.hosts] == [1, 1]
    leader, other = (h.failure or "" for h in result.hosts)
    assert leader.startswith("host algo-2 failed: "), leader
    assert "invalid block type" in leader.splitlines()[0], leader
    assert "AlgorithmError" in leader
    assert "invalid block type" in other.splitlines()[0], other
