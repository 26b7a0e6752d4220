"""Time to the first metric line of a 3-host job on the XGBoost image: smtune's docker backend
vs the SageMaker Python SDK v2's local mode, same image, same data, side by side.

Both start from nothing running and end at the first `[0]<TAB>` metric line of the leader;
the variants are interleaved and repeated. Run it with the SDK's venv, which has smtune too:

    .venv-sdk2/bin/python bench/docker_first_line.py [--image smtune-xgboost:0.1.0] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

PYTHON = sys.executable
SMTUNE = str(Path(PYTHON).with_name("smtune"))
FIRST_LINE = re.compile(r"\[0\]\t\S+:")
HYPERPARAMETERS = {"num_round": 20, "objective": "binary:logistic", "eval_metric": "auc"}

SDK_JOB = textwrap.dedent(
    """
    import json, sys
    from sagemaker.estimator import Estimator
    from sagemaker.inputs import TrainingInput
    from sagemaker.local import LocalSession

    image, data, out, hyperparameters = *sys.argv[1:4], json.loads(sys.argv[4])
    session = LocalSession()
    session.config = {"local": {"local_code": True}}
    Estimator(
        image_uri=image, role="arn:aws:iam::123456789012:role/SageMakerRole", instance_count=3,
        instance_type="local", hyperparameters=hyperparameters, output_path=f"file://{out}",
        sagemaker_session=session,
    ).fit({c: TrainingInput(f"file://{data}/{c}", content_type="text/csv")
           for c in ("train", "validation")})
    """
)


def first_line_seconds(command: list[str], env: dict[str, str]) -> float:
    """Seconds from start to the first metric line on stdout; then the job runs to its end."""
    start = time.perf_counter()
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
    )
    assert process.stdout is not None
    seen = None
    for line in process.stdout:
        if seen is None and FIRST_LINE.search(line):
            seen = time.perf_counter() - start
    if process.wait() != 0 or seen is None:
        raise RuntimeError(f"{command[:4]} failed or printed no metric line")
    return seen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", default="smtune-xgboost:0.1.0")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    env = {
        **os.environ,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        config = root / "sagemaker.yaml"
        config.write_text(
            "SchemaVersion: '1.0'\nSageMaker:\n  PythonSDK:\n    Modules:\n"
            "      TelemetryOptOut: true\n"
        )
        env["SAGEMAKER_USER_CONFIG_OVERRIDE"] = str(config)
        data = root / "bank"
        subprocess.run([SMTUNE, "data", "bank-marketing", "--out", str(data), "--shards", "3"],
                       check=True, capture_output=True)  # fmt: skip
        hps = [f"--hp={k}={v}" for k, v in HYPERPARAMETERS.items()]
        variants = {
            "smtune --backend docker": lambda i: [
                SMTUNE,
                "train",
                "xgboost",
                "--backend",
                "docker",
                "--image",
                args.image,
                "--hosts",
                "3",
                "--distribution",
                "sharded",
                "--train",
                str(data / "train"),
                "--validation",
                str(data / "validation"),
                *hps,
                "--out",
                str(root / f"d{i}"),
            ],
            "SDK v2 local mode": lambda i: [
                PYTHON,
                "-c",
                SDK_JOB,
                args.image,
                str(data),
                str(root / f"s{i}"),
                json.dumps(HYPERPARAMETERS),
            ],
        }
        times: dict[str, list[float]] = {name: [] for name in variants}
        for i in range(args.repeats):
            order = list(variants) if i % 2 == 0 else list(reversed(variants))
            for name in order:
                times[name].append(first_line_seconds(variants[name](i), env))
    ours, sdk = (statistics.median(times[n]) for n in variants)
    print(f"{args.repeats} repeats, seconds to the first metric line, median (min):\n")
    print("| variant | first metric line |\n|---|---|")
    for name, values in times.items():
        print(f"| {name} | {statistics.median(values):.2f} ({min(values):.2f}) |")
    print(f"\nratio smtune / SDK local mode: {ours / sdk:.2f}x (goal <= 0.5x)")


if __name__ == "__main__":
    main()
