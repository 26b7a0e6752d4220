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


class TuningJobStatus(enum.Enum):
    """A tuning job's status, spelled as the API spells HyperParameterTuningJobStatus (its
    training jobs' statuses are JobStatus)."""

    IN_PROGRESS = "InProgress"
    COMPLETED = "Completed"
    FAILED = "Failed"
    STOPPING = "Stopping"
    STOPPED = "Stopped"
    DELETING = "Deleting"
    DELETED = "Deleted"

    @property
    def ended(self) -> bool:
        return self in (
            TuningJobStatus.COMPLETED,
            TuningJobStatus.FAILED,
            TuningJobStatus.STOPPED,
            TuningJobStatus.DELETED,
        )

    def ended_as(self) -> JobStatus:
        """How an ended tuning job ended, as a job ends (a deleted one has no results)."""
        if not self.ended:
            raise ValueError(f"tuning job status {self.value} has not ended")
        if self in (TuningJobStatus.COMPLETED, TuningJobStatus.STOPPED):
            return JobStatus(self.value)
        return JobStatus.FAILED
