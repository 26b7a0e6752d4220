"""What one host knows of the others: the first one lost, and the errors they joined with.

Shared by the images' multi-host entrypoints, on top of the rendezvous (`rendezvous.py`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from smtune.entrypoints.contract.errors import ERROR_KINDS, PlatformError, TrainingError
from smtune.entrypoints.contract.lifecycle import fail_now
from smtune.entrypoints.contract.paths import ContainerPaths

logger = logging.getLogger(__name__)

LOST_HOST_GRACE_S = 20.0  # how long a host may stay blocked after a peer is gone


class LostHostWatch:
    """Remembers the first host whose link dropped, and ends this host if it hangs on it."""

    def __init__(
        self,
        paths: ContainerPaths,
        grace_s: float = LOST_HOST_GRACE_S,
        before_exit: Callable[[], None] | None = None,
    ) -> None:
        self.paths = paths
        self.grace_s = grace_s
        self.before_exit = before_exit
        self.host: str | None = None
        self._seen = threading.Event()
        self._done = threading.Event()

    def __call__(self, host: str) -> None:
        if self._seen.is_set() or self._done.is_set():
            return
        self.host = host
        self._seen.set()
        logger.error("host %s is gone; ending this host if training does not end by itself", host)
        timer = threading.Timer(self.grace_s, self._expire)
        timer.daemon = True
        timer.start()

    def error(self) -> PlatformError:
        return PlatformError(
            f"host {self.host} was lost during training (its process ended or the network to "
            "it failed): rerun the job; if it repeats, read that host's log for why it ended"
        )

    def wait(self, timeout_s: float) -> str | None:
        """The lost host, waiting a little since the news may trail the library's own error."""
        self._seen.wait(timeout_s)
        return self.host

    def disarm(self) -> None:
        self._done.set()

    def _expire(self) -> None:
        if not self._done.is_set():
            if self.before_exit is not None:
                self.before_exit()
            fail_now(self.paths, self.error())


def peer_failure(infos: dict[str, Any], current_host: str) -> TrainingError | None:
    """The first error another host reported when joining, as an error of the same kind."""
    for host in sorted(infos):
        error = infos[host].get("error")
        if error and host != current_host:
            kind = ERROR_KINDS.get(error["kind"], PlatformError)
            return kind(f"host {host} failed: {error['message']}")
    return None
