"""run(main): failure file, exit code and SIGTERM, in a real child process."""

from __future__ import annotations

import contextlib
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from smtune.entrypoints.contract.errors import AlgorithmError, PlatformError, UserError
from smtune.entrypoints.contract.lifecycle import MAX_FAILURE_CHARS, crash_error, failure_text

ALGORITHM = textwrap.dedent(
    """
    import sys, time
    from smtune.entrypoints.contract.errors import UserError
    from smtune.entrypoints.contract.lifecycle import exit_process, run, stoppable

    def main(paths, stop):
        mode = sys.argv[1]
        if mode == "user":
            raise UserError("eta=1.7 is out of range: must be 0 <= eta <= 1")
        if mode == "crash":
            raise ZeroDivisionError("division by zero")
        if mode == "stop":
            print("ready", flush=True)
            while not stop.is_set():
                time.sleep(0.01)
            (paths.model / "stopped").parent.mkdir(parents=True, exist_ok=True)
            (paths.model / "stopped").write_text("checkpointed")
        if mode == "stoppable":  # a phase before training, waiting long in Python
            with stoppable():
                print("ready", flush=True)
                try:
                    time.sleep(60)
                except Exception:
                    raise ZeroDivisionError("a stop must not be taken for a failure")
        if mode == "stopped-before":  # the stop came between phases
            print("ready", flush=True)
            while not stop.is_set():
                time.sleep(0.01)
            with stoppable():
                time.sleep(60)

    exit_process(run(main))  # as the images end: SIGTERM's handler stays to the last
    """
)


