"""`smtune tune ...`: plan (offline) a tuning job from its spec file."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from smtune.containers.channel_option import channel_paths
from smtune.containers.cli import add_backend_options
from smtune.containers.errors import BadInput, job_exit_code
from smtune.tuning.report import plan_summary

if TYPE_CHECKING:
    from smtune.tuning.plan import TuningPlan


def add_commands(commands: argparse._SubParsersAction) -> None:
    tune = commands.add_parser("tune", help="tuning jobs: plan them from one spec file")
    actions = tune.add_subparsers(dest="action", required=True)
    plan = actions.add_parser(
        "plan",
        help="validate a spec offline; print a summary and the CreateHyperParameterTuningJob "
        "request",
    )
    plan.add_argument("spec", type=Path, help="the tuning job's YAML file")
    plan.add_argument("--json", action="store_true", help="print only the request, as JSON")
    plan.add_argument("--registry", help="where catalogue images live (default: $REGISTRY)")
    plan.add_argument("--tag", default="0.1.0", help="tag of catalogue images")
    plan.add_argument(
        "--region", help="a script's sagemaker_region (default: $AWS_REGION, $AWS_DEFAULT_REGION)"
    )
    plan.set_defaults(handler=_plan)

    submit = actions.add_parser("submit", help="plan, then create the tuning job on SageMaker")
    submit.add_argument("spec", type=Path)
    submit.add_argument("--registry", help="where catalogue images live (default: $REGISTRY)")
    submit.add_argument("--tag", default="0.1.0")
    submit.add_argument("--wait", action="store_true", help="poll until the job ends")
    submit.add_argument("--region", help="AWS region (default: boto3's)")
    submit.set_defaults(handler=_submit)
    rehearse = actions.add_parser(
        "rehearse",
        help="run the whole tuning job here, as local multi-host jobs, before paying for it",
    )
    rehearse.add_argument("spec", type=Path)
    add_backend_options(rehearse)
    rehearse.add_argument(
        "--channel",
        action="append",
        default=[],
        metavar="NAME=DIR",
        help="local data for a channel of the spec (repeat for each)",
    )
    rehearse.add_argument(
        "--out", type=Path, default=Path("rehearsals"), help="folder for the jobs' trees and logs"
    )
    rehearse.add_argument("--journal", type=Path, help="SQLite journal (default: OUT/NAME.db)")
    rehearse.add_argument("--resume", action="store_true", help="continue from the journal")
    rehearse.add_argument("--max-jobs", type=_count, help="fewer jobs than the spec's max_jobs")
    rehearse.add_argument("--max-parallel", type=_count, help="jobs at once (default: the spec's)")
    rehearse.add_argument(
        "--brackets",
        choices=["asha", "hyperband"],
        default="asha",
        help="asha: one bracket from MinResource, as AWS describes AMT's Hyperband (default); "
        "hyperband: Hyperband's weighted brackets, which let some jobs run longer",
    )
    rehearse.add_argument("--summary-json", type=Path, help="write the outcome as JSON")
    rehearse.add_argument("--report", type=Path, help="write plots and a Markdown summary here")
    rehearse.add_argument(
        "--warm-start-from",
        type=Path,
        nargs="+",
        action="extend",
        default=[],
        metavar="JOURNAL",
        help="journals of earlier rehearsals: the parents the spec's warm_start names",
    )
    rehearse.set_defaults(handler=_rehearse)
    for name, text, handler in [
        ("status", "describe a tuning job", _status),
        ("stop", "stop a tuning job and its training jobs", _stop),
        ("analyze", "one row per training job: hyperparameters, objective, time, bill", _analyze),
    ]:
        action = actions.add_parser(name, help=text)
        action.add_argument("name", help="the tuning job's name")
        action.add_argument("--region", help="AWS region (default: boto3's)")
        action.set_defaults(handler=handler)
        if name == "analyze":
            action.add_argument("--csv", type=Path, help="write the table as CSV")
            action.add_argument("--plot", type=Path, help="write a PNG of objective over time")


def _count(text: str) -> int:
    """A count of jobs: argparse names the option with the message (exit 2)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an integer: must be an integer >= 1"
        ) from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is out of range: must be an integer >= 1")
    return value


