"""The DNN image's command: `python -m entrypoints.dnn [train | --check]`."""

import sys

from entrypoints.contract.lifecycle import exit_process, image_command
from entrypoints.dnn.launch import main


def check() -> str:
    import horovod.torch  # noqa: F401  (the image must carry both launchers)
    import torch

    return f"torch {torch.__version__}: ready to train"


if __name__ == "__main__":
    exit_process(image_command(sys.argv[1:], main, check))
