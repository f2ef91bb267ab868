"""How jobs, their events and schedule history read on pages (words, not codes).

Pending reasons are sentences from portal.services.slurm_reasons (Slurm's code stays in
the API's `reason` field).
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from portal.services.jobs import TERMINAL
from portal.services.slurm_reasons import describe as describe_reason

STATES = {
    "submitting": _l("submitting"),
    "pending": _l("pending"),
    "held": _l("held"),
    "running": _l("running"),
    "completing": _l("completing"),
    "completed": _l("completed"),
    "failed": _l("failed"),
    "cancelled": _l("cancelled"),
    "timeout": _l("timed out"),
    "node_fail": _l("node failed"),
    "preempted": _l("preempted"),
    "suspended": _l("suspended"),
    "unknown": _l("unknown"),
    "lost": _l("lost"),
}

EVENTS = {
    "submitted": _l("Submitted as Slurm job %(slurm_job_id)s"),
    "held": _l("Held: %(reason)s"),
    "started": _l("Started on %(node)s"),
    "completed": _l("Finished with exit code %(exit_code)s"),
    "failed": _l("Failed with exit code %(exit_code)s %(reason)s"),
    "cancelled": _l("Cancelled %(reason)s"),
    "timeout": _l("Stopped at its time limit"),
    "node_fail": _l("Its node failed"),
    "preempted": _l("Preempted"),
    "lost": _l("Slurm has no record of this job"),
    "rejected": _l("Slurm refused the job: %(message)s"),
    "cancel_requested": _l("Cancel requested"),
    "extended": _l("Extended by %(hours)s h: time limit now %(time_limit_min)s min"),
    # Submission reliability (issue #13, portal/services/submission.py).
    "submit_uncertain": _l("Slurm did not answer the submission (%(message)s); the portal "
                           "is looking it up by its tag"),
    "not_submitted": _l("Never reached Slurm: nothing runs. Run the job again if you still "
                        "need it"),
    "duplicate_cancelled": _l("A second Slurm job %(slurm_job_id)s with this job's tag was "
                              "cancelled (%(state)s); Slurm job %(kept)s is this job"),
    "orphan_cancelled": _l("Slurm job %(slurm_job_id)s with this job's tag appeared after "
                           "the portal had given up on it, and was cancelled"),
}

HISTORY = {
    "created": _l("Schedule created (%(cron)s, %(timezone)s)"),
    "submitted": _l("Run for %(run_at)s submitted"),
    "started": _l("Run started on %(node)s"),
    "skipped": _l("Run for %(run_at)s skipped (cancelled before it started)"),
    "missed": _l("%(count)s run(s) missed while the portal was not running "
                 "(%(first)s – %(last)s): skipped"),
    "run_late": _l("%(count)s run(s) missed while the portal was not running "
                   "(%(first)s – %(last)s): ran once, late"),
    "run_cancelled": _l("Pending run for %(run_at)s cancelled with the schedule"),
    "duplicate_cancelled": _l("A second pending run (%(run_at)s) was cancelled"),
    "template_changed": _l("Template changed to %(template)s"),
    "error": _l("Could not submit a run: %(message)s"),
    "ended": _l("The schedule has no more runs before its end"),
    "deleted": _l("Schedule deleted"),
}


class _Blank(dict):
    def __missing__(self, key):
        return ""


def _words(table: dict, kind: str, details: dict) -> str:
    text = table.get(kind)
    if text is None:
        return kind
    try:
        return str(text) % _Blank({k: "" if v is None else v for k, v in details.items()})
    except (TypeError, ValueError):
        return str(text)


def event_text(event) -> str:
    details = dict(event.details or {})
    if event.kind == "held" and details.get("reason"):
        details["reason"] = reason_text(details["reason"])
    if details.get("reason") and event.kind in ("failed", "cancelled"):
        details["reason"] = f"({reason_text(details['reason'])})"
    return _words(EVENTS, event.kind, details).strip()


def history_text(event) -> str:
    return _words(HISTORY, event.kind, dict(event.details or {})).strip()


def reason_text(reason: str | None) -> str:
    """Slurm's reason code as a sentence (portal.services.slurm_reasons); "" for none."""
    return describe_reason(reason) if reason else ""


def state_label(state: str) -> str:
    return str(STATES.get(state, state))


def hardware(row) -> str:
    """ "a100 × 2 GPU, 8 CPU cores, 32 GB memory, 4 GB shared memory" """
    parts = []
    if row.gpu_count:
        parts.append(str(_l("%(model)s × %(count)s GPU", model=row.gpu_model,
                            count=row.gpu_count)))
    else:
        parts.append(str(_l("no GPU")))
    parts.append(str(_l("%(n)s CPU cores", n=row.cpus)))
    parts.append(str(_l("%(n)s GB memory", n=row.mem_gb)))
    if row.shm_gb:
        parts.append(str(_l("%(n)s GB shared memory", n=row.shm_gb)))
    nodes = getattr(row, "node_count", 1) or 1
    if nodes > 1:  # issue #15: the sizes above are per node
        return str(_l("%(n)s nodes, each: %(sizes)s", n=nodes, sizes=", ".join(parts)))
    return ", ".join(parts)


def job_view(job) -> dict:
    """Labels for the job's detail page."""
    from portal.services.jobscript import resubmit_args, shq

    script_file = f"{job.directory}/job.sh" if job.directory else ""
    resubmit = " ".join(["sbatch", *(shq(a) for a in resubmit_args(job.sbatch_args or [])),
                         shq(script_file)]) if script_file else ""
    return {
        "state": state_label(job.state),
        "reason": _waiting(reason_text(job.reason), job.slurm_job_id)
        if job.state in ("pending", "held") else "",
        "ended": job.state in TERMINAL,
        "hardware": hardware(job),
        "resubmit": resubmit,
    }


def gpu_model_names(view: dict) -> list[str]:
    return [g["model"] for g in view.get("gpu_models", [])]


def _waiting(reason: str, slurm_job_id) -> str:
    from portal.services.startest import waiting_words  # issue #17: and the expected start

    return waiting_words(reason, slurm_job_id)
