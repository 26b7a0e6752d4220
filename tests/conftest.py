"""Shared fixtures: real data, small synthetic data, and local jobs on the process backend."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from smtune.containers.catalogue import image
from smtune.containers.local.job import JobResult, JobSpec
from smtune.containers.local.layout import ChannelSource
from smtune.containers.local.process import ProcessBackend
from smtune.entrypoints.contract.config import S3DistributionType

REPO = Path(__file__).resolve().parents[1]
HOROVOD_REQUIRED_VARIABLE = "SMTUNE_REQUIRE_HOROVOD"


def horovod_missing() -> str | None:
    """Why Horovod cannot run in this venv (`make horovod` builds it), or None when it can."""
    try:
        import horovod.torch  # noqa: F401
    except ImportError as error:
        return f"Horovod is not built in this venv (make horovod): {error}"
    return None


def _runs_horovod_here(item: pytest.Item) -> bool:
    return "horovod" in item.keywords and "docker" not in item.keywords


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests that run Horovod here (not in the DNN image, which has its own) skip where it
    is missing, unless SMTUNE_REQUIRE_HOROVOD=1 (CI): there they fail (pytest_runtest_setup)."""
    reason = horovod_missing() if any(map(_runs_horovod_here, items)) else None
    if reason is None or os.environ.get(HOROVOD_REQUIRED_VARIABLE) == "1":
        return
    for item in filter(_runs_horovod_here, items):
        item.add_marker(pytest.mark.skip(reason=reason))


def pytest_runtest_setup(item: pytest.Item) -> None:
    if os.environ.get(HOROVOD_REQUIRED_VARIABLE) == "1" and _runs_horovod_here(item):
        reason = horovod_missing()
        if reason is not None:
            pytest.fail(f"{HOROVOD_REQUIRED_VARIABLE}=1 but {reason}")


SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"the shared datasets are not at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def bank(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Bank marketing from the zip the project carries, train split in 3 shard files."""
    from smtune.containers.data.bank_marketing import prepare

    out = tmp_path_factory.mktemp("bank")
    prepare(None, out, shards=3)
    return out


def write_csv(path: Path, rows: int, columns: int = 5, seed: int = 0) -> Path:
    """A separable binary problem: label = x0 + x1 > 0, label first, no header."""
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(rows, columns)).round(4)
    labels = (features[:, 0] + features[:, 1] > 0).astype(int)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savetxt(path, np.column_stack([labels, features]), delimiter=",", fmt="%g")
    return path


@pytest.fixture
def toy(tmp_path: Path) -> Path:
    """Channels train (3 files) and validation of a small synthetic problem."""
    for i in range(3):
        write_csv(tmp_path / "data" / "train" / f"part-{i}.csv", 400, seed=i)
    write_csv(tmp_path / "data" / "validation" / "validation.csv", 300, seed=10)
    return tmp_path / "data"


RunJob = Callable[..., JobResult]


@pytest.fixture
def run_job(tmp_path: Path) -> RunJob:
    """Run the XGBoost image as a local job on the process backend."""

    def run(
        train: Path | None,
        hyperparameters: Mapping[str, object],
        hosts: int = 1,
        validation: Path | None = None,
        distribution: S3DistributionType = S3DistributionType.FULLY_REPLICATED,
        content_type: str | None = "text/csv",
        out: Path | None = None,
        **spec: object,
    ) -> JobResult:
        channels = {}
        if train is not None:
            channels["train"] = ChannelSource("train", train, distribution, content_type)
        if validation is not None:
            channels["validation"] = ChannelSource(
                "validation", validation, S3DistributionType.FULLY_REPLICATED, content_type
            )
        job = JobSpec(
            image=image("xgboost"),
            host_count=hosts,
            channels=channels,
            hyperparameters={k: str(v) for k, v in hyperparameters.items()},
            out=out or tmp_path / "job",
            **spec,  # type: ignore[arg-type]
        )
        return ProcessBackend().run(job)

    return run


DOCKER_IMAGE = os.environ.get("SMTUNE_TEST_IMAGE", "smtune-xgboost:0.1.0")
DNN_IMAGE = os.environ.get("SMTUNE_TEST_DNN_IMAGE", "smtune-dnn:0.1.0")


def built_image(reference: str) -> str:
    """`reference` if it is built; skipped without an engine or the image, unless
    SMTUNE_REQUIRE_DOCKER=1 (CI), where either is missing is a failure."""
    from smtune.containers.local.docker import docker, engine_available

    required = os.environ.get("SMTUNE_REQUIRE_DOCKER") == "1"
    if not engine_available():
        if required:
            pytest.fail("SMTUNE_REQUIRE_DOCKER=1 but no Docker engine answers `docker info`")
        pytest.skip("no Docker engine")
    if docker("image", "inspect", reference, check=False).returncode != 0:
        if required:
            pytest.fail(f"SMTUNE_REQUIRE_DOCKER=1 but image {reference} is not built: make build")
        pytest.skip(f"image {reference} is not built (make build)")
    return reference


@pytest.fixture(scope="session")
def docker_image() -> str:
    """The built XGBoost image."""
    return built_image(DOCKER_IMAGE)


@pytest.fixture(scope="session")
def dnn_image() -> str:
    """The built DNN image."""
    return built_image(DNN_IMAGE)


@pytest.fixture
def no_leftover_containers() -> Iterator[None]:
    """Remove the containers and networks a test created, whatever happens: SDK local mode's
    docker-compose leaves its exited containers behind."""
    from smtune.containers.local.docker import docker

    def listed(*command: str) -> set[str]:
        return set(docker(*command, "--quiet", check=False).stdout.split())

    containers, networks = listed("ps", "--all"), listed("network", "ls")
    yield
    if new := listed("ps", "--all") - containers:
        docker("rm", "--force", *new, check=False)
    if new := listed("network", "ls") - networks:
        docker("network", "rm", *new, check=False)


@contextmanager
def tiny_disk(folder: Path, size: str = "64k") -> Iterator[Path]:
    """A real file system of `size` (a tmpfs of our own, so a full disk fills no one else's):
    writes past it fail with ENOSPC, as a full disk's do. Unmounted whatever the test does; a
    file the test left open there fails it, after detaching the mount all the same."""
    folder.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (needs root): {mounted.stderr.strip()}")
    try:
        yield folder
    finally:
        unmounted = subprocess.run(["umount", str(folder)], capture_output=True, text=True)
        if unmounted.returncode != 0:
            subprocess.run(["umount", "--lazy", str(folder)], check=True)
            raise AssertionError(f"{folder} was still in use: {unmounted.stderr.strip()}")
