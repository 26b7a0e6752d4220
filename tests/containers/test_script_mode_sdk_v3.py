"""A PyTorch script under the SageMaker Python SDK v3's own local mode on smtune's DNN image:
`ModelTrainer(training_mode=Mode.LOCAL_CONTAINER, source_code=SourceCode(source_dir=...,
entry_script="train.py"), distributed=Torchrun())` on 2 local instances.

v3 does not use the image's entrypoint: it mounts its own drivers as an `sm_drivers` channel
and the source folder as a `code` channel, and runs every container as `/bin/bash -c
sm_train.sh`; that script writes SM_* variables (its environment.py) and starts its
torchrun_driver.py, which calls `torchrun --nnodes=2 ... train.py`. The image has to carry
bash, python3, pip and torchrun for that, and nothing of smtune's own entrypoint runs.

Runs in .venv-sdk3 (`.venv-sdk3/bin/python -m pytest -m sdk3 tests/containers/
test_script_mode_sdk_v3.py`); skipped elsewhere. Needs the DNN image (`make build IMAGES=dnn`).
"""

from __future__ import annotations

import json
import re
import tarfile
from pathlib import Path

import pytest

ANSI = re.compile(r"\x1b\[[0-9;]*m")
METRIC = "epoch=0;loss=0.025;"
SCRIPT = """\
import argparse
import json
import os
from pathlib import Path

import torch
import torch.distributed as dist

parser = argparse.ArgumentParser()
parser.add_argument("--lr", type=float, default=0.1)
args = parser.parse_args()

dist.init_process_group("gloo")  # torchrun's MASTER_ADDR, RANK, WORLD_SIZE
rank, world = dist.get_rank(), dist.get_world_size()
total = torch.tensor([float(rank + 1)])
dist.all_reduce(total)
seen = {
    "rank": rank,
    "world": world,
    "sum": total.item(),
    "host": os.environ["SM_CURRENT_HOST"],
    "lr": args.lr,
}
Path(os.environ["SM_MODEL_DIR"], f"rank-{rank}.json").write_text(json.dumps(seen))
print(f"allreduce rank={rank} sum={total.item()}", flush=True)
if rank == 0:
    print(f"epoch=0;loss={args.lr / 2};", flush=True)
dist.barrier()  # both ranks wrote their file before either leaves
dist.destroy_process_group()
"""
pytestmark = [
    pytest.mark.sdk3,
    pytest.mark.docker,
    pytest.mark.slow,
    pytest.mark.usefixtures("no_leftover_containers"),
]


@pytest.mark.timeout(600)
def test_model_trainers_torchrun_script_runs_on_two_local_containers(
    dnn_image: str,
    tmp_path: Path,
    fake_aws: None,
    capfd: pytest.CaptureFixture[str],
) -> None:
    pytest.importorskip("sagemaker.train.model_trainer", reason="SDK v3 is not installed here")
    from sagemaker.train.configs import Compute, SourceCode
    from sagemaker.train.distributed import Torchrun
    from sagemaker.train.model_trainer import Mode, ModelTrainer

    source = tmp_path / "source"
    source.mkdir()
    (source / "train.py").write_text(SCRIPT)
    root = tmp_path / "root"  # v3 defaults it to the working directory, read at import
    root.mkdir()
    trainer = ModelTrainer(
        training_mode=Mode.LOCAL_CONTAINER,
        training_image=dnn_image,
        source_code=SourceCode(source_dir=str(source), entry_script="train.py"),
        distributed=Torchrun(),
        compute=Compute(instance_type="local_cpu", instance_count=2),
        hyperparameters={"lr": 0.05},
        base_job_name="smtune-v3",
        local_container_root=str(root),
    )
    trainer.train()  # raises unless docker-compose ended with status 0

    # v3 gathers every container's /opt/ml/model (one shared folder here) into model.tar.gz.
    with tarfile.open(root / "compressed_artifacts" / "model.tar.gz") as model:
        seen = {}
        for name in sorted(model.getnames()):
            member = model.extractfile(name)
            assert member is not None
            seen[name] = json.loads(member.read())
    assert sorted(seen) == ["rank-0.json", "rank-1.json"]
    for rank, result in enumerate(seen[f"rank-{r}.json"] for r in range(2)):
        assert result == {
            "rank": rank,
            "world": 2,
            "sum": 3.0,
            "host": f"algo-{rank + 1}",  # one process per instance, node rank = host order
            "lr": 0.05,
        }

    logs = ANSI.sub("", capfd.readouterr().out)
    # docker-compose prefixes each line with its container, e.g. `algo-1_1  | ...`.
    lines = [
        (re.search(r"algo-\d+", prefix).group(), text.strip())  # type: ignore[union-attr]
        for prefix, bar, text in (line.partition("|") for line in logs.splitlines())
        if bar and re.search(r"algo-\d+", prefix)
    ]
    assert sorted(text for host, text in lines if text.startswith("allreduce ")) == [
        "allreduce rank=0 sum=3.0",
        "allreduce rank=1 sum=3.0",
    ]
    assert [host for host, text in lines if text.startswith(METRIC)] == ["algo-1"]
    assert any("torchrun --nnodes=2" in text for host, text in lines)  # v3's driver ran it
