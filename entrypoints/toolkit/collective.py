"""XGBoost's collective for a script on smtune's XGBoost image, joined from the environment.

On a job of N > 1 hosts, smtune starts XGBoost's tracker on the leader (as the built-in
algorithm does) and gives every host's script these variables (dmlc's names):

- DMLC_TRACKER_URI: the tracker's address (the leader's);
- DMLC_TRACKER_PORT: its port;
- DMLC_TASK_ID: this host's rank, zero-padded ("000001"): the tracker ranks workers in the
  order of their task ids, which is the order of sorted(SM_HOSTS);
- DMLC_NUM_WORKER: how many workers join (the world size: one per host).

`xgboost.collective.init` reads no environment variable: it takes the first three as its
keywords, in lower case (`init_arguments` gives them). On one host none is set; a script
then trains alone. `joined()` does it all, and is optional:

    from smtune.entrypoints.toolkit import collective

    with collective.joined() as place:  # rank and world size
        rows = all_rows[place.rank :: place.world_size]
        booster = xgboost.train(params, xgboost.DMatrix(...))  # histograms allreduced
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

TRACKER_URI = "DMLC_TRACKER_URI"
TRACKER_PORT = "DMLC_TRACKER_PORT"
TASK_ID = "DMLC_TASK_ID"
NUM_WORKER = "DMLC_NUM_WORKER"


@dataclass(frozen=True)
class Place:
    """This worker's rank among `world_size` workers."""

    rank: int
    world_size: int


def init_arguments(environ: Mapping[str, str] | None = None) -> dict[str, Any] | None:
    """`xgboost.collective.init`'s keywords from the variables above, or None on a job that
    has no tracker (one host)."""
    environ = os.environ if environ is None else environ
    if TRACKER_URI not in environ:
        return None
    missing = [name for name in (TRACKER_PORT, TASK_ID) if not environ.get(name)]
    if missing:
        raise RuntimeError(f"{TRACKER_URI} is set but {', '.join(missing)} are not")
    return {
        "dmlc_communicator": "rabit",
        "dmlc_tracker_uri": environ[TRACKER_URI],
        "dmlc_tracker_port": int(environ[TRACKER_PORT]),
        "dmlc_task_id": environ[TASK_ID],
    }


@contextlib.contextmanager
def joined(environ: Mapping[str, str] | None = None) -> Iterator[Place]:
    """Join XGBoost's collective for the block, then leave it; rank 0 of 1 without a tracker.

    Every host must enter it: the tracker waits for all of them before anyone trains.

    Raises:
        RuntimeError: XGBoost ranked this worker other than its task id says (the ranks the
            script shards by would not be XGBoost's).
    """
    from xgboost import collective

    arguments = init_arguments(environ)
    if arguments is None:
        yield Place(0, 1)
        return
    collective.init(**arguments)
    try:
        place = Place(collective.get_rank(), collective.get_world_size())
        if place.rank != int(arguments["dmlc_task_id"]):
            raise RuntimeError(
                f"XGBoost ranked this worker {place.rank}, but its {TASK_ID} is "
                f"{arguments['dmlc_task_id']}: the tracker did not sort by task id"
            )
        yield place
    except BaseException:
        # Leaving a broken group fails too; that must not hide why it broke.
        with contextlib.suppress(Exception):
            collective.finalize()
        raise
    collective.finalize()
