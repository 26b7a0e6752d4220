"""The SM_* variables of script mode, checked against sagemaker-training's own Environment."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from smtune.containers.local.layout import ChannelSource, lay_out_host
from smtune.entrypoints.contract.config import S3DistributionType, read_resource_config
from smtune.entrypoints.contract.paths import ContainerPaths
from smtune.entrypoints.contract.topology import Topology
from smtune.entrypoints.script.environment import (
    Machine,
    Master,
    launch_variables,
    sm_variables,
    training_env,
)
from smtune.entrypoints.script.settings import ScriptSettings, read_raw

HOSTS = ("algo-1", "algo-2", "algo-3")
HYPERPARAMETERS = {  # as SDK v2 writes them
    "sagemaker_program": '"train.py"',
    "sagemaker_submit_directory": '"s3://bucket/job/source/sourcedir.tar.gz"',
    "sagemaker_container_log_level": "20",
    "sagemaker_job_name": '"job-1"',
    "sagemaker_region": '"eu-west-1"',
    "sagemaker_torch_distributed_enabled": "true",
    "sagemaker_instance_type": '"local"',
    "epochs": "3",
    "lr": "0.1",
    "optimizer": '"adam"',
    "batch-size": "32",
}


@pytest.fixture
def tree(tmp_path: Path) -> ContainerPaths:
    data = tmp_path / "src"
    channels = {}
    for name in ("train", "validation"):
        (data / name).mkdir(parents=True)
        (data / name / "part-0.csv").write_text("1,2\n")
        channels[name] = ChannelSource(
            name, data / name, S3DistributionType.FULLY_REPLICATED, "text/csv"
        )
    return lay_out_host(tmp_path / "job", HOSTS, "algo-2", channels, HYPERPARAMETERS)


def toolkit_variables(tree: ContainerPaths) -> dict[str, str]:
    """sagemaker-training's to_env_vars() on `tree`, in a fresh process: it computes its
    paths at import time from SAGEMAKER_BASE_DIR."""
    pytest.importorskip("sagemaker_training")
    probe = textwrap.dedent(
        """
        import json
        from sagemaker_training import environment
        print(json.dumps(environment.Environment().to_env_vars()))
        """
    )
    output = subprocess.run(
        [sys.executable, "-c", probe],
        env={"SAGEMAKER_BASE_DIR": str(tree.root), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return dict(json.loads(output.stdout.strip().splitlines()[-1]))


def ours(tree: ContainerPaths) -> dict[str, str]:
    settings = ScriptSettings.from_raw(read_raw(tree))
    return sm_variables(tree, settings, Machine.here(), environ={})


def test_every_sm_variable_is_the_toolkits(tree: ContainerPaths) -> None:
    theirs, mine = toolkit_variables(tree), ours(tree)
    assert sorted(mine) == sorted(theirs)
    different = {k: (mine[k], theirs[k]) for k in mine if k != "SM_TRAINING_ENV"}
    assert {k: v for k, v in different.items() if v[0] != v[1]} == {}
    assert json.loads(mine["SM_TRAINING_ENV"]) == json.loads(theirs["SM_TRAINING_ENV"])


def test_the_variables_a_script_reads_most(tree: ContainerPaths) -> None:
    mine = ours(tree)
    assert mine["SM_MODEL_DIR"] == str(tree.model)
    assert mine["SM_CHANNEL_TRAIN"] == str(tree.channel("train"))
    assert json.loads(mine["SM_CHANNELS"]) == ["train", "validation"]
    assert json.loads(mine["SM_HOSTS"]) == list(HOSTS)
    assert mine["SM_CURRENT_HOST"] == "algo-2"
    assert json.loads(mine["SM_HPS"]) == {"batch-size": 32, "epochs": 3, "lr": 0.1,
                                          "optimizer": "adam"}  # fmt: skip
    assert mine["SM_HP_OPTIMIZER"] == "adam" and mine["SM_HP_LR"] == "0.1"
    assert json.loads(mine["SM_USER_ARGS"]) == [
        "--batch-size", "32", "--epochs", "3", "--lr", "0.1", "--optimizer", "adam",
    ]  # fmt: skip
    assert mine["SM_USER_ENTRY_POINT"] == "train.py" and mine["SM_MODULE_NAME"] == "train"
    assert json.loads(mine["SM_FRAMEWORK_PARAMS"]) == {
        "sagemaker_instance_type": "local",
        "sagemaker_torch_distributed_enabled": True,
    }
    assert (
        training_env(tree, ScriptSettings.from_raw(read_raw(tree)), Machine(2, 0), {})["is_master"]
        is False
    )


def test_master_is_the_leaders_name_and_7777_unless_the_process_backend_gives_ports(
    tree: ContainerPaths,
) -> None:
    resource = read_resource_config(tree)
    on_sagemaker = Topology.from_environment(resource, {})
    assert Master.of(on_sagemaker, {}) == Master("algo-1", 7777)
    local = {
        "SMTUNE_HOST_ADDRESSES": json.dumps({h: "127.0.0.1" for h in HOSTS}),
        "SMTUNE_PORT_BASE": "23000",
    }
    here = Topology.from_environment(resource, local)
    assert Master.of(here, local) == Master("127.0.0.1", 23002)
    settings = ScriptSettings.from_raw(read_raw(tree))
    variables = launch_variables(settings, here, Master.of(here, local))
    assert (variables["MASTER_ADDR"], variables["MASTER_PORT"]) == ("127.0.0.1", "23002")
    assert variables["SAGEMAKER_JOB_NAME"] == "job-1" and variables["CURRENT_HOST"] == "algo-2"
    assert variables["NCCL_SOCKET_IFNAME"] == variables["GLOO_SOCKET_IFNAME"] == "eth0"
