"""The error taxonomy of SageMaker's built-in algorithms.

Each error's message is written to /opt/ml/output/failure, which SageMaker shows as the
training job's FailureReason. The first line of the message must say what to fix.
"""

from __future__ import annotations


class TrainingError(Exception):
    """Base class: a failure that ends the training job with a reason for the user.

    Args:
        message: What went wrong and what to fix, naming the field, the value and the rule.
        caused_by: The underlying exception, if any; its text is appended to the reason.
    """

    kind = "TrainingError"

    def __init__(self, message: str, caused_by: BaseException | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.caused_by = caused_by

    def reason(self) -> str:
        """The failure text: the message first, then the kind and the cause."""
        detail = f"{self.kind}"
        if self.caused_by is not None:
            cause = str(self.caused_by).strip().splitlines()
            detail += f" caused by {type(self.caused_by).__name__}: {cause[0] if cause else ''}"
        return f"{self.message}\n{detail}"


class UserError(TrainingError):
    """Bad input: data, hyperparameters or configuration the user can fix."""

    kind = "UserError"


class AlgorithmError(TrainingError):
    """The algorithm itself failed (a bug, or a numerical failure)."""

    kind = "AlgorithmError"


class PlatformError(TrainingError):
    """The platform failed: a host was lost, the network broke, a peer never came."""

    kind = "PlatformError"


ERROR_KINDS: dict[str, type[TrainingError]] = {
    cls.kind: cls for cls in (UserError, AlgorithmError, PlatformError)
}
