"""The DNN image's command: `python -m entrypoints.dnn [train | --check]`."""

import sys

from entrypoints.contract.lifecycle import configure_logging, run


def command(argv: list[str]) -> int:
    name = argv[0] if argv else "train"
    if name == "--check":
        import horovod.torch  # noqa: F401  (the image must carry both launchers)
        import torch

        print(f"torch {torch.__version__}: ready to train")
        return 0
    if name != "train":
        print(
            f"command {name!r} is not supported: this image only trains "
            "(SageMaker runs it as `docker run IMAGE train`)",
            file=sys.stderr,
        )
        return 2
    from entrypoints.dnn.launch import main

    configure_logging()
    return run(main)


if __name__ == "__main__":
    sys.exit(command(sys.argv[1:]))
