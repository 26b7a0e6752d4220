"""The code of a script-mode job fetched from S3 for real: a sourcedir.tar.gz on moto's S3
server, found through AWS_ENDPOINT_URL (boto3's own variable), run on the process backend.

moto's server needs moto[server] (flask); skipped where it is missing.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from smtune.containers.local.job import JobStatus
from smtune.containers.local.process import ProcessBackend
from smtune.containers.script import ScriptSpec
from tests.entrypoints.script.conftest import job_processes, nothing_left, script_job

pytest.importorskip("boto3")
moto_server = pytest.importorskip("moto.server", reason="moto's server needs moto[server]")

BUCKET = "code-bucket"
KEY = "job/source/sourcedir.tar.gz"
SCRIPT = """\
import argparse, json, os, pathlib
from helpers.rows import count  # a module of the archive's own package
parser = argparse.ArgumentParser()
parser.add_argument("--lr", type=float)
args = parser.parse_args()
rows = count(os.environ["SM_CHANNEL_TRAIN"])
pathlib.Path(os.environ["SM_MODEL_DIR"], "out.json").write_text(json.dumps([rows, args.lr]))
"""
ROWS = """\
import pathlib
def count(folder):
    return sum(len(p.read_text().splitlines()) for p in pathlib.Path(folder).iterdir())
"""


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """moto's S3 on 127.0.0.1, and every process of the job pointed at it."""
    import boto3

    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        # The server's buckets live in this process's moto backends: start from none.
        urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", b""))
        for name, value in {
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": "us-east-1",
        }.items():
            monkeypatch.setenv(name, value)
        monkeypatch.delenv("S3_ENDPOINT_URL", raising=False)
        client = boto3.client("s3")
        client.create_bucket(Bucket=BUCKET)
        yield client
    finally:
        server.stop()


@pytest.mark.timeout(60)
def test_a_job_runs_the_code_of_an_s3_archive(tmp_path: Path, s3: Any, train_data: Path) -> None:
    source = tmp_path / "src"
    (source / "helpers").mkdir(parents=True)
    (source / "train.py").write_text(SCRIPT)
    (source / "helpers" / "__init__.py").write_text("")
    (source / "helpers" / "rows.py").write_text(ROWS)
    # Packed as SDK v2 packs source_dir, and as `smtune tune submit` uploads it.
    s3.put_object(Bucket=BUCKET, Key=KEY, Body=ScriptSpec("train.py", source).archive())
    out = tmp_path / "job"
    spec = script_job(
        out, f"s3://{BUCKET}/{KEY}", train_data, hosts=1, image_name="xgboost", lr=0.5
    )
    with nothing_left(out):
        result = ProcessBackend().run(spec)
    assert result.status is JobStatus.COMPLETED, result.reason
    assert json.loads((out / "algo-1" / "model" / "out.json").read_text()) == [3, 0.5]
    assert (out / "algo-1" / "code" / "helpers" / "rows.py").read_text() == ROWS


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not a tar archive\n", "is not a readable .tar.gz archive of the code"),
        (None, "could not be downloaded"),  # no such key
    ],
    ids=["corrupt", "missing"],
)
def test_a_bad_s3_archive_fails_the_job_with_one_line(
    tmp_path: Path, s3: Any, train_data: Path, body: bytes | None, reason: str
) -> None:
    if body is not None:
        s3.put_object(Bucket=BUCKET, Key=KEY, Body=body)
    uri = f"s3://{BUCKET}/{KEY}"
    out = tmp_path / "job"
    spec = script_job(out, uri, train_data, hosts=2, image_name="xgboost")
    with nothing_left(out):
        result = ProcessBackend().run(spec)
        assert result.status is JobStatus.FAILED
        for host in result.hosts:  # each host fails alike, with the same first line
            first = (host.failure or "").splitlines()[0]
            assert first.startswith(f"sagemaker_submit_directory={uri!r} ") and reason in first
        assert job_processes(out) == []
