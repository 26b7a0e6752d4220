"""Tells the image's Horovod which torch it runs with, where that is another build of the
torch release it was compiled against (the CUDA variant: built against 2.13.0+cpu, run with
2.13.0+cu130, which share their C++ API and ABI). Horovod records the version at build time
and warns at every `import horovod.torch` when the installed one differs; a different
release is refused here, as it may well not load. Run at image build time."""

import json
import pathlib
import sys

import horovod
import torch


def main() -> int | str:
    meta = pathlib.Path(horovod.__file__).with_name("metadata.json")
    built = json.loads(meta.read_text())
    if built["pytorch"] == torch.__version__:
        return 0
    if built["pytorch"].split("+")[0] != torch.__version__.split("+")[0]:
        return f"Horovod was built against torch {built['pytorch']}, not {torch.__version__}"
    meta.write_text(json.dumps({**built, "pytorch": torch.__version__}))
    print(f"Horovod built against torch {built['pytorch']} now runs with {torch.__version__}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
