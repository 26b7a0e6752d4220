"""Where the other hosts of a job are, and which ports the job's services use.

On SageMaker (and the docker backend) host names such as algo-2 resolve by DNS and every
host is its own machine, so fixed ports are fine. The process backend runs all hosts on
one machine, where names don't resolve and jobs running side by side must not share
ports; it passes a name-to-address map and a block of free ports through variables that
SageMaker never sets.
"""

from __future__ import annotations

import enum
import json
import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from smtune.entrypoints.contract.config import ResourceConfig
from smtune.entrypoints.contract.errors import PlatformError

HOST_ADDRESSES_VARIABLE = "SMTUNE_HOST_ADDRESSES"
PORT_BASE_VARIABLE = "SMTUNE_PORT_BASE"
TIMEOUT_VARIABLE = "SMTUNE_RENDEZVOUS_TIMEOUT"
DEFAULT_PORT_BASE = 9100
DEFAULT_TIMEOUT_S = 300.0
N = TypeVar("N", int, float)


class Port(enum.IntEnum):
    """Offsets into a job's block of ports."""

    RENDEZVOUS = 0
    XGBOOST_TRACKER = 1
    TORCH_MASTER = 2
    # Horovod's rendezvous server picks a free port itself; the leader announces it.


PORT_BLOCK_SIZE = 8  # room for the ports above and a few more


@dataclass(frozen=True)
class Topology:
    resource: ResourceConfig
    addresses: Mapping[str, str] = field(default_factory=dict)
    port_base: int = DEFAULT_PORT_BASE
    timeout_s: float = DEFAULT_TIMEOUT_S

    @classmethod
    def from_environment(
        cls, resource: ResourceConfig, environ: Mapping[str, str] | None = None
    ) -> Topology:
        environ = os.environ if environ is None else environ
        addresses: dict[str, str] = {}
        if HOST_ADDRESSES_VARIABLE in environ:
            try:
                addresses = dict(json.loads(environ[HOST_ADDRESSES_VARIABLE]))
            except (ValueError, TypeError) as exc:
                raise PlatformError(
                    f"{HOST_ADDRESSES_VARIABLE} must be a JSON object of host: address",
                    caused_by=exc,
                ) from exc
        return cls(
            resource=resource,
            addresses=addresses,
            port_base=_number(environ, PORT_BASE_VARIABLE, int, DEFAULT_PORT_BASE),
            timeout_s=_number(environ, TIMEOUT_VARIABLE, float, DEFAULT_TIMEOUT_S),
        )

    @property
    def world_size(self) -> int:
        return len(self.resource.hosts)

    def address(self, host: str) -> str:
        """The address to reach `host` at: a name for DNS, or the local map's address."""
        return self.addresses.get(host, host)

    def ip_address(self, host: str) -> str:
        """The numeric address of `host` (services that must bind or announce an IP)."""
        try:
            return socket.gethostbyname(self.address(host))
        except OSError as exc:
            raise PlatformError(
                f"host {host} does not resolve to an address: check the job's network",
                caused_by=exc,
            ) from exc

    def bind_address(self) -> str:
        """Where this host's servers listen: its own address locally, every interface else."""
        return self.addresses.get(self.resource.current_host, "0.0.0.0")

    def port(self, which: Port) -> int:
        return self.port_base + int(which)


def _number(environ: Mapping[str, str], name: str, kind: type[N], default: N) -> N:
    raw = environ.get(name)
    if raw is None:
        return default
    try:
        return kind(raw)
    except ValueError as exc:
        raise PlatformError(f"{name}={raw!r} must be a {kind.__name__}", caused_by=exc) from exc
