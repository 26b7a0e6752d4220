"""Hosts of a distributed XGBoost job: rendezvous, XGBoost's tracker, and lost hosts.

The leader starts XGBoost's collective tracker, then every host joins our rendezvous with
the facts of its data (rows, columns, or the error it hit reading them). Only when every
host has joined does anyone enter XGBoost's collective, so a host that failed to read its
data fails the whole job at once with its own reason, instead of leaving its peers waiting
in the tracker.

A host that hangs (stopped, or behind a network that drops packets without closing its
connections) keeps its sockets open: XGBoost's collective then waits for it, and the
rendezvous sees no link drop. A `Heartbeat` between every host and the leader names such a
host within SMTUNE_COLLECTIVE_TIMEOUT seconds (the DNN image's collective timeout too).
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from smtune.entrypoints.contract.errors import (
    AlgorithmError,
    PlatformError,
    TrainingError,
    UserError,
)
from smtune.entrypoints.contract.hosts import LostHostWatch, peer_failure
from smtune.entrypoints.contract.lifecycle import fail_now, sigterm_held
from smtune.entrypoints.contract.paths import ContainerPaths
from smtune.entrypoints.contract.rendezvous import Rendezvous
from smtune.entrypoints.contract.topology import Port, Topology
from smtune.entrypoints.toolkit import collective

logger = logging.getLogger(__name__)

# How long a host may go unheard before the job fails naming it; the DNN's variable too.
COLLECTIVE_TIMEOUT_VARIABLE = "SMTUNE_COLLECTIVE_TIMEOUT"
DEFAULT_COLLECTIVE_TIMEOUT_S = 120.0


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
    from xgboost import collective as xgboost_collective

    resource = topology.resource
    bound_s = collective_timeout_s()  # the same setting on every host: all fail alike
    watch = LostHostWatch(paths)
    tracker = None
    if resource.is_leader:
        try:
            tracker = start_tracker(topology, topology.timeout_s)  # the data is read by now
        except PlatformError as exc:  # joined with as the leader's error: no peer waits for it
            own_error = own_error or exc
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
        # Until training ends: hosts leave the collective at different times.
        with Heartbeat(topology, paths, bound_s):
            with sigterm_held():  # and XGBoost's threads, started here, inherit the block
                xgboost_collective.init(
                    **collective.init_arguments(tracker_variables(topology)) or {}
                )
            try:
                if xgboost_collective.get_rank() != resource.rank:
                    raise PlatformError(
                        f"XGBoost gave host {resource.current_host} rank "
                        f"{xgboost_collective.get_rank()}, expected {resource.rank}: the tracker "
                        "ordered hosts unexpectedly"
                    )
                yield watch
            except BaseException:
                # Leaving a broken group fails too; that must not hide why it broke.
                with contextlib.suppress(Exception), sigterm_held():
                    xgboost_collective.finalize()
                raise
        try:
            # A host that learnt of a stop from a peer's flag may get its own SIGTERM now.
            with sigterm_held():
                xgboost_collective.finalize()
        except Exception as exc:
            raise collective_error(watch, exc) from exc
        watch.disarm()
        rendezvous.finish()
        if tracker is not None:
            _wait_for_tracker(tracker)
    finally:
        rendezvous.close()
        if tracker is not None:
            free_tracker(tracker)


def tracker_variables(topology: Topology) -> dict[str, str]:
    """How this host joins XGBoost's collective, as a script reads it from its environment
    (`entrypoints.toolkit.collective`): the tracker's address and port, this host's task id
    (its rank, zero-padded: the tracker's sort by task id is the order of sorted(hosts)) and
    the number of workers."""
    resource = topology.resource
    return {
        collective.TRACKER_URI: topology.ip_address(resource.leader),
        collective.TRACKER_PORT: str(topology.port(Port.XGBOOST_TRACKER)),
        collective.TASK_ID: f"{resource.rank:06d}",
        collective.NUM_WORKER: str(topology.world_size),
    }


def start_tracker(topology: Topology, bootstrap_timeout_s: float | None) -> Any:
    """XGBoost's tracker on the leader, started before the rendezvous completes, so that it
    listens before anyone connects. `bootstrap_timeout_s`: how long it waits for every
    worker to join; None: as long as it takes.

    Raises:
        PlatformError: It cannot start (its port is taken, say).
    """
    from xgboost.tracker import RabitTracker

    try:
        with sigterm_held():  # and its thread inherits the block
            tracker = RabitTracker(
                n_workers=topology.world_size,
                host_ip=topology.ip_address(topology.resource.leader),
                port=topology.port(Port.XGBOOST_TRACKER),
                sortby="task",
                timeout=0 if bootstrap_timeout_s is None else max(1, int(bootstrap_timeout_s)),
            )
            tracker.start()
    except Exception as exc:
        raise PlatformError(
            f"the leader cannot start XGBoost's tracker on port "
            f"{topology.port(Port.XGBOOST_TRACKER)}: {xgboost_message(exc)}",
            caused_by=exc,
        ) from exc
    return tracker


def _wait_for_tracker(tracker: Any) -> None:
    """After a clean finish, let the tracker see every worker leave."""
    try:
        tracker.wait_for(10)
    except Exception:
        logger.debug("tracker did not shut down cleanly", exc_info=True)


def free_tracker(tracker: Any) -> None:
    # On a failed job workers may never have come: don't wait for them, and don't let the
    # tracker's complaint about that hide the job's own reason.
    try:
        tracker.free()
    except Exception:
        logger.debug("tracker could not be freed", exc_info=True)


def collective_timeout_s(environ: Mapping[str, str] | None = None) -> float:
    """The bound on a host's silence, from SMTUNE_COLLECTIVE_TIMEOUT (seconds)."""
    environ = os.environ if environ is None else environ
    raw = environ.get(COLLECTIVE_TIMEOUT_VARIABLE)
    if raw is None:
        return DEFAULT_COLLECTIVE_TIMEOUT_S
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not 0 < value < math.inf:
        raise UserError(
            f"{COLLECTIVE_TIMEOUT_VARIABLE}={raw!r} is out of range: must be a number of "
            "seconds > 0"
        )
    return value


class Heartbeat:
    """Every host tells the leader it is alive; the leader answers, and names a silent host.

    UDP datagrams to the leader's rendezvous port number (UDP's ports are not TCP's, so no
    port of the job's block is taken). A host is alive while its process runs: XGBoost's
    calls release the GIL, so this thread beats while the main thread waits in a collective.
    The leader fails when a host is unheard for `bound_s`, after telling the others which
    one, so that every host names it; a host that stops hearing the leader names the leader.
    A host leaving cleanly says "bye", so that a peer still finishing does not wait for it.
    """

    def __init__(self, topology: Topology, paths: ContainerPaths, bound_s: float) -> None:
        resource = topology.resource
        self.host = resource.current_host
        self.leader = resource.leader
        self.peers = [h for h in resource.hosts if h != resource.current_host]
        self.address = (topology.ip_address(resource.leader), topology.port(Port.RENDEZVOUS))
        self.paths = paths
        self.bound_s = bound_s
        self.period_s = min(bound_s / 5, 5.0)
        self._stopped = threading.Event()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        if resource.is_leader:
            try:
                self._sock.bind(self.address)
            except OSError as exc:
                self._sock.close()
                raise PlatformError(
                    f"the leader cannot listen for heartbeats on UDP {self.address}: {exc}",
                    caused_by=exc,
                ) from exc
        run = self._lead if resource.is_leader else self._follow
        self._thread = threading.Thread(target=run, name="heartbeat", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stopped.set()
        self._thread.join(timeout=self.period_s + 1)
        self._sock.close()

    def _lead(self) -> None:
        heard = {host: time.monotonic() for host in self.peers}
        senders: dict[str, tuple[str, int]] = {}
        self._sock.settimeout(self.period_s)
        while not self._stopped.is_set():
            message, sender = self._receive()
            host = message.get("host")
            if host in heard:
                if message.get("bye"):
                    del heard[host]
                    continue
                heard[host], senders[host] = time.monotonic(), sender
                self._send({"hung": None}, sender)
            silent = [h for h, t in sorted(heard.items()) if time.monotonic() - t > self.bound_s]
            if silent and not self._stopped.is_set():
                for other in senders.values():
                    self._send({"hung": silent[0]}, other)
                self._fail(silent[0])
        for other in senders.values():
            self._send({"host": self.host, "bye": True}, other)

    def _follow(self) -> None:
        heard = time.monotonic()
        next_beat = heard
        while not self._stopped.is_set():
            now = time.monotonic()
            if now >= next_beat:
                self._send({"host": self.host}, self.address)
                next_beat = now + self.period_s
            self._sock.settimeout(max(0.01, next_beat - now))
            message, _ = self._receive()
            if message.get("bye"):
                return
            if "hung" in message:
                if message["hung"] is not None:
                    self._fail(message["hung"])
                heard = time.monotonic()
            if time.monotonic() - heard > self.bound_s and not self._stopped.is_set():
                self._fail(self.leader)
        self._send({"host": self.host, "bye": True}, self.address)

    def _receive(self) -> tuple[dict[str, Any], Any]:
        try:
            data, sender = self._sock.recvfrom(1024)
            message = json.loads(data)
        except (OSError, ValueError):  # a timeout, a refused send reported late, a stray
            return {}, None
        return (message, sender) if isinstance(message, dict) else ({}, None)

    def _send(self, message: dict[str, Any], address: tuple[str, int]) -> None:
        with contextlib.suppress(OSError):  # the leader not bound yet: the next beat tells
            self._sock.sendto(json.dumps(message).encode(), address)

    def _fail(self, host: str) -> None:
        fail_now(
            self.paths,
            PlatformError(
                f"host {host} stopped answering for {self.bound_s:g} s during training (it "
                "hangs, or the network to it stopped): rerun the job; if it repeats, read "
                f"that host's log; if it was only slow, raise {COLLECTIVE_TIMEOUT_VARIABLE}"
            ),
        )
