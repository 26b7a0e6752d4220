"""Membership of a multi-host job: every host joins, facts are exchanged, losses are named.

The leader (sorted(hosts)[0]) runs a small line-delimited JSON server; every host, the
leader included, keeps one connection to it for the life of the job:

    host -> leader   {"type": "join", "host": "algo-2", "info": {...}}
    leader -> all    {"type": "ready", "infos": {"algo-1": {...}, ...}}   all joined
                     {"type": "abort", "reason": "..."}                    one never came
    host -> leader   {"type": "done"}                                      finished cleanly
    leader -> all    {"type": "bye"}                                       everyone finished
    leader -> others {"type": "lost", "host": "algo-3"}                    its link dropped

Collective libraries (XGBoost's, gloo) fail when a peer dies, but they don't say which
peer, and a peer behind a dead network may never fail them at all. This channel names the
host, and lets a watchdog end a host that would otherwise wait forever.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from smtune.entrypoints.contract.errors import PlatformError
from smtune.entrypoints.contract.lifecycle import stoppable
from smtune.entrypoints.contract.topology import Port, Topology

logger = logging.getLogger(__name__)

_CONNECT_RETRY_S = 0.2


def _send(sock: socket.socket, message: dict[str, Any]) -> None:
    sock.sendall((json.dumps(message) + "\n").encode())


def _hang_up(sock: socket.socket) -> None:
    # close() alone leaves the connection open while a makefile() reader holds it.
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


class _Server:
    """The leader's side: collects joins, announces readiness, watches every link."""

    def __init__(self, hosts: tuple[str, ...], bind: str, port: int, timeout_s: float) -> None:
        self.hosts = hosts
        self.timeout_s = timeout_s
        try:
            self.listener = socket.create_server((bind, port), backlog=len(hosts) + 4)
        except OSError as exc:
            raise PlatformError(
                f"the leader cannot listen on {bind}:{port} for the other hosts: {exc}",
                caused_by=exc,
            ) from exc
        self.lock = threading.Condition()
        self.links: dict[str, socket.socket] = {}
        self.infos: dict[str, Any] = {}
        self.done: set[str] = set()
        self.closed = False

    def start(self) -> None:
        threading.Thread(target=self._accept, name="rendezvous-accept", daemon=True).start()
        threading.Thread(target=self._gather, name="rendezvous-gather", daemon=True).start()

    def close(self) -> None:
        with self.lock:
            self.closed = True
            links = list(self.links.values())
        _hang_up(self.listener)  # wakes the thread blocked in accept()
        for link in links:
            _hang_up(link)

    def _broadcast(self, message: dict[str, Any], skip: str | None = None) -> None:
        for host, link in list(self.links.items()):
            if host != skip:
                with contextlib.suppress(OSError):  # that link's own reader reports it
                    _send(link, message)

    def _accept(self) -> None:
        while True:
            try:
                link, _ = self.listener.accept()
            except OSError:
                return  # closed
            threading.Thread(target=self._serve, args=(link,), daemon=True).start()

    def _gather(self) -> None:
        with self.lock:
            complete = self.lock.wait_for(
                lambda: len(self.infos) == len(self.hosts) or self.closed, self.timeout_s
            )
            if self.closed:
                return
            if complete:
                self._broadcast({"type": "ready", "infos": self.infos})
                return
            missing = sorted(set(self.hosts) - set(self.infos))
            reason = (
                f"host {', '.join(missing)} did not join the job within {self.timeout_s:g} s: "
                "check that every host started and can reach the leader "
                f"{self.hosts[0]} over the network"
            )
            logger.error("%s", reason)
            self._broadcast({"type": "abort", "reason": reason})

    def _serve(self, link: socket.socket) -> None:
        reader = link.makefile("r", encoding="utf-8")
        host = None
        try:
            join = json.loads(reader.readline() or "{}")
            host = join.get("host")
            with self.lock:
                if join.get("type") != "join" or host not in self.hosts or host in self.links:
                    logger.warning("rejected a rendezvous join: %r", join)
                    link.close()
                    return
                self.links[host] = link
                self.infos[host] = join.get("info", {})
                self.lock.notify_all()
            for line in reader:
                message = json.loads(line)
                if message.get("type") == "done":
                    with self.lock:
                        self.done.add(host)
                        if self.done == set(self.hosts):
                            self._broadcast({"type": "bye"})
        except (OSError, ValueError):
            pass
        with self.lock:
            if host in self.links and host not in self.done and not self.closed:
                logger.error("lost the link to host %s", host)
                self._broadcast({"type": "lost", "host": host}, skip=host)


