"""Lay out one /opt/ml tree per host, as SageMaker would before starting a job."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from smtune.containers.errors import BadInput
from smtune.entrypoints.contract.config import (
    Channel,
    ResourceConfig,
    S3DistributionType,
    channel_name_problem,
)
from smtune.entrypoints.contract.paths import ContainerPaths

# Linux's ioctl for a copy that shares the source's blocks (btrfs, XFS; fcntl has it in 3.12+).
_FICLONE = getattr(fcntl, "FICLONE", 0x40049409)


@dataclass(frozen=True)
class ChannelSource:
    """A channel's data on this machine: the stand-in for its S3 prefix."""

    name: str
    source: Path
    distribution: S3DistributionType = S3DistributionType.FULLY_REPLICATED
    content_type: str | None = "text/csv"

    def __post_init__(self) -> None:
        if problem := channel_name_problem(self.name):
            raise BadInput(problem)

    def files(self) -> list[Path]:
        if self.source.is_file():
            return [self.source]
        if not self.source.is_dir():
            raise BadInput(f"channel {self.name} source={self.source} does not exist")
        # A link to a file elsewhere counts as the file it points to, as `aws s3 sync`
        # uploads it; it is copied (or linked read-only), never written through.
        return sorted(
            p for p in self.source.rglob("*") if p.is_file() and not p.name.startswith(".")
        )


def host_names(count: int) -> tuple[str, ...]:
    if count < 1:
        raise BadInput(f"hosts={count} is out of range: must be hosts >= 1")
    return tuple(f"algo-{i}" for i in range(1, count + 1))


def files_for_host(channel: ChannelSource, hosts: tuple[str, ...], host: str) -> list[Path]:
    """FullyReplicated: every file. ShardedByS3Key: every N-th object key, by key order.

    SageMaker does not publish how it assigns keys to hosts; dealing them out in key order
    gives each host a near-equal count, and a host may get none when keys < hosts.
    """
    files = channel.files()
    if channel.distribution is S3DistributionType.FULLY_REPLICATED:
        return files
    index = hosts.index(host)
    return files[index :: len(hosts)]


def _place(source: Path, target: Path, link: bool) -> None:
    """`link`: a hard link (no copy of large data), for hosts that see their input
    read-only; else a copy, so that what a host writes never reaches the user's file."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if link:
        try:
            os.link(source, target)
            return
        except OSError:  # another file system, or one without hard links
            pass
    _copy(source, target)


def _copy(source: Path, target: Path) -> None:
    """A reflink where the file system has them (instant, shares blocks until written),
    else a plain copy."""
    with source.open("rb") as read, target.open("xb") as write:
        try:
            fcntl.ioctl(write.fileno(), _FICLONE, read.fileno())
            return
        except OSError:
            pass
    shutil.copyfile(source, target)


def _inside(path: Path, root: Path) -> Path:
    """`path`, once it is known to lie inside `root` with every link followed."""
    if not path.resolve().is_relative_to(root.resolve()):
        raise BadInput(
            f"{path} resolves to {path.resolve()}, outside the host's tree {root}: "
            "the layout writes only inside it"
        )
    return path


def lay_out_host(
    job_dir: Path,
    hosts: tuple[str, ...],
    host: str,
    channels: Mapping[str, ChannelSource],
    hyperparameters: Mapping[str, str],
    keep_checkpoints: bool = False,
    mounted_at: Path | None = None,
    network_interface: str = "eth0",
    checkpoints: bool = False,
    link_inputs: bool = False,
) -> ContainerPaths:
    """Write one host's tree under job_dir/<host>: config files, channel data, empty outputs.

    `checkpoints`: the job has a CheckpointConfig, so checkpointconfig.json is written, as
    SageMaker writes it only then. With `keep_checkpoints` the checkpoint folder survives,
    as a job's checkpoint S3 prefix survives a restart on SageMaker: the job then resumes
    from it. `mounted_at` is where the host sees the tree (/opt/ml in a container), for the
    paths written into config files; `network_interface` is the one its hosts reach each
    other through. `link_inputs`: hard-link the channels' files, for hosts that see their
    input read-only; else they are copies (see _place).
    """
    if host not in hosts:
        raise ValueError(f"host={host} is not one of hosts={list(hosts)}")
    for name in channels:
        if problem := channel_name_problem(name):
            raise BadInput(problem)  # the name is a folder: '..' would lead out
    paths = ContainerPaths(job_dir / host)
    if paths.root.exists():
        for entry in paths.root.iterdir():
            if not (keep_checkpoints and entry == paths.default_checkpoints):
                _remove(entry)
    _inside(paths.config, paths.root).mkdir(parents=True)
    # input/data even without channels: the docker backend mounts it read-only.
    for folder in (paths.data, paths.model, paths.output_data, paths.default_checkpoints):
        _inside(folder, paths.root).mkdir(parents=True, exist_ok=True)
    resource = ResourceConfig(
        current_host=host, hosts=hosts, network_interface_name=network_interface
    )
    # SageMaker writes every hyperparameter value as a JSON string.
    _write_json(paths.hyperparameters, {k: str(v) for k, v in hyperparameters.items()})
    _write_json(paths.resource_config, resource.to_json())
    if checkpoints:
        seen_as = ContainerPaths(mounted_at) if mounted_at is not None else paths
        _write_json(paths.checkpoint_config, {"LocalPath": str(seen_as.default_checkpoints)})
    config = {}
    for name, source in channels.items():
        channel = Channel(
            name=name,
            path=paths.channel(name),
            content_type=source.content_type,
            distribution=source.distribution,
        )
        config[name] = channel.to_json()
        _inside(channel.path, paths.root).mkdir(parents=True)
        root = source.source if source.source.is_dir() else source.source.parent
        for file in files_for_host(source, hosts, host):
            _place(file, _inside(channel.path / file.relative_to(root), paths.root), link_inputs)
    _write_json(paths.input_data_config, config)
    return paths


def _remove(entry: Path) -> None:
    """Remove what an earlier run left; a link (a job may leave one) goes, not its target."""
    if entry.is_dir() and not entry.is_symlink():
        shutil.rmtree(entry)
    else:
        entry.unlink()


def _write_json(path: Path, data: object) -> None:
    path.write_text(json.dumps(data, indent=2) + "\n")
