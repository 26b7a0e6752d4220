"""The XGBoost image's command: `python -m entrypoints.xgboost [train | --check]`.

SageMaker starts a training container as `docker run IMAGE train`; the image's ENTRYPOINT
is this module, so "train" arrives as its argument. `--check` is the build-time check that
the image can import what training needs.
"""

import sys

from entrypoints.contract.lifecycle import exit_process, image_command
from entrypoints.xgboost.train import main


def check() -> str:
    import xgboost

    return f"xgboost {xgboost.__version__}: ready to train"


if __name__ == "__main__":
    exit_process(image_command(sys.argv[1:], main, check))
