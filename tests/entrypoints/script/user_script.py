"""A user's training script written for SageMaker's PyTorch container, used unchanged by the
script-mode tests (they copy it into the job's source folder as train.py).

It reads its hyperparameters with argparse and SageMaker's SM_* variables, joins its peers
the way its distribution allows (torchrun's variables, Horovod, or SM_HOSTS with
MASTER_ADDR when run once per host), sums every rank's number, writes the model on rank 0
and prints one metric line there. `--behaviour` makes it fail or hang, for the failure and
stop tests; `--on_host` limits that to one host.
"""

import argparse
import json
import os
import signal
import sys
import time
from pathlib import Path

parser = argparse.ArgumentParser()
parser.add_argument("--epochs", type=int, default=1)
parser.add_argument("--lr", type=float, default=0.1)
parser.add_argument("--optimizer", default="sgd")
parser.add_argument("--behaviour", default="train")
parser.add_argument("--on_host", default="")
args = parser.parse_args()

host = os.environ["SM_CURRENT_HOST"]
mine = args.on_host in ("", host)
if mine and args.behaviour == "exit3":
    print("boom: the data is bad", file=sys.stderr)
    sys.exit(3)
if mine and args.behaviour == "sigkill":
    os.kill(os.getpid(), signal.SIGKILL)
if args.behaviour == "finish-apart":  # no collective: one host ends seconds after the other
    time.sleep(3 if mine else 0)
    print(f"done on {host}", flush=True)
    sys.exit(0)
if args.behaviour in ("sleep", "ignore-sigterm"):
    if args.behaviour == "ignore-sigterm":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    print(f"ready on {host} pid {os.getpid()}", flush=True)
    time.sleep(120)
    sys.exit(0)

import torch  # noqa: E402
import torch.distributed as dist  # noqa: E402

rows = sum(len(p.read_text().splitlines()) for p in Path(os.environ["SM_CHANNEL_TRAIN"]).iterdir())
if "WORLD_SIZE" in os.environ:  # torchrun
    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    allreduce = dist.all_reduce
    how = "torchrun"
elif "HOROVOD_RANK" in os.environ:  # SageMaker's mpi: Horovod
    import horovod.torch as hvd

    hvd.init()
    rank, world = hvd.rank(), hvd.size()

    def allreduce(tensor: torch.Tensor) -> None:
        tensor.copy_(hvd.allreduce(tensor, op=hvd.Sum))

    how = "horovod"
else:  # once per host: the script meets its peers itself
    hosts = json.loads(os.environ["SM_HOSTS"])
    rank, world = hosts.index(host), len(hosts)
    address = f"tcp://{os.environ['MASTER_ADDR']}:{os.environ['MASTER_PORT']}"
    dist.init_process_group("gloo", init_method=address, rank=rank, world_size=world)
    allreduce = dist.all_reduce
    how = "none"
if mine and args.behaviour == "exit3-after-join":
    print("boom after joining", file=sys.stderr)
    sys.exit(3)
total = torch.tensor([float(rank + 1)])
allreduce(total)
if rank == 0:
    model = {"sum": total.item(), "world": world, "rows": rows, "how": how, "args": vars(args)}
    Path(os.environ["SM_MODEL_DIR"], "model.json").write_text(json.dumps(model))
    print(f"epoch=0;loss={args.lr / 2};", flush=True)
if dist.is_initialized():
    dist.destroy_process_group()
