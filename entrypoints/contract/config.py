"""Typed readers for the JSON files SageMaker writes under /opt/ml/input/config."""

from __future__ import annotations

import enum
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from smtune.entrypoints.contract.errors import PlatformError, TrainingError, UserError
from smtune.entrypoints.contract.paths import ContainerPaths

# SageMaker's rule for ChannelName (the API's pattern and length); "." and ".." match the
# pattern but would name a folder above the channel's, so they are refused too.
CHANNEL_NAME = re.compile(r"[A-Za-z0-9.\-_]{1,64}")


def channel_name_problem(name: str) -> str | None:
    """Why `name` cannot be a channel's name, or None when it can."""
    if CHANNEL_NAME.fullmatch(name) and name not in (".", ".."):
        return None
    return (
        f"channel name {name!r} is not allowed: must be 1-64 characters of A-Z, a-z, 0-9, "
        "'.', '-' and '_', and not '.' or '..'"
    )


class S3DistributionType(enum.Enum):
    FULLY_REPLICATED = "FullyReplicated"
    SHARDED_BY_S3_KEY = "ShardedByS3Key"


@dataclass(frozen=True)
class ResourceConfig:
    """resourceconfig.json: who this host is and who its peers are."""

    current_host: str
    hosts: tuple[str, ...]
    network_interface_name: str = "eth0"
    current_instance_type: str = "local"

    def __post_init__(self) -> None:
        if not self.hosts:
            raise PlatformError("resourceconfig.json lists no hosts: must list at least one")
        if len(set(self.hosts)) != len(self.hosts):
            raise PlatformError(f"resourceconfig.json hosts={list(self.hosts)} repeats a host")
        if self.current_host not in self.hosts:
            raise PlatformError(
                f"current_host={self.current_host!r} is not in hosts={list(self.hosts)}: "
                "resourceconfig.json must list the current host among the hosts"
            )

    @property
    def sorted_hosts(self) -> tuple[str, ...]:
        return tuple(sorted(self.hosts))

    @property
    def leader(self) -> str:
        """The leader is sorted(hosts)[0], as SageMaker's own containers choose it."""
        return self.sorted_hosts[0]

    @property
    def rank(self) -> int:
        return self.sorted_hosts.index(self.current_host)

    @property
    def is_leader(self) -> bool:
        return self.current_host == self.leader

    def to_json(self) -> dict[str, Any]:
        return {
            "current_host": self.current_host,
            "current_instance_type": self.current_instance_type,
            "current_group_name": "homogeneousCluster",
            "hosts": list(self.hosts),
            "instance_groups": [
                {
                    "instance_group_name": "homogeneousCluster",
                    "instance_type": self.current_instance_type,
                    "hosts": list(self.hosts),
                }
            ],
            "network_interface_name": self.network_interface_name,
        }


@dataclass(frozen=True)
class Channel:
    """One entry of inputdataconfig.json, with the folder SageMaker filled for it."""

    name: str
    path: Path
    content_type: str | None = None
    distribution: S3DistributionType = S3DistributionType.FULLY_REPLICATED
    input_mode: str = "File"

    def files(self) -> list[Path]:
        """The data files SageMaker downloaded, in a stable order; hidden files skipped."""
        if not self.path.is_dir():
            return []
        return sorted(
            p
            for p in self.path.rglob("*")
            if p.is_file()
            and not any(part.startswith(".") for part in p.relative_to(self.path).parts)
        )

    def to_json(self) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "TrainingInputMode": self.input_mode,
            "S3DistributionType": self.distribution.value,
            "RecordWrapperType": "None",
        }
        if self.content_type is not None:
            entry["ContentType"] = self.content_type
        return entry


def read_json(path: Path, error: type[TrainingError], what: str) -> Any:
    """Read a config file, turning a missing or malformed file into `error`."""
    try:
        text = path.read_text()
    except FileNotFoundError as exc:
        raise error(f"{what} is missing: expected the file {path}", caused_by=exc) from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise error(
            f"{what} at {path} is not valid JSON (line {exc.lineno}, column {exc.colno}): "
            f"{exc.msg}",
            caused_by=exc,
        ) from exc