def start(tmp_path: Path, mode: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", ALGORITHM, mode],
        env={"SAGEMAKER_BASE_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_user_error_writes_the_reason_and_exits_non_zero(tmp_path: Path) -> None:
    process = start(tmp_path, "user")
    assert process.wait(timeout=30) == 1
    failure = (tmp_path / "output" / "failure").read_text()
    assert failure.splitlines()[0] == "eta=1.7 is out of range: must be 0 <= eta <= 1"
    assert failure.splitlines()[1] == "UserError"


def test_unexpected_exception_is_an_algorithm_error_with_traceback_in_log(tmp_path: Path) -> None:
    process = start(tmp_path, "crash")
    assert process.wait(timeout=30) == 1
    failure = (tmp_path / "output" / "failure").read_text()
    assert failure.startswith("the algorithm crashed: division by zero")
    assert "AlgorithmError caused by ZeroDivisionError" in failure
    assert "Traceback" in process.stderr.read()  # type: ignore[union-attr]


def test_sigterm_sets_the_stop_flag_and_the_job_ends_cleanly(tmp_path: Path) -> None:
    process = start(tmp_path, "stop")
    assert process.stdout is not None and process.stdout.readline().strip() == "ready"
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0
    assert time.monotonic() - started < 5
    assert (tmp_path / "model" / "stopped").read_text() == "checkpointed"
    assert not (tmp_path / "output" / "failure").exists()


@pytest.mark.parametrize("mode", ["stoppable", "stopped-before"])
def test_a_stop_before_training_ends_the_phase_at_once_as_a_stop(tmp_path: Path, mode: str) -> None:
    process = start(tmp_path, mode)
    try:
        assert process.stdout is not None and process.stdout.readline().strip() == "ready"
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
        assert time.monotonic() - started < 5
        assert not (tmp_path / "output" / "failure").exists()
        assert "stopped by signal 15 before training" in process.stderr.read()  # type: ignore[union-attr]
    finally:
        process.kill()
        process.wait()


def test_crash_error_keeps_a_training_error_and_makes_anything_else_an_algorithm_error() -> None:
    own = UserError("set num_round")
    assert crash_error(own) is own
    crashed = crash_error(UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"))
    assert isinstance(crashed, AlgorithmError)
    assert crashed.message.startswith("the algorithm crashed: 'utf-8' codec can't decode")
    assert crash_error(KeyError()).message == "the algorithm crashed: KeyError"


def test_a_burst_of_sigterms_is_logged_once_and_the_job_ends_cleanly(tmp_path: Path) -> None:
    # Each signal used to log again, from inside the handler the next signal interrupted:
    # a burst recursed until Python gave up (RecursionError, "lost sys.stderr").
    process = start(tmp_path, "stop")
    assert process.stdout is not None and process.stdout.readline().strip() == "ready"
    for _ in range(2000):
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0
    assert process.stderr is not None and process.stderr.read().count("received signal") == 1
    assert (tmp_path / "model" / "stopped").read_text() == "checkpointed"


HELD_RECV = textwrap.dedent(
    """
    import ctypes, errno, socket, struct, sys
    from smtune.entrypoints.contract.lifecycle import StopFlag, sigterm_held

    stop = StopFlag()
    stop.install()
    link = socket.socket(fileno=int(sys.argv[1]))
    # A receive timeout, as XGBoost's tracker sockets have: the kernel then never restarts
    # a recv that a signal interrupts, whatever the handler's flags.
    link.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.pack("ll", 30, 0))
    libc = ctypes.CDLL(None, use_errno=True)
    buffer = ctypes.create_string_buffer(1)
    print("receiving", flush=True)
    with sigterm_held():
        got = libc.recv(link.fileno(), buffer, 1, 0)
    print(got, errno.errorcode.get(ctypes.get_errno(), "-"), stop.is_set(), flush=True)
    """
)


def test_a_native_recv_under_sigterm_held_is_not_interrupted_and_the_stop_is_kept() -> None:
    ours, theirs = socket.socketpair()
    with ours, theirs:
        process = subprocess.Popen(
            [sys.executable, "-c", HELD_RECV, str(theirs.fileno())],
            pass_fds=[theirs.fileno()],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert process.stdout is not None and process.stdout.readline() == "receiving\n"
        time.sleep(0.3)  # in its recv by now
        process.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        ours.send(b"x")
        out, _ = process.communicate(timeout=30)
    assert process.returncode == 0
    assert out.split() == ["1", "-", "True"]  # one byte, no EINTR, and the stop flag set


def test_a_stale_failure_file_is_removed_on_start(tmp_path: Path) -> None:
    (tmp_path / "output").mkdir()
    (tmp_path / "output" / "failure").write_text("old reason")
    process = start(tmp_path, "none")
    assert process.wait(timeout=30) == 0
    assert not (tmp_path / "output" / "failure").exists()


def test_failure_text_is_capped_at_1024_characters() -> None:
    text = failure_text(PlatformError("x" * 5000))
    assert len(text) == MAX_FAILURE_CHARS and text.endswith("...")


@pytest.mark.parametrize("cause", [ValueError("bad\nsecond line"), None])
def test_reason_puts_the_fix_first_and_the_cause_after(cause: Exception | None) -> None:
    reason = UserError("set num_round", caused_by=cause).reason()
    assert reason.splitlines()[0] == "set num_round"
    assert reason.splitlines()[1] == (
        "UserError caused by ValueError: bad" if cause else "UserError"
    )


def test_an_image_process_ends_with_its_output_flushed_despite_a_stray_thread() -> None:
    # A library's non-daemon thread would keep a plain Python process, and its container,
    # alive after training; exit_process ends it, losing no buffered output or log line.
    script = textwrap.dedent(
        """
        import logging, sys, threading, time
        from smtune.entrypoints.contract.lifecycle import exit_process

        logging.basicConfig(stream=sys.stderr, level=logging.INFO)
        threading.Thread(target=time.sleep, args=(600,)).start()
        sys.stdout.write("[0]\\tvalidation-auc:0.75")  # no newline: still in the buffer
        logging.getLogger("algo").info("saved the model")
        exit_process(3)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 3
    assert done.stdout == "[0]\tvalidation-auc:0.75"
    assert "saved the model" in done.stderr
