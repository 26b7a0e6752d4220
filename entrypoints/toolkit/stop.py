"""SIGTERM, honoured at a step: StopTrainingJob, a spot interruption, a Hyperband stop.

SageMaker sends SIGTERM to the training process and kills it 120 s later. A script that
checkpoints then and returns keeps its work (and a Hyperband-stopped job still saves its
model). The signal may reach one worker only, or the workers at different steps, so with
torch.distributed or Horovod the ranks agree: `should_stop()` is true on every rank at the
same step as soon as any rank got the signal; no rank leaves the others waiting in a
collective.

    stop = StopSignal.install()
    for step in range(steps):
        if stop.should_stop():  # every rank calls it at every step
            checkpoints.save(state, epoch=epoch, step=step)
            break
        ...
"""

from __future__ import annotations

from smtune.entrypoints.contract.lifecycle import StopFlag
from smtune.entrypoints.toolkit import distributed


class StopSignal:
    """A stop request, as this process received it and as every rank agrees on it.

    Args:
        flag: The flag SIGTERM sets; `install()` makes one and routes SIGTERM to it.
    """

    def __init__(self, flag: StopFlag) -> None:
        self.flag = flag

    @classmethod
    def install(cls) -> StopSignal:
        """Route SIGTERM to a new stop signal (call it from the main thread, as Python
        requires of a signal handler)."""
        flag = StopFlag()
        flag.install()
        return cls(flag)

    def received(self) -> bool:
        """Whether this process was asked to stop; no collective."""
        return self.flag.is_set()

    def should_stop(self) -> bool:
        """Whether any rank was asked to stop: the same answer on every rank.

        Under torch.distributed or Horovod this is a collective (one small allreduce):
        every rank must call it at the same points, say once per step.
        """
        return distributed.any_true(self.received())