def _plan(args: argparse.Namespace) -> int:
    from smtune.tuning.planning.planner import plan
    from smtune.tuning.request import build_request
    from smtune.tuning.spec import read

    loaded = read(args.spec)
    region, region_variable = _region(args.region)
    checked = plan(
        loaded.spec, registry=args.registry, tag=args.tag, source=str(args.spec), region=region
    )
    definition = checked.definitions[0]  # the script is the tuning job's, shared
    # What came from the environment, said out loud: the request depends on it.
    names = set(loaded.variables)
    if definition.script is not None and region_variable:
        names.add(region_variable)  # a script's sagemaker_region
    written = {loaded.spec.image, *(d.image for d in loaded.spec.definitions or [] if d.image)}
    at_registry = any(
        d.image_uri not in written and not d.placeholder_image for d in checked.definitions
    )
    if args.registry is None and at_registry:
        names.add("REGISTRY")  # a catalogue image, at $REGISTRY
    variables = f"{', '.join(sorted(names))} (from the environment)" if names else ""
    request = json.dumps(build_request(checked), indent=2)
    if args.json:
        print(request)
        if variables:
            print(f"variables: {variables}", file=sys.stderr)
    else:
        print(plan_summary(checked, variables))
        print("\nCreateHyperParameterTuningJob request:")
        print(request)
    for warning in checked.warnings:
        print(f"WARNING: {warning}", file=sys.stderr)
    return 0


def _region(given: str | None) -> tuple[str | None, str | None]:
    """The region a script's job names (sagemaker_region), and the variable it came from."""
    if given:
        return given, None
    for variable in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        if os.environ.get(variable):
            return os.environ[variable], variable
    return None, None


def _submit(args: argparse.Namespace) -> int:
    from smtune.tuning import sagemaker
    from smtune.tuning.planning.planner import plan
    from smtune.tuning.spec import load

    region, _ = _region(args.region)
    checked = plan(
        load(args.spec), registry=args.registry, tag=args.tag, source=str(args.spec), region=region
    )
    for warning in checked.warnings:
        print(f"WARNING: {warning}", file=sys.stderr)
    sm = sagemaker.client(args.region)
    scripted = any(d.script is not None for d in checked.definitions)
    s3 = sagemaker.s3_client(args.region) if scripted else None
    print(sagemaker.submit(sm, checked, s3))
    if not args.wait:
        return 0
    final = sagemaker.wait(
        sm, checked.name, on_poll=lambda d: print(sagemaker.status_line(d), flush=True)
    )
    return job_exit_code(sagemaker.status(final).ended_as())


def _status(args: argparse.Namespace) -> int:
    from smtune.tuning import sagemaker

    print(sagemaker.status_line(sagemaker.describe(sagemaker.client(args.region), args.name)))
    return 0


def _stop(args: argparse.Namespace) -> int:
    from smtune.tuning import sagemaker

    sagemaker.stop(sagemaker.client(args.region), args.name)
    print(f"stopping {args.name}")
    return 0


