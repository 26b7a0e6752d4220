"""A user's own training script, run by a smtune image as SageMaker's script mode runs it.

The host side of script mode: which script, from which folder, launched how; and the
hyperparameters SageMaker's Python SDK v2 sends for it (a PyTorch estimator with
`entry_point`, `source_dir` and `distribution`), which the image reads to run the script
instead of its own algorithm. Like the SDK, every value is JSON-encoded: `"train.py"` with its
quotes, `2`, `true`.
"""

from __future__ import annotations

import enum
import io
import json
import logging
import re
import tarfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from smtune.containers.errors import BadInput
from smtune.entrypoints.contract.paths import DEFAULT_ROOT, ContainerPaths

# The hyperparameter names SageMaker's SDK v2 and its framework containers share.
PROGRAM = "sagemaker_program"
SUBMIT_DIRECTORY = "sagemaker_submit_directory"
LOG_LEVEL = "sagemaker_container_log_level"
JOB_NAME = "sagemaker_job_name"
REGION = "sagemaker_region"
INSTANCE_TYPE = "sagemaker_instance_type"
TORCH_DISTRIBUTED = "sagemaker_torch_distributed_enabled"
PYTORCH_DDP = "sagemaker_pytorch_ddp_enabled"
MPI = "sagemaker_mpi_enabled"
MPI_PROCESSES_PER_HOST = "sagemaker_mpi_num_of_processes_per_host"
MPI_OPTIONS = "sagemaker_mpi_custom_mpi_options"
#: Where SageMaker's containers keep the script's folder; the docker backend mounts it there.
CODE_DIR = ContainerPaths(DEFAULT_ROOT).code
#: The archive's name in S3, as the SDK uploads it (`<prefix>/<job>/source/sourcedir.tar.gz`).
ARCHIVE = "sourcedir.tar.gz"
#: The toolkit passes each user hyperparameter to the script as `--name value`, and keeps
#: the `sagemaker_` ones for itself.
RESERVED_PREFIX = "sagemaker_"
_FLAG_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.\-]{0,255}")
# The image's own rule for sagemaker_program (entrypoints/script/source.py): a relative path
# the image can pass to a shell or Python, which neither reads as an option.
_ENTRY_POINT = re.compile(r"[A-Za-z0-9._][A-Za-z0-9._+-]*(/[A-Za-z0-9._+-]+)*")


class Distribution(enum.Enum):
    """How the image launches the script on each host (SDK v2's `distribution`)."""

    NONE = "none"  # once per host
    TORCH_DISTRIBUTED = "torch_distributed"  # torchrun
    # sagemaker_pytorch_ddp_enabled, as SDK v2's _pytorch_distribution_configuration writes
    # it; the images launch it as torch_distributed. (SDK v2.257's PyTorch estimator rewrites
    # pytorchddp into smdistributed dataparallel, a library these images do not carry.)
    PYTORCHDDP = "pytorchddp"
    MPI = "mpi"  # mpirun (Horovod), processes_per_host each


class ScriptField(enum.Enum):
    """The parts of a script's description, for problems named the way the caller spells
    them (`--entry-point` on the command line, `entry_point` in a tuning spec)."""

    ENTRY_POINT = "entry_point"
    SOURCE_DIR = "source_dir"
    DISTRIBUTION = "distribution"
    PROCESSES_PER_HOST = "processes_per_host"


Labels = Mapping[ScriptField, str]
SPEC_LABELS: Labels = {f: f.value for f in ScriptField}


def script_problems(
    entry_point: str,
    source_dir: Path,
    distribution: Distribution,
    processes_per_host: int | None,
    labels: Labels = SPEC_LABELS,
) -> list[str]:
    """Why these cannot be a script's description, each naming the field, value and rule."""
    entry, folder = labels[ScriptField.ENTRY_POINT], labels[ScriptField.SOURCE_DIR]
    problems = []
    if not source_dir.is_dir():
        problems.append(f"{folder}={str(source_dir)!r} is not a folder: must be an existing folder")
    elif not _ENTRY_POINT.fullmatch(entry_point) or ".." in Path(entry_point).parts:
        problems.append(
            f"{entry}={entry_point!r} is not allowed: must be a relative path inside {folder} "
            "(the image runs it from there), of A-Z, a-z, 0-9, '.', '_', '+', '-' and '/', "
            "without '..'"
        )
    elif not (source_dir / entry_point).is_file():
        problems.append(
            f"{entry}={entry_point!r} is not a file in {folder}={str(source_dir)!r}: "
            f"must name a file of {folder}"
        )
    if processes_per_host is not None:
        option = labels[ScriptField.PROCESSES_PER_HOST]
        if distribution is not Distribution.MPI:
            problems.append(
                f"{option}={processes_per_host} applies to {labels[ScriptField.DISTRIBUTION]} "
                f"mpi only, not {distribution.value} (SDK v2 sends it for mpi only)"
            )
        elif processes_per_host < 1:
            problems.append(f"{option}={processes_per_host} is out of range: must be {option} >= 1")
    return problems


