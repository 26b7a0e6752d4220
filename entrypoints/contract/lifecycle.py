"""Run an algorithm under the SageMaker contract: failure file, exit code, SIGTERM.

- Exit code 0 means Completed; anything else means Failed.
- On failure, /opt/ml/output/failure holds at most 1,024 characters whose first line says
  what to fix; SageMaker shows it as the job's FailureReason.
- SIGTERM (StopTrainingJob, a spot interruption, a Hyperband stop) sets a flag that the
  algorithm checks between iterations; it then checkpoints (when the job has a
  CheckpointConfig) and returns within the 120-second grace period. Native calls that a
  signal would fail run under `sigterm_held`. The phases before training (the data check,
  waiting for the other hosts) have no iteration to check the flag at: they run under
  `stoppable`, where SIGTERM raises `Stopped`, and the job ends as a stop does.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Iterator
from types import FrameType
from typing import NoReturn

from smtune.entrypoints.contract.errors import AlgorithmError, TrainingError
from smtune.entrypoints.contract.paths import ContainerPaths

logger = logging.getLogger(__name__)

MAX_FAILURE_CHARS = 1024
EXIT_FAILED = 1
EXIT_STOPPED = 0  # as a stop during training ends: SageMaker marks the job Stopped anyway


class Stopped(BaseException):
    """A stop ended a phase before training: there is nothing to save yet.

    A BaseException, as KeyboardInterrupt is: no `except Exception` on its way (ours, or a
    library's) may take a stop for a failure. `run` ends the job as a stop does.
    """


class StopFlag:
    """Set when the platform asks the job to stop; read between iterations."""

    def __init__(self) -> None:
        # A plain attribute, not a threading.Event: the handler sets it, and an Event's lock
        # deadlocks a handler that interrupts another one holding it (a burst of SIGTERMs).
        self.signal: int | None = None
        self.raising = False  # in a `stoppable` phase: the handler raises Stopped

    def set(self, signum: int = signal.SIGTERM) -> None:
        self.signal = signum

    def is_set(self) -> bool:
        return self.signal is not None

    def raise_if_set(self) -> None:
        """Raise Stopped if a stop came: for a phase about to start what training needs."""
        if self.signal is not None:
            raise Stopped(f"stopped by signal {self.signal} before training: no model to save")

    def install(self) -> None:
        """Route SIGTERM to this flag (main thread only, as Python requires)."""

        received = itertools.count()

        def handler(signum: int, _frame: FrameType | None) -> None:
            self.set(signum)
            # Logged once: under a burst, each signal's line would interrupt the one before
            # until Python gave up. next() is one C call, so no handler runs inside it.
            if next(received) == 0:
                logger.warning("received signal %d: stopping after the current iteration", signum)
            if self.raising:
                self.raising = False  # once: a burst must not cut short the cleanup it runs
                self.raise_if_set()

        global _installed
        _installed = self
        signal.signal(signal.SIGTERM, handler)


_installed: StopFlag | None = None  # the flag SIGTERM sets in this process, once installed

#: What an image's `train` runs: the built-in algorithm, or script mode (entrypoints.script).
Main = Callable[[ContainerPaths, StopFlag], None]


@contextlib.contextmanager
def stoppable() -> Iterator[None]:
    """Let a stop end the body at once: SIGTERM (or one already received) raises Stopped.

    For the phases before training, which may read data or wait for peers for minutes and
    have no iteration at which to check the flag. Only on the main thread, where Python runs
    signal handlers, and once a StopFlag is installed; elsewhere the body runs as it is. A
    native call blocks the handler until it returns: keep them short in the body.
    """
    flag = _installed
    if flag is None or threading.current_thread() is not threading.main_thread():
        yield
        return
    previous, flag.raising = flag.raising, True
    try:
        flag.raise_if_set()
        yield
    finally:
        flag.raising = previous


@contextlib.contextmanager
def sigterm_held() -> Iterator[None]:
    """Keep SIGTERM from interrupting the calling thread's system calls in the body.

    For native calls that fail on EINTR instead of retrying. XGBoost's collective talks to
    its tracker over sockets with a receive timeout, and such a recv is never restarted
    (signal(7)): a SIGTERM reaching a host while it joined or left the collective failed
    the job it was stopping. Threads the body starts inherit the block. Meanwhile a SIGTERM
    goes to another thread (Python's and numpy's threads retry what it interrupts), or waits
    for the body's end; either way the stop flag is set once the body returns to Python.
    """
    held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)


def crash_error(exc: Exception) -> TrainingError:
    """`exc` as a failure: a TrainingError as it is; anything else (a bug, a library's error on
    odd data) an AlgorithmError with its message, its traceback logged here, where it happened."""
    if isinstance(exc, TrainingError):
        return exc
    logger.error("unexpected error:\n%s", "".join(traceback.format_exception(exc)).rstrip())
    return AlgorithmError(f"the algorithm crashed: {str(exc) or type(exc).__name__}", caused_by=exc)


def failure_text(error: TrainingError) -> str:
    text = error.reason().strip()
    return text if len(text) <= MAX_FAILURE_CHARS else text[: MAX_FAILURE_CHARS - 3] + "..."


def write_failure(paths: ContainerPaths, error: TrainingError) -> None:
    paths.output.mkdir(parents=True, exist_ok=True)
    paths.failure.write_text(failure_text(error))


def fail_now(paths: ContainerPaths, error: TrainingError) -> NoReturn:
    """Write the failure and end the process at once, from any thread.

    For a watchdog that sees a peer host vanish while the main thread is blocked in a
    collective call that may never return.
    """
    logger.error("%s", error.reason())
    write_failure(paths, error)
    exit_process(EXIT_FAILED)


def configure_logging() -> None:
    """Logs go to stderr; stdout carries only metric lines and what the algorithm prints."""
    logging.basicConfig(
        level=os.environ.get("SMTUNE_LOG_LEVEL", "INFO"),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def run(
    main: Callable[[ContainerPaths, StopFlag], None], paths: ContainerPaths | None = None
) -> int:
    """Run `main` as a SageMaker training job's algorithm; returns the exit code.

    Any TrainingError becomes the failure file; any other exception is an AlgorithmError
    with its traceback in the log. A stop before training (Stopped) ends it as a stop does.
    """
    paths = ContainerPaths.from_environment() if paths is None else paths
    stop = StopFlag()
    stop.install()
    paths.failure.unlink(missing_ok=True)  # a restarted job must not inherit an old reason
    try:
        main(paths, stop)
    except TrainingError as error:
        logger.error("training failed: %s", error.reason())
        write_failure(paths, error)
        return EXIT_FAILED
    except Exception as exc:
        write_failure(paths, crash_error(exc))
        return EXIT_FAILED
    except Stopped as stopped:
        logger.warning("%s", stopped)
        return EXIT_STOPPED
    return 0


def exit_process(code: int) -> NoReturn:
    """End an image's process with `code` once its logs and output are flushed.

    Without Python's teardown, as the legacy sagemaker-containers toolkit ended training:
    the job's work is done, a library's stray non-daemon thread must not keep the container
    running, and unloading numpy, scipy and XGBoost module by module takes ≈ 50 ms.
    """
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a reader gone, or a closed stream
            if stream is not None:
                stream.flush()
    with contextlib.suppress(Exception):  # what native libraries left in C's stdio buffers
        import ctypes

        ctypes.CDLL(None).fflush(None)
    os._exit(code)


def image_command(
    argv: list[str],
    main: Callable[[ContainerPaths, StopFlag], None],
    check: Callable[[], str],
) -> int:
    """What an image's ENTRYPOINT does with its argument; returns the exit code.

    SageMaker starts a training container as `docker run IMAGE train`: "train" runs `main`
    under the contract. `--check` is the build-time check that the image imports what
    training needs; it prints what `check` returns. Anything else is refused.
    """
    name = argv[0] if argv else "train"
    if name == "--check":
        print(check())
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
