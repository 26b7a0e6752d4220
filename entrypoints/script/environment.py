"""The environment a script runs in: sagemaker-training's SM_* variables and the launch's.

The SM_* names and values are those of sagemaker-training's `Environment.to_env_vars()`
(5.1.4), computed from the same files; tests/entrypoints/script/test_environment.py checks
them against the toolkit itself. Values are text as the toolkit writes them: strings as they
are, anything else compact JSON with sorted keys.

Beyond SM_*, as SageMaker's PyTorch container sets them: MASTER_ADDR and MASTER_PORT (the
leader; on the process backend its local address and a port of the job's block, else the
leader's name and 7777), CURRENT_HOST, SAGEMAKER_JOB_NAME, SAGEMAKER_REGION, NCCL's socket
interface; and gloo's (GLOO_SOCKET_IFNAME), which a script using gloo needs as much.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from smtune.entrypoints.contract.config import read_json
from smtune.entrypoints.contract.errors import PlatformError
from smtune.entrypoints.contract.paths import ContainerPaths
from smtune.entrypoints.contract.topology import PORT_BASE_VARIABLE, Port, Topology
from smtune.entrypoints.script.distribution import MPI, PYTORCH_DDP, TORCH_DISTRIBUTED
from smtune.entrypoints.script.settings import ScriptSettings

logger = logging.getLogger(__name__)

SAGEMAKER_MASTER_PORT = 7777  # SageMaker's PyTorch container's MASTER_PORT
DEFAULT_GROUP = "homogeneousCluster"
# The framework parameters after which sagemaker-training counts this host's instance
# group among the distributed ones (get_distribution_instance_groups_from_resource_config).
_DISTRIBUTING = (
    MPI,
    "sagemaker_parameter_server_enabled",
    "sagemaker_distributed_dataparallel_enabled",
    PYTORCH_DDP,
    "sagemaker_pytorch_xla_multi_worker_enabled",
    "sagemaker_multi_worker_mirrored_strategy_enabled",
    TORCH_DISTRIBUTED,
)


def gpu_count() -> int:
    """GPUs as sagemaker-training counts them (`nvidia-smi --list-gpus`), without torch."""
    if shutil.which("nvidia-smi") is None:
        return 0
    try:
        listing = subprocess.run(
            ["nvidia-smi", "--list-gpus"], capture_output=True, text=True, check=True, timeout=30
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return 0
    return sum(1 for line in listing.splitlines() if line.startswith("GPU "))


@dataclass(frozen=True)
class Machine:
    """What the toolkit reads off the machine rather than the files."""

    cpus: int
    gpus: int

    @classmethod
    def here(cls) -> Machine:
        return cls(cpus=os.cpu_count() or 1, gpus=gpu_count())


def _format(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def training_env(
    paths: ContainerPaths,
    settings: ScriptSettings,
    machine: Machine,
    environ: Mapping[str, str],
) -> dict[str, Any]:
    """sagemaker-training's `dict(Environment())`: every property of its Environment."""
    resource = read_json(paths.resource_config, PlatformError, "resourceconfig.json")
    data_config = (
        read_json(paths.input_data_config, PlatformError, "inputdataconfig.json")
        if paths.input_data_config.exists()
        else {}
    )
    hosts = list(resource["hosts"])
    current_host = resource["current_host"]
    group = resource.get("current_group_name", DEFAULT_GROUP)
    groups_config = resource.get("instance_groups", [])
    groups = {g["instance_group_name"]: g for g in groups_config}
    params = settings.framework_params
    distribution_groups = params.get(
        "sagemaker_distribution_instance_groups",
        [group] if any(params.get(name, False) for name in _DISTRIBUTING) else [],
    )
    if groups_config:
        distribution_hosts = [
            h for g in groups_config if g["instance_group_name"] in distribution_groups
            for h in g["hosts"]
        ]  # fmt: skip
    else:
        distribution_hosts = list(hosts)
    master = distribution_hosts[0] if distribution_hosts else hosts[0]
    model_parallel = environ.get("SM_HP_MP_PARAMETERS")
    program = settings.program
    return {
        "additional_framework_parameters": dict(params),
        "channel_input_dirs": {name: str(paths.channel(name)) for name in data_config},
        "current_host": current_host,
        "current_instance_group": group,
        "current_instance_group_hosts": groups[group]["hosts"] if group in groups else [],
        "current_instance_type": resource.get("current_instance_type", "local"),
        "distribution_hosts": distribution_hosts,
        "distribution_instance_groups": distribution_groups,
        "framework_module": environ.get("SAGEMAKER_TRAINING_MODULE"),
        "hosts": hosts,
        "hyperparameters": dict(settings.hyperparameters),
        "input_config_dir": str(paths.config),
        "input_data_config": data_config,
        "input_dir": str(paths.input),
        "instance_groups": list(groups),
        "instance_groups_dict": groups,
        "is_hetero": len(groups) > 1,
        "is_master": current_host == master,
        # The toolkit's own expression: None when the variable is unset.
        "is_modelparallel_enabled": model_parallel and model_parallel != "{}",
        "is_smddpmprun_installed": False,  # smdistributed is not in these images
        "is_smddprun_installed": False,
        "job_name": environ.get("TRAINING_JOB_NAME"),
        "log_level": settings.log_level,
        "master_hostname": master,
        "model_dir": str(paths.model),
        "module_dir": settings.submit_directory or str(paths.code),
        "module_name": program[:-3] if program.endswith(".py") else program,
        "network_interface_name": resource.get("network_interface_name", "eth0"),
        "num_cpus": machine.cpus,
        "num_gpus": machine.gpus,
        "num_neurons": 0,  # no Neuron devices in these images
        "output_data_dir": str(paths.output_data),
        "output_dir": str(paths.output),
        "output_intermediate_dir": str(paths.output / "intermediate"),
        "resource_config": resource,
        "topology": resource.get("topology", []),
        "user_entry_point": program,
    }


