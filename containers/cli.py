"""`smtune train` and `smtune data`: local multi-host jobs and dataset preparation."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from smtune.containers.catalogue import IMAGES, image
from smtune.containers.channel_option import channel_options, named_once
from smtune.containers.errors import BadInput, ExitCode, job_exit_code
from smtune.containers.local.job import Backend, JobResult, JobSpec, JobStatus
from smtune.containers.local.layout import ChannelSource
from smtune.containers.lock import out_folder
from smtune.containers.script import (
    Distribution,
    ScriptField,
    ScriptSpec,
    encode_text,
    hyperparameter_name_problem,
    script_problems,
)
from smtune.entrypoints.contract.config import S3DistributionType
from smtune.entrypoints.contract.paths import ContainerPaths

logger = logging.getLogger(__name__)

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
    add_backend_options(train)
    train.add_argument("--train", type=Path, help="folder or file: channel train")
    train.add_argument("--validation", type=Path, help="folder or file: channel validation")
    train.add_argument(
        "--channel",
        action="append",
        default=[],
        metavar="NAME=DIR",
        help="folder or file of any channel (repeat for each); FullyReplicated, except that "
        "--distribution applies to a channel named train",
    )
    script = train.add_argument_group(
        "script mode", "run your own training script in the image, as SageMaker's SDK v2 does"
    )
    script.add_argument(
        "--entry-point", metavar="FILE", help="the script, relative to --source-dir"
    )
    script.add_argument(
        "--source-dir",
        type=Path,
        metavar="DIR",
        help="the folder shipped to every host (default: the entry point's folder)",
    )
    script.add_argument(
        "--distribution-mode",
        choices=[d.value for d in Distribution],
        help="how each host launches the script (default: none, once per host)",
    )
    script.add_argument(
        "--processes-per-host", type=int, metavar="N", help="with --distribution-mode mpi"
    )
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


#: How the command line names a script's fields in its errors.
SCRIPT_OPTIONS = {
    ScriptField.ENTRY_POINT: "--entry-point",
    ScriptField.SOURCE_DIR: "--source-dir",
    ScriptField.DISTRIBUTION: "--distribution-mode",
    ScriptField.PROCESSES_PER_HOST: "--processes-per-host",
}


def job_spec(args: argparse.Namespace) -> JobSpec:
    script = script_spec(args)
    channels = _channels(args, needs_train=script is None)
    hyperparameters = dict(args.hp)
    if script is not None:
        hyperparameters = _script_hyperparameters(hyperparameters)
    return JobSpec(
        image=image(args.name),
        host_count=args.hosts,
        channels=channels,
        hyperparameters=hyperparameters,
        out=args.out,
        max_run_s=args.max_run,
        checkpoints=args.checkpoints,
        resume=args.resume,
        script=script,
        region=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION"),
    )


def _channels(args: argparse.Namespace, needs_train: bool) -> dict[str, ChannelSource]:
    """--train, --validation and every --channel; each named once, each existing."""
    given = [
        (f"--{option}", option, getattr(args, option))
        for option in ("train", "validation")
        if getattr(args, option) is not None
    ]
    channels: dict[str, ChannelSource] = {}
    for name, source in named_once(given + channel_options(args.channel)).items():
        distribution = (
            DISTRIBUTIONS[args.distribution]
            if name == "train"
            else S3DistributionType.FULLY_REPLICATED
        )
        channels[name] = ChannelSource(name, source, distribution, args.content_type)
    if needs_train and "train" not in channels:
        raise BadInput(
            f"--train is required: the {args.name} image trains on channel train "
            "(a script, --entry-point, may have any channels or none)"
        )
    return channels


def script_spec(args: argparse.Namespace) -> ScriptSpec | None:
    """The script of --entry-point, checked; None without one."""
    if args.entry_point is None:
        for option in ("source_dir", "distribution_mode", "processes_per_host"):
            if getattr(args, option) is not None:
                flag = "--" + option.replace("_", "-")
                raise BadInput(f"{flag} applies to a script: give --entry-point too")
        return None
    entry = Path(args.entry_point)
    # As SDK v2: without a source folder, the entry point's own folder is shipped.
    source = args.source_dir if args.source_dir is not None else entry.parent
    entry_point = args.entry_point if args.source_dir is not None else entry.name
    distribution = Distribution(args.distribution_mode or Distribution.NONE.value)
    problems = script_problems(
        entry_point, source, distribution, args.processes_per_host, SCRIPT_OPTIONS
    )
    if problems:
        raise BadInput("; ".join(problems))
    return ScriptSpec(entry_point, source, distribution, args.processes_per_host)


def _script_hyperparameters(given: dict[str, str]) -> dict[str, str]:
    """--hp values as SDK v2 sends a script's: JSON (see containers.script.encode_text)."""
    for name in given:
        if problem := hyperparameter_name_problem(name):
            raise BadInput(f"--hp {name}: {problem}")
    return {name: encode_text(value) for name, value in given.items()}


