"""The XGBoost image's command: `python -m smtune.entrypoints.xgboost [train | --check]`.

SageMaker starts a training container as `docker run IMAGE train`; the image's ENTRYPOINT
is this module, so "train" arrives as its argument. `train` runs the built-in XGBoost, or the
user's script in script mode (`entrypoints.script`). `--check` is the build-time check that
the image can import what training needs.
"""

import sys

from smtune.entrypoints.contract.lifecycle import Main, exit_process, image_command
from smtune.entrypoints.script.dispatch import train


def check() -> str:
    import xgboost

    return f"xgboost {xgboost.__version__}: ready to train"


def algorithm() -> Main:
    from smtune.entrypoints.xgboost.train import main

    return main


if __name__ == "__main__":
    exit_process(image_command(sys.argv[1:], train(algorithm, xgboost_collective=True), check))
