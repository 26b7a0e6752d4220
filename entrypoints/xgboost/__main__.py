"""`python -m entrypoints.xgboost`: the XGBoost image's training command."""

import sys

from entrypoints.contract.lifecycle import configure_logging, run
from entrypoints.xgboost.train import main

if __name__ == "__main__":
    configure_logging()
    sys.exit(run(main))