def _analyze(args: argparse.Namespace) -> int:
    from smtune.tuning import report, sagemaker

    sm = sagemaker.client(args.region)
    description = sagemaker.describe(sm, args.name)
    objective = sagemaker.objective(description)
    for line in sagemaker.warm_start_lines(description):
        print(line)
    frame = sagemaker.analytics(sm, args.name)
    print(frame.to_string(index=False) if not frame.empty else "no training jobs yet")
    completion = sagemaker.completion_line(description)
    if completion:
        print(completion)
    best = report.best_job(frame, objective.direction.value) if not frame.empty else None
    if best is not None:
        print(
            f"best: {best['TrainingJobName']} {objective.metric} = {best['FinalObjectiveValue']:g}"
        )
    if not frame.empty:
        print(f"billable instance-seconds: {frame['BillableInstanceSeconds'].sum():,.0f}")
    compared = report.by_definition(frame, objective.direction.value)
    if compared:
        print("by training job definition:", *compared, sep="\n")
    if args.csv:
        frame.to_csv(args.csv, index=False)
    if args.plot:
        report.plot(frame, args.plot, f"{args.name}: {objective.metric}")
    return 0


def _rehearse(args: argparse.Namespace) -> int:
    from smtune.containers.lock import out_folder
    from smtune.tuning.journal import exclusive
    from smtune.tuning.planning.planner import plan
    from smtune.tuning.spec import load

    channels = channel_paths(args.channel)
    # A rehearsal runs the image's code here: any registry name serves the catalogue lookup.
    checked = plan(load(args.spec), registry="local", source=str(args.spec))
    out = args.out / checked.name
    out.mkdir(parents=True, exist_ok=True)
    journal_path = args.journal or out / "journal.db"
    # Before anything reads the journal or touches a job's folder: one rehearsal of a
    # journal at a time, and one run writing this tuning job's folder (another journal's).
    with (
        exclusive(journal_path),
        out_folder(out, f"{out} (this tuning job's folder in --out)"),
    ):
        if journal_path.exists() and not args.resume:
            raise BadInput(
                f"--journal {journal_path} exists: pass --resume to continue it, "
                "or remove it to start over"
            )
        return _rehearse_journaled(args, checked, channels, out, journal_path)


def _rehearse_journaled(
    args: argparse.Namespace,
    checked: TuningPlan,
    channels: dict[str, Path],
    out: Path,
    journal_path: Path,
) -> int:
    from smtune.containers.cli import backend
    from smtune.tuning.journal import Journal
    from smtune.tuning.rehearsal import parent_journals
    from smtune.tuning.rehearsal.runner import Rehearsal
    from smtune.tuning.schedulers.bracket_policy import BracketPolicy

    sources = {name: str(folder) for name, folder in channels.items()}
    parents = parent_journals.parents_from_journals(
        checked, sources, args.warm_start_from, str(args.spec)
    )
    journal = Journal(journal_path)
    try:
        rehearsal = Rehearsal(
            checked,
            channels,
            out,
            journal,
            backend(args),
            max_jobs=args.max_jobs,
            max_parallel=args.max_parallel,
            on_progress=lambda line: print(line, flush=True),
            brackets=BracketPolicy(args.brackets),
            parents=parents,
        )
        summary = rehearsal.run()
        if args.report:
            from smtune.entrypoints.contract.metrics import Direction
            from smtune.tuning.amt.brackets import rungs
            from smtune.tuning.rehearsal.watch import report_lines
            from smtune.tuning.report import rehearsal_report

            hyperband = checked.hyperband  # rungs are Hyperband's; other strategies have none
            for path in rehearsal_report(
                journal,
                args.report,
                checked.name,
                rungs(hyperband.min_resource, hyperband.max_resource) if hyperband else (),
                checked.objective.direction is Direction.MAXIMIZE,
                # What completion, retries and the parents (if any) gave.
                report_lines(summary.completion, summary.retries, summary.failures)
                + parent_journals.report_lines(summary),
            ):
                print(f"wrote {path}", file=sys.stderr)
    except KeyboardInterrupt:
        print(
            f"smtune: interrupted; resume with --resume --journal {journal_path}", file=sys.stderr
        )
        return 130
    finally:
        journal.close()
    print(json.dumps(summary.to_json(), indent=2))
    if args.summary_json:
        args.summary_json.write_text(json.dumps(summary.to_json(), indent=2) + "\n")
    return 0
