"""botocore's SageMaker service model: the request's enums and bounds, and its validator.

botocore's ParamValidator catches types, required fields and minimums. It does not check enum
values, and it accepts a Hyperband config without MinResource: `planning.checks` does.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

OPERATION = "CreateHyperParameterTuningJob"


@cache
def service_model() -> Any:
    import botocore.session

    return botocore.session.get_session().get_service_model("sagemaker")


def input_shape(*path: str) -> Any:
    """A member shape of the operation's input, by its path (lists step into their member)."""
    shape = service_model().operation_model(OPERATION).input_shape
    for name in path:
        shape = shape.members[name]
        if shape.type_name == "list":
            shape = shape.member
    return shape


def allowed(*path: str) -> list[str]:
    """The enum values of a request field, read from the service model."""
    return list(input_shape(*path).enum)


def check_with_botocore(request: Mapping[str, Any]) -> list[str]:
    from botocore.validate import ParamValidator

    shape = service_model().operation_model(OPERATION).input_shape
    report = ParamValidator().validate(request, shape)
    if not report.has_errors():
        return []
    # One line per problem, no header (ParamValidationError adds that): keep every line.
    lines = report.generate_report().splitlines()
    return [f"request: {line.strip()}" for line in lines if line.strip()]
