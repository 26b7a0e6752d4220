"""`smtune train` and `smtune data` as a user runs them."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from smtune.containers.lock import LOCK_FILE
from smtune.tuning.cli import main
from tests.conftest import write_csv
from tests.containers.test_lock import held_in_child


def smtune(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "smtune.tuning.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_train_runs_a_two_host_job_and_streams_the_leaders_metrics(tmp_path: Path) -> None:
    train = write_csv(tmp_path / "train" / "a.csv", 300)
    result = smtune(
        "train",
        "xgboost",
        "--hosts",
        "2",
        "--train",
        str(train.parent),
        "--hp",
        "num_round=4",
        "--hp",
        "objective=binary:logistic",
        "--hp",
        "eval_metric=auc",
        "--out",
        str(tmp_path / "job"),
    )
    assert result.returncode == 0, result.stderr
    metric_lines = [line for line in result.stdout.splitlines() if re.match(r"\[\d+\]\t", line)]
    assert len(metric_lines) == 4 and metric_lines[0].startswith("[0]\ttrain-auc:")
    assert "job Completed" in result.stderr
    assert (tmp_path / "job" / "algo-1" / "model" / "xgboost-model").is_file()
    assert (tmp_path / "job" / "algo-2.log").is_file()


def test_resume_continues_a_run_that_had_checkpoints_and_warns_after_one_that_had_none(
    tmp_path: Path,
) -> None:
    train = write_csv(tmp_path / "train" / "a.csv", 300)
    args = ["train", "xgboost", "--train", str(train.parent), "--hp", "num_round=4"]

    def lines(result: subprocess.CompletedProcess[str]) -> int:
        assert result.returncode == 0, result.stderr
        return len([line for line in result.stdout.splitlines() if re.match(r"\[\d+\]\t", line)])

    assert lines(smtune(*args, "--out", str(tmp_path / "plain"))) == 4
    again = smtune(*args, "--out", str(tmp_path / "plain"), "--resume")
    assert lines(again) == 4  # nothing to resume from: trained anew, and said so
    assert "--resume found no checkpoint" in again.stderr
    assert lines(smtune(*args, "--out", str(tmp_path / "kept"), "--checkpoints")) == 4
    resumed = smtune(*args, "--out", str(tmp_path / "kept"), "--resume")
    assert lines(resumed) == 0  # the final checkpoint: nothing left to train
    assert "resuming from the checkpoint after round 4" in resumed.stdout  # the leader's log
    assert "--resume found no checkpoint" not in resumed.stderr


def test_a_failed_job_exits_1_and_prints_the_failure_reason(tmp_path: Path) -> None:
    train = write_csv(tmp_path / "train" / "a.csv", 50)
    result = smtune(
        "train",
        "xgboost",
        "--train",
        str(train.parent),
        "--hp",
        "num_round=3",
        "--hp",
        "eta=1.7",
        "--out",
        str(tmp_path / "job"),
        "--quiet",
    )
    assert result.returncode == 1
    assert "FailureReason: algo-1: eta=1.7 is out of range: must be 0 <= eta <= 1" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--hosts", "0"], "--hosts=0 is out of range: must be --hosts >= 1"),
        (["--hp", "eta"], "--hp 'eta' must be written name=value"),
    ],
)
def test_bad_arguments_are_named(tmp_path: Path, args: list[str], message: str) -> None:
    train = write_csv(tmp_path / "train" / "a.csv", 50)
    result = smtune(
        "train", "xgboost", "--train", str(train.parent), "--out", str(tmp_path / "job"), *args
    )
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_a_missing_train_folder_is_named(tmp_path: Path) -> None:
    result = smtune(
        "train", "xgboost", "--train", str(tmp_path / "nope"), "--out", str(tmp_path / "job")
    )
    assert result.returncode == 2
    assert f"--train={tmp_path / 'nope'} does not exist" in result.stderr


def files_under(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` and its bytes, but the lock (whose holder line changes)."""
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.name != LOCK_FILE
    }


def test_a_train_into_an_out_folder_in_use_is_refused_at_once_and_changes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    train = write_csv(tmp_path / "train" / "a.csv", 50)
    out = tmp_path / "job"
    model = out / "algo-1" / "model" / "xgboost-model"
    model.parent.mkdir(parents=True)
    model.write_bytes(b"the first run's 300 rounds")  # what a run still going has written
    (out / "algo-1.log").write_text("[299]\ttrain-auc:0.99\n")
    before = files_under(out)
    with held_in_child(out) as first:  # the first run, holding its --out
        began = time.monotonic()
        code = main(
            [
                "train",
                "xgboost",
                "--train",
                str(train.parent),
                "--hp",
                "num_round=5",
                "--out",
                str(out),
            ]
        )
        took = time.monotonic() - began
    error = capsys.readouterr().err
    assert code == 2, error
    assert took < 0.5  # at once: it waited for nothing
    assert f"smtune: error: --out {out} is in use by pid {first.pid} since " in error
    assert "choose another --out" in error and "Traceback" not in error
    assert files_under(out) == before  # no host tree laid out again, no model replaced


def test_a_train_into_an_out_folder_a_killed_run_held_runs(tmp_path: Path) -> None:
    train = write_csv(tmp_path / "train" / "a.csv", 50)
    out = tmp_path / "job"
    with held_in_child(out) as killed:
        killed.kill()  # SIGKILL: the lock file stays, naming a process that is gone
        killed.wait()
    assert (out / LOCK_FILE).read_text().startswith(f"pid {killed.pid} since ")
    result = smtune(
        "train", "xgboost", "--train", str(train.parent), "--hp", "num_round=2", "--out", str(out)
    )
    assert result.returncode == 0, result.stderr
    assert (out / "algo-1" / "model" / "xgboost-model").is_file()


def test_data_bank_marketing_from_the_bundled_zip(tmp_path: Path) -> None:
    result = smtune("data", "bank-marketing", "--out", str(tmp_path / "bank"), "--shards", "2")
    assert result.returncode == 0, result.stderr
    assert "train 35009 rows in 2 files" in result.stdout
    assert sorted(p.name for p in (tmp_path / "bank" / "train").iterdir()) == [
        "train-0.csv",
        "train-1.csv",
    ]


def test_our_own_progress_is_logged_without_verbose(tmp_path: Path) -> None:
    # Our loggers are named smtune.<room>.<module>; the CLI lets their INFO through and keeps
    # the libraries' at WARNING (a rename of the loggers once silenced ours).
    result = smtune("data", "bank-marketing", "--out", str(tmp_path / "bank"))
    assert result.returncode == 0, result.stderr
    assert "INFO smtune.containers.data.bank_marketing: wrote 35009 train rows" in result.stderr


def test_data_bad_shards_is_named(tmp_path: Path) -> None:
    result = smtune("data", "bank-marketing", "--out", str(tmp_path / "b"), "--shards", "0")
    assert result.returncode == 2
    assert "shards=0 is out of range: must be shards >= 1" in result.stderr