class Rendezvous:
    """One host's membership in the job.

    Args:
        topology: Hosts, addresses, ports and the join timeout.
        on_lost: Called (from a background thread) with the name of the first host whose
            link dropped before it finished; the leader's name if the leader itself is gone.
    """

    def __init__(self, topology: Topology, on_lost: Callable[[str], None]) -> None:
        self.topology = topology
        self.on_lost = on_lost
        self.resource = topology.resource
        self.server: _Server | None = None
        self.link: socket.socket | None = None
        self.finished = threading.Event()
        self.closing = threading.Event()

    def join(self, info: dict[str, Any]) -> dict[str, Any]:
        """Join the job; returns every host's `info` once all hosts have joined.

        A stop while waiting (up to the join timeout) raises lifecycle.Stopped at once; the
        caller's close() then hangs up.
        """
        with stoppable():
            return self._join(info)

    def _join(self, info: dict[str, Any]) -> dict[str, Any]:
        port = self.topology.port(Port.RENDEZVOUS)
        logger.info(
            "joining the job's %d hosts through the leader %s",
            len(self.resource.hosts), self.resource.leader,
        )  # fmt: skip
        if self.resource.is_leader:
            self.server = _Server(
                self.resource.sorted_hosts,
                self.topology.bind_address(),
                port,
                self.topology.timeout_s,
            )
            self.server.start()
        self.link = self._connect(port)
        _send(self.link, {"type": "join", "host": self.resource.current_host, "info": info})
        reader = self.link.makefile("r", encoding="utf-8")
        # The leader answers within its own timeout; allow a margin for a slow leader start.
        self.link.settimeout(self.topology.timeout_s + 30)
        try:
            answer = json.loads(reader.readline() or "{}")
        except (OSError, ValueError) as exc:
            raise PlatformError(
                f"lost the leader {self.resource.leader} while hosts were joining", caused_by=exc
            ) from exc
        if answer.get("type") == "abort":
            raise PlatformError(answer["reason"])
        if answer.get("type") != "ready":
            raise PlatformError(f"the leader {self.resource.leader} closed the rendezvous")
        self.link.settimeout(None)
        threading.Thread(target=self._watch, args=(reader,), daemon=True).start()
        return dict(answer["infos"])

    def finish(self, timeout_s: float = 60.0) -> None:
        """Say this host is done, and wait until every host is (so no one sees a false loss)."""
        if self.link is None:
            return
        with contextlib.suppress(OSError):
            _send(self.link, {"type": "done"})
        if not self.finished.wait(timeout_s):
            logger.warning("not every host said it was done within %g s", timeout_s)
        self.close()

    def close(self) -> None:
        self.closing.set()  # our own hang-up is no loss
        if self.server is not None:
            self.server.close()  # first: the leader's own link dropping is no loss either
        if self.link is not None:
            _hang_up(self.link)

    def _connect(self, port: int) -> socket.socket:
        leader = self.resource.leader
        address = self.topology.address(leader)
        deadline = time.monotonic() + self.topology.timeout_s
        while True:
            try:
                return socket.create_connection((address, port), timeout=5)
            except OSError as exc:
                # The leader may not listen yet, or its name may not resolve yet.
                if time.monotonic() > deadline:
                    raise PlatformError(
                        f"host {self.resource.current_host} could not reach the leader "
                        f"{leader} at {address}:{port} within {self.topology.timeout_s:g} s: "
                        "check that the leader started and the network allows it",
                        caused_by=exc,
                    ) from exc
                time.sleep(_CONNECT_RETRY_S)

    def _watch(self, reader: Any) -> None:
        try:
            for line in reader:
                message = json.loads(line)
                if message.get("type") == "lost":
                    self.on_lost(message["host"])
                elif message.get("type") == "bye":
                    self.finished.set()
                    return
        except (OSError, ValueError):
            pass
        if not self.finished.is_set() and not self.closing.is_set():
            self.on_lost(self.resource.leader)
