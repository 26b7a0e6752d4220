"""The rendezvous: joins, facts exchanged, a host that never comes, a host lost later."""

from __future__ import annotations

import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from smtune.containers.local.process import release_port_block, reserve_port_block
from smtune.entrypoints.contract.config import ResourceConfig
from smtune.entrypoints.contract.errors import PlatformError
from smtune.entrypoints.contract.rendezvous import Rendezvous
from smtune.entrypoints.contract.topology import Topology

HOSTS = ("algo-1", "algo-2", "algo-3")


@pytest.fixture
def port_base() -> Any:
    base = reserve_port_block()
    yield base
    release_port_block(base)


def member(host: str, port_base: int, timeout_s: float, lost: list[str]) -> Rendezvous:
    topology = Topology(
        resource=ResourceConfig(current_host=host, hosts=HOSTS),
        addresses={h: "127.0.0.1" for h in HOSTS},
        port_base=port_base,
        timeout_s=timeout_s,
    )
    return Rendezvous(topology, on_lost=lost.append)


def test_every_host_gets_every_hosts_info(port_base: int) -> None:
    members = [member(h, port_base, 10, []) for h in HOSTS]
    with ThreadPoolExecutor(len(HOSTS)) as pool:
        infos = list(
            pool.map(lambda m: m[0].join({"rows": m[1]}), zip(members, [5, 0, 7], strict=True))
        )
        list(pool.map(lambda m: m.finish(10), members))
    assert all(
        i == {"algo-1": {"rows": 5}, "algo-2": {"rows": 0}, "algo-3": {"rows": 7}} for i in infos
    )


def test_a_host_that_never_joins_is_named_after_the_timeout(port_base: int) -> None:
    members = [member(h, port_base, 1.5, []) for h in HOSTS[:2]]
    with ThreadPoolExecutor(2) as pool:
        futures = [pool.submit(m.join, {}) for m in members]
        for future in futures:
            with pytest.raises(
                PlatformError, match=r"host algo-3 did not join the job within 1.5 s"
            ):
                future.result(timeout=30)
    for m in members:
        m.close()


def test_a_worker_that_cannot_reach_the_leader_says_so(port_base: int) -> None:
    lonely = member("algo-2", port_base, 0.5, [])
    with pytest.raises(PlatformError, match=r"could not reach the leader algo-1 at 127.0.0.1"):
        lonely.join({})


def test_a_host_lost_after_joining_is_named_to_the_others(port_base: int) -> None:
    lost: dict[str, list[str]] = {h: [] for h in HOSTS}
    members = [member(h, port_base, 10, lost[h]) for h in HOSTS]
    with ThreadPoolExecutor(len(HOSTS)) as pool:
        list(pool.map(lambda m: m.join({}), members))
    heard = threading.Event()
    members[0].on_lost = lambda host: (lost["algo-1"].append(host), heard.set())
    # algo-3's link drops, unannounced, as when its process is killed.
    members[2].link.shutdown(socket.SHUT_RDWR)  # type: ignore[union-attr]
    assert heard.wait(10)
    for _ in range(100):
        if lost["algo-2"]:
            break
        threading.Event().wait(0.05)
    assert lost["algo-1"] == ["algo-3"] and lost["algo-2"] == ["algo-3"]
    for m in members:
        m.close()
