"""The XGBoost image's command: `python -m entrypoints.xgboost [train | --check]`.

SageMaker starts a training container as `docker run IMAGE train`; the image's ENTRYPOINT
is this module, so "train" arrives as its argument. `--check` is the build-time check that
the image can import what training needs.
"""

import sys

from entrypoints.contract.lifecycle import configure_logging, run
from entrypoints.xgboost.train import main


def command(argv: list[str]) -> int:
    name = argv[0] if argv else "train"
    if name == "--check":
        import xgboost

        print(f"xgboost {xgboost.__version__}: ready to train")
        return 0
    if name != "train":
        print(
            f"command {name!r} is not supported: this image only trains "
            "(SageMaker runs it as `docker run IMAGE train`)",
            file=sys.stderr,
        )
        return 2
    configure_logging()
    return run(main)


if __name__ == "__main__":
    sys.exit(command(sys.argv[1:]))
