"""The state names of jobs and sessions and the tags their Slurm jobs carry.

Every job the portal submits has `--comment portal-<kind>-<uuid>`, recorded before sbatch
runs, so that after a crash the worker finds and adopts it instead of submitting twice
(docs/ARCHITECTURE.md). Approvals, duplicates, the sync loops and the feature services all
read these, so they live here rather than in jobs or sessions.
"""

from __future__ import annotations

JOB_TAG_PREFIX = "portal-job-"
SESSION_TAG_PREFIX = "portal-session-"

# Jobs: may still run (ACTIVE) or have ended (TERMINAL).
JOB_ACTIVE = ("submitting", "pending", "held", "running", "completing", "suspended",
              "unknown")
JOB_TERMINAL = ("completed", "failed", "cancelled", "timeout", "node_fail", "preempted",
                "lost")

# Sessions: hold (or may hold) a Slurm job (OPEN); may be deleted with scancel (DELETABLE).
SESSION_OPEN = ("submitting", "pending", "starting", "running", "deleting")
SESSION_DELETABLE = ("submitting", "pending", "starting", "running")

# A session asked for someone else that waits for their answer and never reached Slurm
# (issue #12, portal/services/sessionaccept.py), and how such a request ends.
AWAITING = "awaiting"
DECLINED = "declined"
WITHDRAWN = "withdrawn"


def job_tag(job) -> str:
    return JOB_TAG_PREFIX + job.uuid


def session_tag(session) -> str:
    return SESSION_TAG_PREFIX + session.uuid
