"""Hosts of a distributed XGBoost job: rendezvous, XGBoost's tracker, and lost hosts.

The leader starts XGBoost's collective tracker, then every host joins our rendezvous with
the facts of its data (rows, columns, or the error it hit reading them). Only when every
host has joined does anyone enter XGBoost's collective, so a host that failed to read its
data fails the whole job at once with its own reason, instead of leaving its peers waiting
in the tracker.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from entrypoints.contract.errors import (
    ERROR_KINDS,
    AlgorithmError,
    PlatformError,
    TrainingError,
)
from entrypoints.contract.lifecycle import fail_now
from entrypoints.contract.paths import ContainerPaths
from entrypoints.contract.rendezvous import Rendezvous
from entrypoints.contract.topology import Port, Topology

logger = logging.getLogger(__name__)

LOST_HOST_GRACE_S = 20.0  # how long a host may stay blocked after a peer is gone


class LostHostWatch:
    """Remembers the first host whose link dropped, and ends this host if it hangs on it."""

    def __init__(self, paths: ContainerPaths, grace_s: float = LOST_HOST_GRACE_S) -> None:
        self.paths = paths
        self.grace_s = grace_s
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
            fail_now(self.paths, self.error())


def xgboost_message(exc: BaseException) -> str:
    """The reasons in an XGBoostError, without its timestamps, source lines and stack."""
    lines = str(exc).splitlines()
    reasons = [line.split("]: ", 1)[-1] for line in lines if line.startswith("- [")]
    return "; ".join(reasons) or (lines[0] if lines else type(exc).__name__)


def collective_error(watch: LostHostWatch, exc: BaseException) -> TrainingError:
    """An XGBoost failure across hosts: a lost host when one is gone, else the algorithm's."""
    # The library's error often comes first; the news of which peer is gone soon after.
    if watch.wait(timeout_s=5.0) is not None:
        return watch.error()
    return AlgorithmError(f"XGBoost failed: {xgboost_message(exc)}", caused_by=exc)


def _peer_failure(infos: dict[str, Any], current_host: str) -> TrainingError | None:
    """The first error another host reported when joining, as an error of the same kind."""
    for host in sorted(infos):
        error = infos[host].get("error")
        if error and host != current_host:
            kind = ERROR_KINDS.get(error["kind"], PlatformError)
            return kind(f"host {host} failed: {error['message']}")
    return None


@contextmanager
def cluster(
    topology: Topology,
    paths: ContainerPaths,
    info: dict[str, Any],
    own_error: TrainingError | None,
    check: Callable[[dict[str, Any]], None],
) -> Iterator[LostHostWatch]:
    """Join the job's hosts, then XGBoost's collective; yields the lost-host watch.

    A host whose data could not be read passes its error as `own_error`: it still joins, so
    that its peers learn the reason at once, then raises it. `check` sees every host's
    `info` before anyone enters the collective, so all hosts fail alike on a rule it breaks.
    """
    from xgboost import collective
    from xgboost.tracker import RabitTracker

    resource = topology.resource
    watch = LostHostWatch(paths)
    tracker = None
    if resource.is_leader:
        # Started before the rendezvous completes, so it listens before anyone connects.
        tracker = RabitTracker(
            n_workers=topology.world_size,
            host_ip=topology.ip_address(resource.leader),
            port=topology.port(Port.XGBOOST_TRACKER),
            sortby="task",
            timeout=int(topology.timeout_s),
        )
        tracker.start()
    rendezvous = Rendezvous(topology, on_lost=watch)
    try:
        if own_error is not None:
            info = {**info, "error": {"kind": own_error.kind, "message": own_error.message}}
        infos = rendezvous.join(info)
        if own_error is not None:
            raise own_error
        peer_error = _peer_failure(infos, resource.current_host)
        if peer_error is not None:
            raise peer_error
        check(infos)
        collective.init(
            dmlc_communicator="rabit",
            dmlc_tracker_uri=topology.ip_address(resource.leader),
            dmlc_tracker_port=topology.port(Port.XGBOOST_TRACKER),
            # Zero-padded so that the tracker's sort by task id is the order of sorted(hosts).
            dmlc_task_id=f"{resource.rank:06d}",
        )
        try:
            if collective.get_rank() != resource.rank:
                raise PlatformError(
                    f"XGBoost gave host {resource.current_host} rank {collective.get_rank()}, "
                    f"expected {resource.rank}: the tracker ordered hosts unexpectedly"
                )
            yield watch
        except BaseException:
            # Leaving a broken group fails too; that must not hide why it broke.
            with contextlib.suppress(Exception):
                collective.finalize()
            raise
        try:
            collective.finalize()
        except Exception as exc:
            raise collective_error(watch, exc) from exc
        watch.disarm()
        rendezvous.finish()
        if tracker is not None:
            _wait_for_tracker(tracker)
    finally:
        rendezvous.close()
        if tracker is not None:
            _free_tracker(tracker)


def _wait_for_tracker(tracker: Any) -> None:
    """After a clean finish, let the tracker see every worker leave."""
    try:
        tracker.wait_for(10)
    except Exception:
        logger.debug("tracker did not shut down cleanly", exc_info=True)


def _free_tracker(tracker: Any) -> None:
    # On a failed job workers may never have come: don't wait for them, and don't let the
    # tracker's complaint about that hide the job's own reason.
    try:
        tracker.free()
    except Exception:
        logger.debug("tracker could not be freed", exc_info=True)
