"""`smtune study STUDY ...`: the study's command line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from smtune.containers.channel_option import channel_paths
from smtune.containers.cli import add_backend_options

if TYPE_CHECKING:
    from smtune.tuning.study.model import Study


def add_command(commands: argparse._SubParsersAction) -> None:
    study = commands.add_parser(
        "study",
        help="the baseline and the Hyperband tuning job at several cluster sizes, and a report",
        description="Run a study: the untuned baseline at every cluster size, the tuning job "
        "at every size, then report.md, report.html and study.json in --out.",
    )
    study.add_argument("study", type=Path, help="the study's YAML file")
    study.add_argument(
        "--channel",
        action="append",
        default=[],
        metavar="NAME=DIR",
        help="local data for a channel of the tuning job (repeat for each)",
    )
    study.add_argument("--out", type=Path, required=True, help="folder for jobs, journal, report")
    study.add_argument(
        "--on",
        choices=["local", "sagemaker"],
        default="local",
        help="run the jobs here (default), or submit them to SageMaker and wait",
    )
    add_backend_options(study)
    study.add_argument(
        "--sizes", type=_sizes, metavar="N,N", help="a subset of the study's sizes, e.g. 1,2"
    )
    study.add_argument(
        "--max-jobs", type=_count, metavar="N", help="local: fewer tuning jobs than the spec's"
    )
    study.add_argument("--resume", action="store_true", help="continue the study in --out")
    study.add_argument("--region", help="--on sagemaker: AWS region (default: boto3's)")
    study.add_argument("--registry", help="--on sagemaker: where catalogue images live")
    study.set_defaults(handler=_study)


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer: must be >= 1") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is out of range: must be >= 1")
    return value


def _sizes(text: str) -> tuple[int, ...]:
    return tuple(_count(part) for part in text.split(","))


def _study(args: argparse.Namespace) -> int:
    from smtune.tuning.study.model import read
    from smtune.tuning.study.run import check_inputs

    study = read(args.study)
    given = channel_paths(args.channel)
    sizes = args.sizes or study.sizes
    if args.on == "sagemaker":
        from smtune.containers.lock import out_folder
        from smtune.tuning.study.on_sagemaker import run_on_sagemaker

        with out_folder(args.out):  # its report is written there once the jobs end
            return run_on_sagemaker(study, sizes, args)
    check_inputs(study, given, sizes)
    return _local(args, study, given, sizes)


def _resume(args: argparse.Namespace) -> str:
    return (
        f"Continue with: smtune study {args.study} --out {args.out} --resume (and the same "
        "--channel options); finished steps and jobs are kept"
    )


def _local(
    args: argparse.Namespace, study: Study, given: dict[str, Path], sizes: tuple[int, ...]
) -> int:
    from smtune.containers.cli import backend
    from smtune.containers.lock import out_folder
    from smtune.tuning.rehearsal.runner import RehearsalError
    from smtune.tuning.study import report
    from smtune.tuning.study.run import StudyRun, open_journal

    runner = backend(args)
    # Before the journal is read or a step's folder touched: one run into --out at a time.
    with out_folder(args.out):
        journal = open_journal(study, args.out, args.resume)
        try:
            result = StudyRun(
                study,
                given,
                args.out,
                journal,
                runner,
                sizes,
                args.max_jobs,
                on_progress=lambda line: print(line, flush=True),
            ).run()
        except KeyboardInterrupt:
            print(f"smtune: interrupted; nothing is left running. {_resume(args)}", file=sys.stderr)
            return 130
        except RehearsalError as error:  # what SageMaker would have wasted money on
            print(f"smtune: study stopped: {error}\n{_resume(args)}", file=sys.stderr)
            return int(error.exit_code)  # as `rehearse` exits (containers.errors)
        finally:
            journal.close()
    for path in report.write(study, result, args.out):
        print(f"wrote {path}", file=sys.stderr)
    return 0
