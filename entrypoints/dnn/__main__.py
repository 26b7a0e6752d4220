"""The DNN image's command: `python -m smtune.entrypoints.dnn [train | --check]`.

`train` runs the built-in DNN, or the user's script in script mode (`entrypoints.script`).
"""

import sys

from smtune.entrypoints.contract.lifecycle import Main, exit_process, image_command
from smtune.entrypoints.script.dispatch import train


def check() -> str:
    import horovod.torch  # noqa: F401  (the image must carry both launchers)

    from smtune.entrypoints.dnn.gpus import Accelerators

    return Accelerators.here().check_line()


def algorithm() -> Main:
    from smtune.entrypoints.dnn.launch import main

    return main


if __name__ == "__main__":
    exit_process(image_command(sys.argv[1:], train(algorithm), check))
