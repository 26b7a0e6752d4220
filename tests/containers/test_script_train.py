"""`smtune train dnn --entry-point ...` end to end: a user's tiny script on 2 process hosts.

It needs the image's script-mode runner (entrypoints/script/runner.py); without it the test
is skipped, naming what is missing.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = """
import json, os, sys
from pathlib import Path

host = os.environ["SM_CURRENT_HOST"]
print(f"hello from {host}", flush=True)
data = (Path(os.environ["SM_CHANNEL_DATA"]) / "x.txt").read_text()
record = {"host": host, "args": sys.argv[1:], "data": data}
Path(os.environ["SM_MODEL_DIR"], "seen.json").write_text(json.dumps(record))
if host == sorted(json.loads(os.environ["SM_HOSTS"]))[0]:
    print("[0]\\tvalidation-accuracy:0.5", flush=True)
"""

# The runner, and the dispatch through which the image's `train` reaches it.
RUNNER_MISSING = any(
    importlib.util.find_spec(f"smtune.entrypoints.script.{name}") is None
    for name in ("runner", "dispatch")
)


@pytest.mark.skipif(
    RUNNER_MISSING,
    reason="the image's script-mode runner (entrypoints/script/runner.py, dispatch.py) is not "
    "there yet",
)
@pytest.mark.timeout(180)
def test_a_users_script_runs_once_on_each_of_two_process_hosts(tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    (source / "train.py").write_text(SCRIPT)
    data = tmp_path / "data"
    data.mkdir()
    (data / "x.txt").write_text("payload")
    out = tmp_path / "job"
    result = subprocess.run(
        [
            sys.executable, "-m", "smtune.tuning.cli", "train", "dnn", "--hosts", "2",
            "--entry-point", "train.py", "--source-dir", str(source),
            "--distribution-mode", "none", "--channel", f"data={data}",
            "--hp", "epochs=2", "--hp", "optimizer=adam", "--out", str(out),
        ],
        capture_output=True,
        text=True,
        timeout=170,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr + result.stdout
    assert "job Completed" in result.stderr
    for host in ("algo-1", "algo-2"):
        seen = json.loads((out / host / "model" / "seen.json").read_text())
        # Once per host, with its hyperparameters as arguments and its channel's files.
        assert seen["host"] == host and seen["data"] == "payload"
        assert seen["args"] == ["--epochs", "2", "--optimizer", "adam"]
        assert f"hello from {host}" in (out / f"{host}.log").read_text()
    assert "[0]\tvalidation-accuracy:0.5" in result.stdout  # the leader's log, streamed
    assert "validation-accuracy" not in (out / "algo-2.log").read_text()
    assert (source / "train.py").read_text() == SCRIPT  # the user's folder is untouched
