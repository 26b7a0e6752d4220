"""torchrun's agent for a script, in a process of its own:
`python -m smtune.entrypoints.script.torchrun`.

The host's process runs this as it runs a script without distribution, so that one loop
supervises every launcher: a stop's SIGTERM reaches the agent, which passes it to its
workers' process groups and kills what is left after the grace period; a lost peer host
SIGTERMs it. The agent writes how the first failed worker ended to a small JSON report, as
the exit code of the agent alone does not say which rank failed or how.

    python -m smtune.entrypoints.script.torchrun '<TorchrunSpec JSON>' -- \
        python -u train.py --epochs 2
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from smtune.entrypoints import workers
from smtune.entrypoints.contract.lifecycle import (
    StopFlag,
    Stopped,
    configure_logging,
    exit_process,
)

EXIT_FAILED = 1
EXIT_STOPPED = 128 + 15  # as a process SIGTERM ended: the host tells a stop from success


@dataclass(frozen=True)
class TorchrunSpec:
    """What the agent needs: the nodes, this node, the master, the processes, the timeouts."""

    nodes: int
    node_rank: int
    processes: int
    master_addr: str
    master_port: int
    timeout_s: float
    shutdown_timeout_s: float
    report: str

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> TorchrunSpec:
        return cls(**json.loads(text))


def read_report(path: Path) -> workers.WorkerExit | None:
    """The first failed worker, if the agent reported one."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return workers.WorkerExit(**data) if data else None


def run(spec: TorchrunSpec, command: list[str]) -> int:
    stop = StopFlag()
    stop.install()  # until the agent installs its own handler: a stop raises Stopped
    master = workers.Rendezvous(spec.master_addr, spec.master_port, spec.timeout_s)
    try:
        ended = workers.run_torchrun(
            spec.nodes,
            spec.node_rank,
            master,
            spec.processes,
            command,
            spec.shutdown_timeout_s,
            stop_raises=True,
            # A failed worker seen at once: its host must tell the others before their
            # workers fail in turn (runner.PeerLoss).
            monitor_interval_s=0.02,
        )
    except Stopped:
        return EXIT_STOPPED
    Path(spec.report).write_text(json.dumps(asdict(ended) if ended else {}))
    return 0 if ended is None else EXIT_FAILED


def main(argv: list[str]) -> int:
    separator = argv.index("--")
    spec = TorchrunSpec.from_json(argv[separator - 1])
    return run(spec, argv[separator + 1 :])


if __name__ == "__main__":
    configure_logging()
    exit_process(main(sys.argv[1:]))
