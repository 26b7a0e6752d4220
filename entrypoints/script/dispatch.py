"""Script or built-in algorithm: the one place where an image's `train` command chooses.

Both images' `__main__` pass their algorithm here as a loader, so that a script-mode job
never imports the algorithm (the DNN's imports torch at once), and a built-in job never
imports script mode.
"""

from __future__ import annotations

from collections.abc import Callable

from smtune.entrypoints.contract.lifecycle import Main, StopFlag
from smtune.entrypoints.contract.paths import ContainerPaths
from smtune.entrypoints.script.settings import requests_script


def train(algorithm: Callable[[], Main], xgboost_collective: bool = False) -> Main:
    """The image's `train`: the user's script when hyperparameters.json names
    `sagemaker_program`, else the built-in algorithm that `algorithm()` loads.

    `xgboost_collective` (the XGBoost image): a script on several hosts may join XGBoost's
    collective; the leader runs its tracker (`entrypoints.toolkit.collective`).
    """

    def main(paths: ContainerPaths, stop: StopFlag) -> None:
        if requests_script(paths):
            from smtune.entrypoints.script.runner import main as run_script

            run_script(paths, stop, xgboost_collective)
        else:
            algorithm()(paths, stop)

    return main
