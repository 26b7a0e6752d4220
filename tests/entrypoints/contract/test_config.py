"""Reading what SageMaker writes under /opt/ml, from trees laid out as local mode writes them."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from smtune.containers.local.layout import ChannelSource, lay_out_host
from smtune.entrypoints.contract.config import (
    S3DistributionType,
    TrainingEnvironment,
    read_hyperparameters,
    read_resource_config,
)
from smtune.entrypoints.contract.errors import PlatformError, UserError
from smtune.entrypoints.contract.paths import ContainerPaths

HOSTS = ("algo-1", "algo-2")


@pytest.fixture
def tree(tmp_path: Path) -> ContainerPaths:
    data = tmp_path / "src"
    for name in ("a.csv", "b.csv", "c.csv"):
        (data / "train").mkdir(parents=True, exist_ok=True)
        (data / "train" / name).write_text("1,2\n")
    channels = {
        "train": ChannelSource(
            "train", data / "train", S3DistributionType.SHARDED_BY_S3_KEY, "text/csv"
        )
    }
    hyperparameters = {"num_round": "10", "_tuning_objective_metric": "validation:auc"}
    return lay_out_host(tmp_path / "job", HOSTS, "algo-2", channels, hyperparameters)


def test_paths_default_to_opt_ml_and_follow_sagemaker_base_dir() -> None:
    assert ContainerPaths.from_environment({}).root == Path("/opt/ml")
    paths = ContainerPaths.from_environment({"SAGEMAKER_BASE_DIR": "/x"})
    assert paths.failure == Path("/x/output/failure")
    assert paths.channel("train") == Path("/x/input/data/train")
    assert paths.hyperparameters == Path("/x/input/config/hyperparameters.json")


def test_environment_reads_back_what_local_mode_wrote(tree: ContainerPaths) -> None:
    env = TrainingEnvironment.load(tree)
    assert env.resource.current_host == "algo-2"
    assert env.resource.leader == "algo-1" and env.resource.rank == 1
    assert env.hyperparameters == {"num_round": "10"}  # underscore keys are SageMaker's
    train = env.channels["train"]
    assert train.distribution is S3DistributionType.SHARDED_BY_S3_KEY
    assert train.content_type == "text/csv"
    # Sharded: algo-2 gets every second key, starting with the second.
    assert [p.name for p in train.files()] == ["b.csv"]
    assert env.checkpoint_dir == tree.default_checkpoints
    assert not env.checkpointing  # no checkpointconfig.json: the job has no CheckpointConfig


def test_a_checkpoint_config_turns_checkpointing_on_at_its_local_path(
    tree: ContainerPaths, tmp_path: Path
) -> None:
    tree.checkpoint_config.write_text(json.dumps({"LocalPath": str(tmp_path / "ckpt")}))
    env = TrainingEnvironment.load(tree)
    assert env.checkpointing and env.checkpoint_dir == tmp_path / "ckpt"


def test_leader_is_first_of_sorted_hosts(tmp_path: Path) -> None:
    paths = ContainerPaths(tmp_path)
    paths.config.mkdir(parents=True)
    paths.resource_config.write_text(
        json.dumps({"current_host": "algo-10", "hosts": ["algo-2", "algo-10", "algo-1"]})
    )
    resource = read_resource_config(paths)
    assert resource.leader == "algo-1"
    assert resource.rank == 1  # sorted: algo-1, algo-10, algo-2


@pytest.mark.parametrize(
    ("content", "error", "message"),
    [
        ("{not json", PlatformError, "resourceconfig.json at"),
        ('{"current_host": "algo-3", "hosts": ["algo-1"]}', PlatformError, "is not in hosts"),
        ('{"current_host": "algo-1", "hosts": "algo-1"}', PlatformError, "must be a list"),
    ],
)
def test_bad_resource_config(tmp_path: Path, content: str, error: type, message: str) -> None:
    paths = ContainerPaths(tmp_path)
    paths.config.mkdir(parents=True)
    paths.resource_config.write_text(content)
    with pytest.raises(error, match=message):
        read_resource_config(paths)


def test_malformed_hyperparameters_name_the_line(tmp_path: Path) -> None:
    paths = ContainerPaths(tmp_path)
    paths.config.mkdir(parents=True)
    paths.hyperparameters.write_text('{"num_round": "10",\n "eta": }')
    with pytest.raises(UserError, match=r"not valid JSON \(line 2"):
        read_hyperparameters(paths)


def test_sagemaker_training_toolkit_reads_our_tree_the_same(tree: ContainerPaths) -> None:
    """AWS's own toolkit, pointed at a tree we laid out, sees the same job."""
    pytest.importorskip("sagemaker_training")
    # The toolkit computes its paths at import time from SAGEMAKER_BASE_DIR: a fresh process.
    probe = textwrap.dedent(
        """
        import json
        from sagemaker_training import environment
        env = environment.Environment()
        print(json.dumps({"current_host": env.current_host, "hosts": env.hosts,
                          "master": env.master_hostname, "hps": env.hyperparameters,
                          "channels": env.channel_input_dirs,
                          "types": {k: v.get("S3DistributionType")
                                    for k, v in env.channel_input_dirs and
                                    env.input_data_config.items()}}))
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
    seen = json.loads(output.stdout.strip().splitlines()[-1])
    ours = TrainingEnvironment.load(tree)
    assert seen["current_host"] == ours.resource.current_host
    assert seen["hosts"] == list(ours.resource.hosts)
    assert seen["master"] == ours.resource.leader
    assert seen["hps"] == {"num_round": 10}  # the toolkit also drops underscore keys
    assert seen["channels"] == {"train": str(ours.channels["train"].path)}
    assert seen["types"] == {"train": "ShardedByS3Key"}
