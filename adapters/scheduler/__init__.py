"""The scheduler adapter: a small abstract interface and its Slurm implementation."""

from adapters.scheduler.base import (
    ClusterInfo,
    JobInfo,
    JobSpec,
    JobState,
    NodeInfo,
    PartitionInfo,
    Scheduler,
)
from adapters.scheduler.slurm import SlurmScheduler

__all__ = [
    "ClusterInfo",
    "JobInfo",
    "JobSpec",
    "JobState",
    "NodeInfo",
    "PartitionInfo",
    "Scheduler",
    "SlurmScheduler",
]