def hyperparameter_name_problem(name: str) -> str | None:
    """Why `name` cannot be a script's hyperparameter (it reaches the script as `--name`)."""
    if name.startswith(RESERVED_PREFIX):
        return (
            f"hyperparameter {name!r} is not allowed for a script: names starting with "
            f"{RESERVED_PREFIX!r} are SageMaker's own, set from the script's description"
        )
    if not _FLAG_NAME.fullmatch(name):
        return (
            f"hyperparameter {name!r} is not allowed for a script: it reaches the script as "
            f"--{name}, so it must start with a letter and hold only A-Z, a-z, 0-9, '_', '.', "
            "'-' (at most 256 characters)"
        )
    return None


def encode(value: str | int | float | bool) -> str:
    """A value as SDK v2 sends a script's hyperparameter: JSON (`"adam"`, `10`, `true`)."""
    return json.dumps(value)


def encode_text(text: str) -> str:
    """A value typed on the command line: text that reads as JSON stands for that value
    (`10`, `0.1`, `true`, `"10"`), any other is a string (`adam` becomes `"adam"`)."""
    try:
        json.loads(text)
    except ValueError:
        return encode(text)
    return text


@dataclass(frozen=True)
class ScriptSpec:
    """A user's training script.

    Args:
        entry_point: The file the image runs, relative to `source_dir` (SDK: `entry_point`).
        source_dir: The folder shipped to every host (SDK: `source_dir`).
        distribution: How each host launches it.
        processes_per_host: With MPI: processes on each host; None: the image decides.
        log_level: The container's log level (SDK v2's default: logging.INFO).
    """

    entry_point: str
    source_dir: Path
    distribution: Distribution = Distribution.NONE
    processes_per_host: int | None = None
    log_level: int = logging.INFO

    def __post_init__(self) -> None:
        # Hosts run with their own working directory: the folder must be absolute.
        object.__setattr__(self, "source_dir", self.source_dir.resolve())
        problems = script_problems(
            self.entry_point, self.source_dir, self.distribution, self.processes_per_host
        )
        if problems:
            raise BadInput("; ".join(problems))

    @property
    def file_uri(self) -> str:
        """The folder as a `file://` URI: where a host on this machine fetches it from."""
        return self.source_dir.as_uri()

    def hyperparameters(
        self,
        submit_directory: str | None,
        job_name: str,
        region: str | None = None,
        instance_type: str = "local",
    ) -> dict[str, str]:
        """The hyperparameters SDK v2's PyTorch estimator adds for this script.

        `submit_directory`: where the image fetches the folder (an S3 URI of the archive,
        or `file://`); None where it is already at CODE_DIR (a mount). `region` is left
        out where unknown.
        """
        values: dict[str, str | int | bool] = {PROGRAM: self.entry_point}
        if submit_directory is not None:
            values[SUBMIT_DIRECTORY] = submit_directory
        values[LOG_LEVEL] = self.log_level
        values[JOB_NAME] = job_name
        if region is not None:
            values[REGION] = region
        values.update(self._distribution(instance_type))
        return {name: encode(value) for name, value in values.items()}

    def _distribution(self, instance_type: str) -> dict[str, str | int | bool]:
        # As pytorch/estimator.py `_pytorch_distribution_configuration` writes them.
        match self.distribution:
            case Distribution.TORCH_DISTRIBUTED:
                return {TORCH_DISTRIBUTED: True, INSTANCE_TYPE: instance_type}
            case Distribution.PYTORCHDDP:
                return {PYTORCH_DDP: True, INSTANCE_TYPE: instance_type}
            case Distribution.MPI:
                mpi: dict[str, str | int | bool] = {MPI: True}
                if self.processes_per_host is not None:
                    mpi[MPI_PROCESSES_PER_HOST] = self.processes_per_host
                mpi[MPI_OPTIONS] = ""
                return mpi
        return {}

    def archive(self) -> bytes:
        """The folder as SDK v2 packs it: sourcedir.tar.gz, its entries at the archive's root,
        links followed (what they point to is packed, as the SDK does)."""
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz", dereference=True) as tar:
            for entry in sorted(self.source_dir.iterdir()):
                tar.add(entry, arcname=entry.name)
        return buffer.getvalue()


def job_name(text: str) -> str:
    """A SageMaker training-job name from any text (a folder's name): [a-zA-Z0-9-], <= 63."""
    name = re.sub(r"[^a-zA-Z0-9]+", "-", text).strip("-")[:63].strip("-")
    return name or "smtune-job"