def read_resource_config(paths: ContainerPaths) -> ResourceConfig:
    data = read_json(paths.resource_config, PlatformError, "resourceconfig.json")
    if not isinstance(data, dict):
        raise PlatformError(
            f"resourceconfig.json must hold a JSON object, not {type(data).__name__}"
        )
    hosts, current = data.get("hosts"), data.get("current_host")
    if not isinstance(hosts, list) or not all(isinstance(h, str) for h in hosts):
        raise PlatformError(f"resourceconfig.json hosts={hosts!r} must be a list of host names")
    if not isinstance(current, str):
        raise PlatformError(f"resourceconfig.json current_host={current!r} must be a host name")
    return ResourceConfig(
        current_host=current,
        hosts=tuple(hosts),
        network_interface_name=str(data.get("network_interface_name", "eth0")),
        current_instance_type=str(data.get("current_instance_type", "local")),
    )


def read_channels(paths: ContainerPaths) -> dict[str, Channel]:
    """inputdataconfig.json; a job without input channels has no such file."""
    if not paths.input_data_config.exists():
        return {}
    data = read_json(paths.input_data_config, PlatformError, "inputdataconfig.json")
    if not isinstance(data, dict):
        raise PlatformError("inputdataconfig.json must hold a JSON object of channels")
    channels = {}
    for name, entry in data.items():
        if not isinstance(entry, dict):
            raise PlatformError(f"inputdataconfig.json channel {name!r} must be a JSON object")
        distribution = entry.get("S3DistributionType", "FullyReplicated")
        try:
            kind = S3DistributionType(distribution)
        except ValueError as exc:
            allowed = ", ".join(t.value for t in S3DistributionType)
            raise UserError(
                f"channel {name!r} S3DistributionType={distribution!r} is unknown: "
                f"must be one of {allowed}"
            ) from exc
        channels[name] = Channel(
            name=name,
            path=paths.channel(name),
            content_type=entry.get("ContentType"),
            distribution=kind,
            input_mode=entry.get("TrainingInputMode", "File"),
        )
    return channels


def read_hyperparameters_object(paths: ContainerPaths) -> dict[str, Any]:
    """hyperparameters.json as written, every key kept; {} without the file."""
    if not paths.hyperparameters.exists():
        return {}
    data = read_json(paths.hyperparameters, UserError, "hyperparameters.json")
    if not isinstance(data, dict):
        raise UserError(
            f"hyperparameters.json must hold a JSON object of name: value, "
            f"not {type(data).__name__}"
        )
    return data


def read_hyperparameters(paths: ContainerPaths) -> dict[str, str]:
    """hyperparameters.json as SageMaker writes it: every value a string.

    Keys SageMaker or the SDK add for themselves (`_tuning_objective_metric`,
    `sagemaker_program`, ...) are dropped here, so algorithms see only their own.
    """
    return {
        str(key): value if isinstance(value, str) else json.dumps(value)
        for key, value in read_hyperparameters_object(paths).items()
        if not str(key).startswith(("_", "sagemaker_"))
    }


def read_checkpoint_dir(paths: ContainerPaths) -> Path:
    """LocalPath from checkpointconfig.json, else /opt/ml/checkpoints."""
    if not paths.checkpoint_config.exists():
        return paths.default_checkpoints
    data = read_json(paths.checkpoint_config, PlatformError, "checkpointconfig.json")
    local = data.get("LocalPath") if isinstance(data, dict) else None
    return Path(local) if local else paths.default_checkpoints


@dataclass(frozen=True)
class TrainingEnvironment:
    """Everything SageMaker told this host, read once at start-up."""

    paths: ContainerPaths
    resource: ResourceConfig
    channels: dict[str, Channel]
    hyperparameters: dict[str, str]
    checkpoint_dir: Path
    #: The job has a CheckpointConfig: SageMaker writes checkpointconfig.json only then, and
    #: only then does anything keep the checkpoint folder for a later job to resume from.
    checkpointing: bool = False

    @classmethod
    def load(cls, paths: ContainerPaths) -> TrainingEnvironment:
        return cls(
            paths=paths,
            resource=read_resource_config(paths),
            channels=read_channels(paths),
            hyperparameters=read_hyperparameters(paths),
            checkpoint_dir=read_checkpoint_dir(paths),
            checkpointing=paths.checkpoint_config.exists(),
        )

    def required_channel(self, name: str) -> Channel:
        """The channel an algorithm cannot train without, or a UserError that says so."""
        if name not in self.channels:
            others = ", ".join(sorted(self.channels)) or "none"
            raise UserError(f"channel {name} is required: this job's channels are {others}")
        return self.channels[name]
