"""The status of a training job: SageMaker's TrainingJobStatus, for local jobs, the rehearsal's
journal and the jobs of a tuning job on SageMaker alike."""

from __future__ import annotations

import enum


class JobStatus(enum.Enum):
    """A training job's status, spelled as the API spells TrainingJobStatus."""

    IN_PROGRESS = "InProgress"
    COMPLETED = "Completed"
    FAILED = "Failed"
    STOPPING = "Stopping"
    STOPPED = "Stopped"

    @property
    def ended(self) -> bool:
        """Whether the job has ended: Completed, Failed or Stopped."""
        return self in (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.STOPPED)