def sm_variables(
    paths: ContainerPaths,
    settings: ScriptSettings,
    machine: Machine,
    environ: Mapping[str, str],
) -> dict[str, str]:
    """The SM_* variables of sagemaker-training's `Environment.to_env_vars()`."""
    env = training_env(paths, settings, machine, environ)
    keys = (
        "hosts", "network_interface_name", "user_entry_point", "resource_config",
        "input_data_config", "output_data_dir", "current_host", "current_instance_type",
        "current_instance_group", "current_instance_group_hosts", "instance_groups",
        "instance_groups_dict", "distribution_instance_groups", "is_hetero", "module_name",
        "log_level", "framework_module", "input_dir", "input_config_dir", "output_dir",
        "num_cpus", "num_gpus", "num_neurons", "model_dir", "module_dir",
        "output_intermediate_dir",
    )  # fmt: skip
    variables: dict[str, Any] = {key: env[key] for key in keys}
    variables |= {
        "hps": env["hyperparameters"],
        "framework_params": env["additional_framework_parameters"],
        "channels": sorted(env["channel_input_dirs"]),
        "training_env": env,
        "user_args": settings.arguments,
    }
    if env["topology"]:
        variables["topology"] = env["topology"]
    variables |= {f"channel_{name}": path for name, path in env["channel_input_dirs"].items()}
    variables |= {f"hp_{name}": value for name, value in env["hyperparameters"].items()}
    return {f"SM_{key.upper()}": _format(value) for key, value in variables.items()}


@dataclass(frozen=True)
class Master:
    """Where rank 0 listens: the leader's address and a port."""

    addr: str
    port: int

    @classmethod
    def of(cls, topology: Topology, environ: Mapping[str, str]) -> Master:
        """The process backend's hosts share this machine: the leader's local address and a
        port of the job's block. Elsewhere (SageMaker, docker) the leader's name and 7777,
        as SageMaker's PyTorch container sets them."""
        leader = topology.resource.leader
        if PORT_BASE_VARIABLE in environ:
            return cls(topology.ip_address(leader), topology.port(Port.TORCH_MASTER))
        return cls(leader, SAGEMAKER_MASTER_PORT)


def launch_variables(
    settings: ScriptSettings, topology: Topology, master: Master
) -> dict[str, str]:
    """The variables SageMaker's PyTorch container sets besides SM_* before it runs a script."""
    interface = topology.resource.network_interface_name
    variables = {
        "MASTER_ADDR": master.addr,
        "MASTER_PORT": str(master.port),
        "CURRENT_HOST": topology.resource.current_host,
        "SAGEMAKER_JOB_NAME": settings.job_name or "",
        "SAGEMAKER_REGION": settings.region or "",
        "NCCL_SOCKET_IFNAME": interface,
        "NCCL_IB_DISABLE": "1",
        "NCCL_DEBUG": "WARN",
        "GLOO_SOCKET_IFNAME": interface,
        "PYTHONUNBUFFERED": "1",
    }
    return variables
