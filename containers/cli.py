"""`smtune train` and `smtune data`: local multi-host jobs and dataset preparation."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from containers.catalogue import IMAGES, image
from containers.local.job import Backend, JobResult, JobSpec, JobStatus
from containers.local.layout import ChannelSource
from entrypoints.contract.config import S3DistributionType
from entrypoints.contract.paths import ContainerPaths

logger = logging.getLogger(__name__)

EXIT_CODES = {JobStatus.COMPLETED: 0, JobStatus.FAILED: 1, JobStatus.STOPPED: 3}
DISTRIBUTIONS = {
    "replicated": S3DistributionType.FULLY_REPLICATED,
    "sharded": S3DistributionType.SHARDED_BY_S3_KEY,
}


def _hyperparameter(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"--hp {text!r} must be written name=value")
    return name, value


def add_commands(commands: argparse._SubParsersAction) -> None:
    train = commands.add_parser(
        "train",
        help="run a training image's job locally as N hosts",
        description="Run a training job locally as N hosts, as SageMaker would run it.",
    )
    train.add_argument(
        "name", metavar="image", choices=sorted(IMAGES), help="the catalogue image to run"
    )
    train.add_argument("--hosts", type=int, default=1, help="number of hosts (InstanceCount)")
    train.add_argument(
        "--backend",
        choices=["process", "docker"],
        default="process",
        help="hosts as processes here, or as containers of --image on a private network",
    )
    train.add_argument(
        "--image", dest="reference", help="--backend docker: the image, e.g. smtune-xgboost:0.1.0"
    )
    train.add_argument("--cpus", type=float, help="docker: CPUs per container")
    train.add_argument("--memory", help="docker: memory per container, e.g. 4g")
    train.add_argument("--train", type=Path, required=True, help="folder or file: channel train")
    train.add_argument("--validation", type=Path, help="folder or file: channel validation")
    train.add_argument(
        "--distribution",
        choices=sorted(DISTRIBUTIONS),
        default="replicated",
        help="S3DistributionType of the train channel (validation is always replicated)",
    )
    train.add_argument("--content-type", default="text/csv", help="ContentType of the channels")
    train.add_argument(
        "--hp", type=_hyperparameter, action="append", default=[], metavar="NAME=VALUE"
    )
    train.add_argument("--out", type=Path, required=True, help="folder for hosts' trees and logs")
    train.add_argument("--max-run", type=float, help="MaxRuntimeInSeconds")
    train.add_argument(
        "--checkpoints",
        action="store_true",
        help="give the job a CheckpointConfig (checkpoint_s3_uri on SageMaker), so it checkpoints",
    )
    train.add_argument(
        "--resume",
        action="store_true",
        help="resume from the checkpoints of an earlier run in --out (implies --checkpoints)",
    )
    train.add_argument("--quiet", action="store_true", help="don't stream the leader's log")
    train.set_defaults(handler=_train)

    demo = commands.add_parser(
        "demo", help="train bank marketing on 1 and 3 local hosts and compare validation AUC"
    )
    demo.add_argument("--out", type=Path, default=Path("demo-out"))
    demo.set_defaults(handler=_demo)

    data = commands.add_parser("data", help="prepare a dataset as channels")
    datasets = data.add_subparsers(dest="dataset", required=True)
    bank = datasets.add_parser(
        "bank-marketing", help="UCI bank marketing, preprocessed as the seed notebook did"
    )
    bank.add_argument("--source", type=Path, help="bank-additional-full.csv or the UCI zip")
    bank.add_argument("--out", type=Path, required=True)
    bank.add_argument("--shards", type=int, default=1, help="train files (for ShardedByS3Key)")
    bank.set_defaults(handler=_bank_marketing)
    mnist = datasets.add_parser(
        "mnist", help="MNIST or Fashion-MNIST IDX files as channels train and validation"
    )
    mnist.add_argument(
        "--source", type=Path, help="folder of the 4 IDX files (default: Debian's Fashion-MNIST)"
    )
    mnist.add_argument("--out", type=Path, required=True)
    mnist.add_argument("--train-limit", type=int, help="keep the first N train examples")
    mnist.add_argument("--validation-limit", type=int, help="keep the first N validation examples")
    mnist.set_defaults(handler=_mnist)


def job_spec(args: argparse.Namespace) -> JobSpec:
    channels = {
        "train": ChannelSource(
            "train", args.train, DISTRIBUTIONS[args.distribution], args.content_type
        )
    }
    if args.validation is not None:
        channels["validation"] = ChannelSource(
            "validation", args.validation, S3DistributionType.FULLY_REPLICATED, args.content_type
        )
    for channel in channels.values():
        if not channel.source.exists():
            raise ValueError(f"--{channel.name}={channel.source} does not exist")
    return JobSpec(
        image=image(args.name),
        host_count=args.hosts,
        channels=channels,
        hyperparameters=dict(args.hp),
        out=args.out,
        max_run_s=args.max_run,
        checkpoints=args.checkpoints,
        resume=args.resume,
    )


def report(result: JobResult) -> str:
    lines = [f"job {result.status.value} in {result.wall_seconds:.1f} s"]
    lines += [f"  {h.host}: exit {h.exit_code}, log {h.log}" for h in result.hosts]
    lines += [f"  note: {note}" for note in result.notes]
    if result.reason:
        label = "FailureReason" if result.status is JobStatus.FAILED else "stopped by"
        lines.append(f"{label}: {result.reason}")
    return "\n".join(lines)


def backend(args: argparse.Namespace) -> Backend:
    if args.backend == "process":
        from containers.local.process import ProcessBackend

        return ProcessBackend()
    from containers.local.docker import DockerBackend, engine_available

    if not args.reference:
        raise ValueError("--image is required with --backend docker: e.g. smtune-xgboost:0.1.0")
    if not engine_available():
        raise ValueError("--backend docker needs a running Docker engine: `docker info` failed")
    return DockerBackend(
        args.reference, cpus=getattr(args, "cpus", None), memory=getattr(args, "memory", None)
    )


def _train(args: argparse.Namespace) -> int:
    if args.hosts < 1:
        raise ValueError(f"--hosts={args.hosts} is out of range: must be --hosts >= 1")
    spec = job_spec(args)
    kept = ContainerPaths(spec.out / spec.hosts[0]).default_checkpoints
    if spec.resume and not (kept.is_dir() and any(kept.iterdir())):
        print(
            f"smtune: warning: --resume found no checkpoint in {kept} (did the earlier run "
            "have --checkpoints?): the job starts from the beginning",
            file=sys.stderr,
        )
    result = backend(args).run(spec, echo=not args.quiet)
    print(report(result), file=sys.stderr)
    return EXIT_CODES[result.status]


def _demo(args: argparse.Namespace) -> int:
    from containers.demo import run_demo, table

    print("Bank marketing, the seed notebook's hyperparameters, 150 rounds:", flush=True)
    rows = run_demo(args.out)
    print(table(rows))
    print(f"Logs and models: {args.out}/<n>-hosts/algo-*")
    return 0 if all(row.status is JobStatus.COMPLETED for row in rows) else 1


def _bank_marketing(args: argparse.Namespace) -> int:
    from containers.data.bank_marketing import prepare

    prepared = prepare(args.source, args.out, shards=args.shards)
    print(
        f"wrote {prepared.out}: train {prepared.train_rows} rows in {len(prepared.train_files)} "
        f"files, validation {prepared.validation_rows}, test {prepared.test_rows}, "
        f"{len(prepared.features)} features"
    )
    return 0


def _mnist(args: argparse.Namespace) -> int:
    from containers.data.mnist import prepare

    for name in ("train_limit", "validation_limit"):
        value = getattr(args, name)
        if value is not None and value < 1:
            option = "--" + name.replace("_", "-")
            raise ValueError(f"{option}={value} is out of range: must be {option} >= 1")
    limits = {"train": args.train_limit, "validation": args.validation_limit}
    prepared = prepare(args.source, args.out, limits)
    counts = ", ".join(f"{k} {v} examples" for k, v in prepared.examples.items())
    print(f"wrote {prepared.out}: {counts}")
    return 0
