"""The DNN image's CUDA variant, checked without building it (its wheels are about 3 GB, too
much for CI): the build arguments, tag and context `make build` gives it, its pins resolving
(from its wheelhouse where `make wheels` filled it, and against the package index), and its
refusal to build without those wheels."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs make")

DOCKERFILE = REPO / "docker" / "pytorch" / "Dockerfile"
REQUIREMENTS = REPO / "docker" / "pytorch" / "requirements.txt"
CUDA_REQUIREMENTS = REPO / "docker" / "pytorch" / "requirements-cuda.txt"
CUDA_WHEELHOUSE = REPO / "build" / "wheels" / "dnn-cuda"
VENV = Path(sys.prefix)
# pip as the image's build runs it: none of this machine's configuration (its find-links may
# hold torch's CPU build, which requirements.txt's torch==2.13.0 would also accept).
BARE_PIP = {
    **{name: value for name, value in os.environ.items() if not name.startswith("PIP_")},
    "PIP_CONFIG_FILE": os.devnull,
}


def make(
    *arguments: str, environ: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`make ARGUMENTS` with this venv, never remaking the venv, Horovod or the base image;
    `environ` replaces the environment."""
    keep = [f"{VENV}/bin/.installed", f"{VENV}/bin/.dev", "horovod-wheel", "base-image"]
    return subprocess.run(
        ["make", f"VENV={VENV}", *(f"--old-file={target}" for target in keep), *arguments],
        cwd=REPO,
        env=os.environ if environ is None else environ,
        capture_output=True,
        text=True,
        timeout=120,
    )


def build_commands(*variables: str) -> str:
    result = make("--dry-run", "build", "IMAGES=dnn", "TAG=1.2.3", *variables)
    assert result.returncode == 0, result.stderr
    return result.stdout


def pins() -> dict[str, str]:
    """Every package the two requirement files pin, by canonical name."""
    found = {}
    for file in (REQUIREMENTS, CUDA_REQUIREMENTS):
        for line in file.read_text().splitlines():
            if match := re.match(r"([A-Za-z0-9_.-]+)(\[[^]]*\])?==(\S+)", line):
                found[re.sub(r"[-_.]+", "-", match[1]).lower()] = match[3]
    return found


def test_the_cuda_variant_is_tagged_apart_and_built_from_its_own_wheelhouse() -> None:
    commands = build_commands("DNN_VARIANT=cuda")
    assert "torch===2.13.0 --requirement docker/pytorch/requirements-cuda.txt" in commands
    assert "--build-arg TORCH_VARIANT=cuda" in commands
    assert "--build-arg WHEELHOUSE=build/wheels/dnn-cuda" in commands
    assert "--tag smtune-dnn:1.2.3-cuda -\n" in commands  # the context comes on stdin
    assert "docker/pytorch build/wheels/dnn-cuda | docker build" in commands


def test_the_cpu_variant_keeps_its_tag_wheelhouse_and_context() -> None:
    commands = build_commands()
    assert "torch==2.13.0+cpu" in commands
    assert "--build-arg TORCH_VARIANT=cpu --build-arg WHEELHOUSE=build/wheels/dnn " in commands
    assert "--tag smtune-dnn:1.2.3 .\n" in commands
    assert "requirements-cuda" not in commands and "tar -c" not in commands


def test_an_unknown_variant_is_refused() -> None:
    result = make("--dry-run", "build", "IMAGES=dnn", "DNN_VARIANT=rocm")
    assert result.returncode == 2
    assert "DNN_VARIANT=rocm: must be cpu or cuda" in result.stderr


