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
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from entrypoints.contract.errors import (
    AlgorithmError,
    PlatformError,
    TrainingError,
)
from entrypoints.contract.hosts import LostHostWatch, peer_failure
from entrypoints.contract.lifecycle import sigterm_held
from entrypoints.contract.paths import ContainerPaths
from entrypoints.contract.rendezvous import Rendezvous
from entrypoints.contract.topology import Port, Topology

logger = logging.getLogger(__name__)


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
    XGBoost's calls that talk to its tracker run with SIGTERM held: a stop must not fail them.
    """
    from xgboost import collective
    from xgboost.tracker import RabitTracker

    resource = topology.resource
    watch = LostHostWatch(paths)
    tracker = None
    if resource.is_leader:
        # Started before the rendezvous completes, so it listens before anyone connects.
        with sigterm_held():  # and its thread inherits the block
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
        peer_error = peer_failure(infos, resource.current_host)
        if peer_error is not None:
            raise peer_error
        check(infos)
        with sigterm_held():  # and XGBoost's threads, started here, inherit the block
            collective.init(
                dmlc_communicator="rabit",
                dmlc_tracker_uri=topology.ip_address(resource.leader),
                dmlc_tracker_port=topology.port(Port.XGBOOST_TRACKER),
                # Zero-padded: the tracker's sort by task id is then the order of sorted(hosts).
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
            with contextlib.suppress(Exception), sigterm_held():
                collective.finalize()
            raise
        try:
            # A host that learnt of a stop from a peer's flag may get its own SIGTERM now.
            with sigterm_held():
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
