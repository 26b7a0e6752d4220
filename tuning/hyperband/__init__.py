"""Hyperband, pure: bracket and rung arithmetic, sampling and decisions; no I/O, no project imports.

AMT does not publish its Hyperband's internals (η, bracket assignment, promotion). What this
package computes is our documented reading of it: η = 3, rungs at MinResource·η^k below
MaxResource, and brackets as in Hyperband (Li et al., 2018) and ASHA (Li et al., 2020): by
default ASHA's one bracket from MinResource, as AWS describes AMT's Hyperband; Hyperband's
weighted brackets on request (`BracketPolicy`, in `policy`).
`space` holds AMT's ranges, which the rest of `tuning` renders from (see there why here).
"""

from smtune.tuning.hyperband.bracketing import Bracket, brackets, rungs
from smtune.tuning.hyperband.policy import BracketPolicy, draw_bracket
from smtune.tuning.hyperband.scheduler import Decision, HyperbandScheduler, Suggestion, Verdict
from smtune.tuning.hyperband.space import (
    Choice,
    FloatRange,
    IntRange,
    Range,
    Scaling,
    api_ranges,
    bound_problems,
    sample,
)

__all__ = [
    "Bracket",
    "BracketPolicy",
    "Choice",
    "Decision",
    "FloatRange",
    "HyperbandScheduler",
    "IntRange",
    "Range",
    "Scaling",
    "Suggestion",
    "Verdict",
    "api_ranges",
    "bound_problems",
    "brackets",
    "draw_bracket",
    "rungs",
    "sample",
]