def test_the_cuda_context_holds_every_file_the_dockerfile_copies(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    (wheels / "dnn-cuda").mkdir(parents=True)
    (wheels / "dnn-cuda" / "torch-2.13.0-cp311-cp311-manylinux_2_28_x86_64.whl").write_bytes(b"")
    commands = build_commands("DNN_VARIANT=cuda", f"WHEELS={wheels}")
    pipe = commands[commands.index("tar -c") : commands.index("| docker build")]
    archive = tmp_path / "context.tar"
    command = pipe.replace("\\\n", " ")  # make's continuation lines, as make joins them
    subprocess.run(f"{command} > {archive}", shell=True, cwd=REPO, check=True)
    with tarfile.open(archive) as tar:
        members = {member.name.rstrip("/") for member in tar.getmembers()}
    assert not any("__pycache__" in name for name in members)
    wheelhouse = str(wheels / "dnn-cuda").lstrip("/")
    copied = []
    for line in DOCKERFILE.read_text().replace("\\\n", " ").splitlines():
        if line.startswith("COPY ") and "--from=" not in line:
            copied += line.split()[1:-1]
    assert copied, "no COPY line found in the Dockerfile"
    for source in copied:
        path = source.replace("${WHEELHOUSE}", wheelhouse).rstrip("/")
        assert path in members, f"{source} is not in the CUDA variant's build context"


def test_the_cuda_stage_asks_nvidias_runtime_for_the_gpus() -> None:
    text = DOCKERFILE.read_text()
    assert text.startswith("#") and "\nARG TORCH_VARIANT=cpu\n\nFROM ${BASE_IMAGE} AS base" in text
    assert "FROM runtime-${TORCH_VARIANT} AS sagemaker" in text
    cuda_stage = text[text.index("AS runtime-cuda") : text.index("AS sagemaker")]
    assert "NVIDIA_VISIBLE_DEVICES=all" in cuda_stage
    assert "NVIDIA_DRIVER_CAPABILITIES=compute,utility" in cuda_stage


def resolve(*pip_arguments: str, environ: dict[str, str]) -> dict[str, str]:
    """What `pip install --dry-run` would install (canonical name: version); `environ`
    replaces the environment."""
    result = subprocess.run(
        [
            sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed",
            "--quiet", "--report", "-", *pip_arguments,
        ],
        env=environ,
        capture_output=True,
        text=True,
        timeout=180,
    )  # fmt: skip
    if result.returncode != 0:
        network = ("NewConnectionError", "Network is unreachable", "Could not fetch URL")
        if any(text in result.stderr for text in network):
            pytest.skip(f"the package index is not reachable: {result.stderr.strip()[-300:]}")
        pytest.fail(f"pip could not resolve the CUDA variant's pins:\n{result.stderr[-3000:]}")
    report = json.loads(result.stdout)
    return {
        re.sub(r"[-_.]+", "-", item["metadata"]["name"]).lower(): item["metadata"]["version"]
        for item in report["install"]
    }


def assert_pinned(resolved: dict[str, str]) -> None:
    assert resolved.get("torch") == "2.13.0", resolved.get("torch")  # no +cpu label
    assert "nvidia-nccl-cu13" in resolved and "nvidia-cudnn-cu13" in resolved
    pinned = pins()
    unpinned = {name: v for name, v in resolved.items() if pinned.get(name) != v}
    assert not unpinned, f"resolved but not pinned at that version in requirements: {unpinned}"


@pytest.mark.skipif(
    not CUDA_WHEELHOUSE.is_dir(),
    reason=f"no CUDA wheelhouse at {CUDA_WHEELHOUSE} (make wheels-dnn DNN_VARIANT=cuda, ~3 GB)",
)
def test_the_cuda_pins_resolve_offline_from_its_wheelhouse() -> None:
    # The image build's own pip command: no index, the wheelhouse only.
    resolved = resolve(
        "--no-index", "--find-links", str(CUDA_WHEELHOUSE),
        "--requirement", str(REQUIREMENTS), "--requirement", str(CUDA_REQUIREMENTS),
        environ=BARE_PIP,
    )  # fmt: skip
    assert resolved.get("horovod") == "0.28.1"
    assert_pinned(resolved)


@pytest.mark.slow
def test_the_cuda_pins_resolve_against_the_package_index(tmp_path: Path) -> None:
    """Without downloading the wheels: fast-deps reads each wheel's metadata with HTTP range
    requests (about 10 s; torch's wheel alone is 527 MB). Horovod, built by `make horovod`
    and never on the index, is left out."""
    requirements = tmp_path / "requirements.txt"
    lines = REQUIREMENTS.read_text().splitlines()
    requirements.write_text("\n".join(line for line in lines if not line.startswith("horovod")))
    resolved = resolve(
        "--only-binary=:all:", "--use-feature=fast-deps", "--no-cache-dir",
        "--requirement", str(requirements), "--requirement", str(CUDA_REQUIREMENTS),
        "torch===2.13.0",
        environ=dict(os.environ),
    )  # fmt: skip
    assert_pinned(resolved)


def test_a_cuda_image_without_its_wheels_is_refused_before_docker_runs(tmp_path: Path) -> None:
    tool = tmp_path / "docker"
    tool.write_text(f"#!/bin/sh\ntouch {tmp_path / 'docker-ran'}\n")
    tool.chmod(0o755)
    offline = {**BARE_PIP, "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(tmp_path / "empty")}
    (tmp_path / "empty").mkdir()
    result = make(
        "build", "IMAGES=dnn", "DNN_VARIANT=cuda", f"WHEELS={tmp_path / 'wheels'}",
        f"CONTAINER_TOOL={tool}",
        environ=offline,
    )  # fmt: skip
    assert result.returncode == 2, result.stdout + result.stderr
    assert (
        "make wheels-dnn: pip could not fetch torch 2.13.0's CUDA build and NVIDIA's runtime "
        f"wheels (about 3 GB) into {tmp_path / 'wheels' / 'dnn-cuda'}"
    ) in result.stdout, result.stdout + result.stderr
    assert not (tmp_path / "docker-ran").exists()
