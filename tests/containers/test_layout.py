"""Local mode lays out /opt/ml per host as SageMaker would."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from smtune.containers.local.layout import ChannelSource, files_for_host, host_names, lay_out_host
from smtune.entrypoints.contract.config import S3DistributionType

HOSTS = host_names(3)


@pytest.fixture
def source(tmp_path: Path) -> Path:
    folder = tmp_path / "s3" / "train"
    for i in range(5):
        (folder / f"part-{i}.csv").parent.mkdir(parents=True, exist_ok=True)
        (folder / f"part-{i}.csv").write_text(f"{i},1\n")
    (folder / ".hidden").write_text("not data")
    return folder


def test_sharded_keys_are_dealt_out_in_key_order(source: Path) -> None:
    channel = ChannelSource("train", source, S3DistributionType.SHARDED_BY_S3_KEY)
    shares = {h: [p.name for p in files_for_host(channel, HOSTS, h)] for h in HOSTS}
    assert shares == {
        "algo-1": ["part-0.csv", "part-3.csv"],
        "algo-2": ["part-1.csv", "part-4.csv"],
        "algo-3": ["part-2.csv"],
    }


def test_replicated_gives_every_host_every_file(source: Path) -> None:
    channel = ChannelSource("train", source, S3DistributionType.FULLY_REPLICATED)
    assert all(len(files_for_host(channel, HOSTS, h)) == 5 for h in HOSTS)


def test_config_files_are_written_as_sagemaker_writes_them(source: Path, tmp_path: Path) -> None:
    channels = {"train": ChannelSource("train", source, S3DistributionType.SHARDED_BY_S3_KEY)}
    hyperparameters = {"num_round": 5}
    tree = lay_out_host(
        tmp_path / "job",
        HOSTS,
        "algo-2",
        channels,
        hyperparameters,  # type: ignore[arg-type]
        checkpoints=True,
    )
    assert json.loads(tree.hyperparameters.read_text()) == {"num_round": "5"}  # strings
    resource = json.loads(tree.resource_config.read_text())
    assert resource["current_host"] == "algo-2" and resource["hosts"] == list(HOSTS)
    assert resource["network_interface_name"] == "eth0"
    assert resource["instance_groups"][0]["hosts"] == list(HOSTS)
    assert json.loads(tree.input_data_config.read_text()) == {
        "train": {
            "ContentType": "text/csv",
            "TrainingInputMode": "File",
            "S3DistributionType": "ShardedByS3Key",
            "RecordWrapperType": "None",
        }
    }
    assert json.loads(tree.checkpoint_config.read_text()) == {
        "LocalPath": str(tree.default_checkpoints)
    }
    assert sorted(p.name for p in tree.channel("train").iterdir()) == ["part-1.csv", "part-4.csv"]
    assert tree.model.is_dir() and tree.output_data.is_dir()


def test_checkpointconfig_is_written_only_for_a_job_with_checkpoints(
    source: Path, tmp_path: Path
) -> None:
    channels = {"train": ChannelSource("train", source)}
    tree = lay_out_host(tmp_path / "job", HOSTS, "algo-1", channels, {})
    assert not tree.checkpoint_config.exists()  # as SageMaker, without a CheckpointConfig
    assert tree.default_checkpoints.is_dir()


def test_a_new_layout_clears_the_old_tree_but_may_keep_checkpoints(
    source: Path, tmp_path: Path
) -> None:
    channels = {"train": ChannelSource("train", source)}
    tree = lay_out_host(tmp_path / "job", HOSTS, "algo-1", channels, {})
    (tree.model / "old-model").write_text("x")
    (tree.default_checkpoints / "xgboost-checkpoint.10").write_text("c")
    lay_out_host(tmp_path / "job", HOSTS, "algo-1", channels, {}, keep_checkpoints=True)
    assert not (tree.model / "old-model").exists()
    assert (tree.default_checkpoints / "xgboost-checkpoint.10").exists()
    lay_out_host(tmp_path / "job", HOSTS, "algo-1", channels, {})
    assert not (tree.default_checkpoints / "xgboost-checkpoint.10").exists()


def test_bad_layout_input_is_named(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="hosts=0 is out of range: must be hosts >= 1"):
        host_names(0)
    with pytest.raises(ValueError, match=r"channel train source=.* does not exist"):
        ChannelSource("train", tmp_path / "nowhere").files()


@pytest.mark.parametrize("name", ["../../../../escaped", "a/b", "..", ""])
def test_a_channel_name_sagemaker_refuses_is_refused(
    name: str, source: Path, tmp_path: Path
) -> None:
    rule = r"is not allowed: must be 1-64 characters of A-Z"
    with pytest.raises(ValueError, match=rf"channel name {re.escape(repr(name))} {rule}"):
        ChannelSource(name, source)
    channels = {name: ChannelSource("train", source)}  # the key names the folder
    with pytest.raises(ValueError, match=rule):
        lay_out_host(tmp_path / "job", HOSTS, "algo-1", channels, {})
    assert not (tmp_path / "escaped").exists()


def test_a_link_in_a_channel_brings_its_file_as_a_copy(source: Path, tmp_path: Path) -> None:
    """As `aws s3 sync` uploads what a link points to; the user's file is never written."""
    elsewhere = tmp_path / "elsewhere.csv"
    elsewhere.write_text("0,1\n")
    (source / "part-9.csv").symlink_to(elsewhere)
    channels = {"train": ChannelSource("train", source)}
    tree = lay_out_host(tmp_path / "job", HOSTS, "algo-1", channels, {})
    placed = tree.channel("train") / "part-9.csv"
    assert not placed.is_symlink() and placed.read_text() == "0,1\n"
    assert elsewhere.stat().st_nlink == 1  # a copy, not a hard link


def test_a_layout_never_writes_through_a_link_out_of_its_tree(source: Path, tmp_path: Path) -> None:
    """A job may leave a link in a checkpoint folder its next run keeps."""
    channels = {"train": ChannelSource("train", source)}
    tree = lay_out_host(tmp_path / "job", HOSTS, "algo-1", channels, {}, checkpoints=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    tree.default_checkpoints.rmdir()
    tree.default_checkpoints.symlink_to(elsewhere)
    with pytest.raises(ValueError, match=r"outside the host's tree"):
        lay_out_host(tmp_path / "job", HOSTS, "algo-1", channels, {}, keep_checkpoints=True)
