"""What a study's measurements say: the improvement per size, the cluster size to choose, and
how far Hyperband's rungs can be trusted (rank correlation with MaxResource). Pure."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from smtune.containers.status import JobStatus
from smtune.tuning.study.results import BaselineRun, Curve, TunedRun

TRUSTED_RHO = 0.7  # a rung whose ranks agree this well with MaxResource's stops on signal
MIN_PAIRS = 5  # fewer configurations than this say nothing of a correlation


def improvement_percent(untuned: float | None, tuned: float | None, maximize: bool) -> float | None:
    """How much better the tuned objective is than the untuned one, in percent of it."""
    if untuned is None or tuned is None or untuned == 0:
        return None
    gain = tuned - untuned if maximize else untuned - tuned
    return 100.0 * gain / abs(untuned)


def saved_percent(used: float, worst: float) -> float | None:
    """The share of the compute that early stopping saved."""
    return 100.0 * (1 - used / worst) if worst else None


def hosts_text(hosts: int) -> str:
    return f"{hosts} host{'s' if hosts != 1 else ''}"


@dataclass(frozen=True)
class Choice:
    hosts: int
    reason: str


def choose(
    baselines: Sequence[BaselineRun],
    tuned: Sequence[TunedRun],
    maximize: bool,
    tolerance: float,
    objective: str,
) -> Choice | None:
    """The fastest size whose tuned objective is within `tolerance` of the best size's.

    Speed is the untuned baseline's wall time at that size: a full training of the same
    rows, which is what a cluster size buys.
    """
    speed = {b.hosts: b.wall_seconds for b in baselines if b.status == JobStatus.COMPLETED.value}
    scored: dict[int, float] = {
        t.hosts: t.best_objective for t in tuned if t.best_objective is not None
    }
    sizes = sorted(set(speed) & set(scored))
    if not sizes:
        return None
    pick = max if maximize else min
    best_hosts = pick(sizes, key=lambda n: scored[n])
    best = scored[best_hosts]
    close = [n for n in sizes if abs(scored[n] - best) <= tolerance]
    hosts = min(close, key=lambda n: (speed[n], n))
    reason = (
        f"{hosts_text(hosts)}: the fastest full training "
        f"({speed[hosts]:.1f} s) among the sizes whose tuned {objective} is within "
        f"{tolerance:g} of the best ({best:.4f} at {hosts_text(best_hosts)}); its own is "
        f"{scored[hosts]:.4f}"
    )
    slower = [n for n in sizes if n not in close]
    if slower:
        reason += f"; {', '.join(map(str, slower))} host(s) fall more than {tolerance:g} short"
    return Choice(hosts, reason)


def ranks(values: Sequence[float]) -> list[float]:
    """Ranks from 1, ties sharing their average rank."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    result = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            result[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return result


def spearman(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """Spearman's rank correlation (Pearson's on the ranks); None where it is undefined."""
    if len(xs) != len(ys) or len(xs) < 3:
        return None
    rx, ry = ranks(xs), ranks(ys)
    mx, my = sum(rx) / len(rx), sum(ry) / len(ry)
    cov = sum((a - mx) * (b - my) for a, b in zip(rx, ry, strict=True))
    sx = math.sqrt(sum((a - mx) ** 2 for a in rx))
    sy = math.sqrt(sum((b - my) ** 2 for b in ry))
    return cov / (sx * sy) if sx and sy else None


@dataclass(frozen=True)
class RungTrust:
    """How well a configuration's rank at `rung` predicts its rank at MaxResource."""

    rung: int
    rho: float | None
    from_tuning: int  # tuning jobs that reached both the rung and MaxResource
    from_check: int  # configurations run to MaxResource for the purpose

    @property
    def pairs(self) -> int:
        return self.from_tuning + self.from_check


@dataclass(frozen=True)
class Recommendation:
    min_resource: int
    reason: str


def candidates(rungs: Sequence[int], max_resource: int) -> tuple[int, ...]:
    """The spec's rungs below MaxResource, and MaxResource/3^k: the MinResources worth a look."""
    points = {r for r in rungs if r < max_resource}
    points |= {max(1, max_resource // 3**k) for k in (1, 2, 3)}
    return tuple(sorted(p for p in points if p < max_resource))


def rung_trust(
    tuned: Sequence[TunedRun],
    check: TunedRun | None,
    rungs: Sequence[int],
    max_resource: int,
) -> list[RungTrust]:
    finished = [(c, False) for t in tuned for c in t.curves if c.at(max_resource) is not None] + [
        (c, True) for c in (check.curves if check else ()) if c.at(max_resource) is not None
    ]
    trust = []
    for rung in candidates(rungs, max_resource):
        pairs: list[tuple[Curve, bool]] = [(c, x) for c, x in finished if c.at(rung) is not None]
        rho = spearman(
            [c.at(rung) for c, _ in pairs],  # type: ignore[misc]
            [c.at(max_resource) for c, _ in pairs],  # type: ignore[misc]
        )
        checked = sum(1 for _, x in pairs if x)
        trust.append(RungTrust(rung, rho, len(pairs) - checked, checked))
    return trust


def recommend(trust: Sequence[RungTrust], min_resource: int, max_resource: int) -> Recommendation:
    """The smallest rung whose ranks agree with MaxResource's (rho >= TRUSTED_RHO)."""
    measured = [t for t in trust if t.rho is not None and t.pairs >= MIN_PAIRS]
    if not measured:
        most = max((t.pairs for t in trust), default=0)
        return Recommendation(
            min_resource,
            f"not measured: at most {most} configurations reached MaxResource, fewer than "
            f"{MIN_PAIRS}: raise rung_check.configurations; MinResource {min_resource} is kept "
            "untested",
        )
    at_spec = next((t for t in measured if t.rung == min_resource), None)
    spec_text = (
        f"; at the spec's MinResource {min_resource} rho = {at_spec.rho:.2f}"
        if at_spec and at_spec.rho is not None
        else ""
    )
    trusted = [t for t in measured if t.rho is not None and t.rho >= TRUSTED_RHO]
    if not trusted:
        best = max(measured, key=lambda t: t.rho or -1.0)
        return Recommendation(
            best.rung,
            f"no rung's ranks agree with MaxResource's (rho >= {TRUSTED_RHO}): the best is "
            f"rho = {best.rho:.2f} at {best.rung} over {best.pairs} configurations{spec_text}; "
            "stopping at any earlier rung stops configurations on noise",
        )
    first = trusted[0]
    verdict = "keep" if first.rung == min_resource else "use"
    return Recommendation(
        first.rung,
        f"{verdict} MinResource {first.rung}: the first rung whose ranks agree with "
        f"MaxResource {max_resource}'s, rho = {first.rho:.2f} >= {TRUSTED_RHO} over "
        f"{first.pairs} configurations ({first.from_tuning} tuning jobs that got there, "
        f"{first.from_check} run to MaxResource for this check){spec_text}",
    )