def report(result: JobResult) -> str:
    lines = [f"job {result.status.value} in {result.wall_seconds:.1f} s"]
    lines += [f"  {h.host}: exit {h.exit_code}, log {h.log}" for h in result.hosts]
    lines += [f"  note: {note}" for note in result.notes]
    if result.reason:
        label = "FailureReason" if result.status is JobStatus.FAILED else "stopped by"
        lines.append(f"{label}: {result.reason}")
    return "\n".join(lines)


def add_backend_options(parser: argparse.ArgumentParser) -> None:
    """--backend and the docker backend's options, as `backend` reads them: one set for every
    command that runs local jobs (train, rehearse, study)."""
    parser.add_argument(
        "--backend",
        choices=["process", "docker"],
        default="process",
        help="hosts as processes here, or as containers of --image on a private network",
    )
    parser.add_argument(
        "--image",
        dest="reference",
        metavar="REF",
        help="--backend docker: the image, e.g. smtune-xgboost:0.1.0",
    )
    parser.add_argument("--cpus", type=float, help="docker: CPUs per container")
    parser.add_argument(
        "--memory", help="docker: memory per container, no swap (as on SageMaker), e.g. 4g"
    )


def backend(args: argparse.Namespace) -> Backend:
    if args.backend == "process":
        from smtune.containers.local.process import ProcessBackend

        return ProcessBackend()
    from smtune.containers.local.docker import DockerBackend, engine_available

    if not args.reference:
        raise BadInput("--image is required with --backend docker: e.g. smtune-xgboost:0.1.0")
    if not engine_available():
        raise BadInput("--backend docker needs a running Docker engine: `docker info` failed")
    return DockerBackend(args.reference, cpus=args.cpus, memory=args.memory)


def _train(args: argparse.Namespace) -> int:
    if args.hosts < 1:
        raise BadInput(f"--hosts={args.hosts} is out of range: must be --hosts >= 1")
    spec = job_spec(args)
    runner = backend(args)
    # Before a host's tree is laid out again: one run into an out folder at a time.
    with out_folder(spec.out):
        kept = ContainerPaths(spec.out / spec.hosts[0]).default_checkpoints
        if spec.resume and not (kept.is_dir() and any(kept.iterdir())):
            print(
                f"smtune: warning: --resume found no checkpoint in {kept} (did the earlier run "
                "have --checkpoints?): the job starts from the beginning",
                file=sys.stderr,
            )
        result = runner.run(spec, echo=not args.quiet)
    print(report(result), file=sys.stderr)
    return job_exit_code(result.status)


def _demo(args: argparse.Namespace) -> int:
    from smtune.containers.demo import run_demo, table

    print("Bank marketing, the seed notebook's hyperparameters, 150 rounds:", flush=True)
    rows = run_demo(args.out)
    print(table(rows))
    print(f"Logs and models: {args.out}/<n>-hosts/algo-*")
    every = all(row.status is JobStatus.COMPLETED for row in rows)
    return ExitCode.OK if every else ExitCode.FAILED


def _bank_marketing(args: argparse.Namespace) -> int:
    from smtune.containers.data.bank_marketing import prepare

    prepared = prepare(args.source, args.out, shards=args.shards)
    print(
        f"wrote {prepared.out}: train {prepared.train_rows} rows in {len(prepared.train_files)} "
        f"files, validation {prepared.validation_rows}, test {prepared.test_rows}, "
        f"{len(prepared.features)} features"
    )
    return 0


def _mnist(args: argparse.Namespace) -> int:
    from smtune.containers.data.mnist import prepare

    for name in ("train_limit", "validation_limit"):
        value = getattr(args, name)
        if value is not None and value < 1:
            option = "--" + name.replace("_", "-")
            raise BadInput(f"{option}={value} is out of range: must be {option} >= 1")
    limits = {"train": args.train_limit, "validation": args.validation_limit}
    prepared = prepare(args.source, args.out, limits)
    counts = ", ".join(f"{k} {v} examples" for k, v in prepared.examples.items())
    print(f"wrote {prepared.out}: {counts}")
    return 0
