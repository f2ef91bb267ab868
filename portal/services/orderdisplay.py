"""Orders in words (issue #16): the spec, approval states and history details as labelled,
translated fields instead of raw `key=value` text.

The API keeps the raw keys (`spec`, `history[].details`); pages call these. A key this
table does not know is still shown, labelled by its own name, so nothing recorded is ever
hidden.
"""

from __future__ import annotations

from collections.abc import Mapping

from flask_babel import lazy_gettext as _l

from portal.services.estimate import format_money
from portal.services.jobspec import format_time_limit, time_limit_words

KINDS = {"session": _l("Container"), "job": _l("Job"), "scheduled": _l("Scheduled run")}
APPROVALS = {"none": _l("not needed"), "pending": _l("waiting for a project manager"),
             "approved": _l("approved"), "rejected": _l("rejected"), "closed": _l("closed")}
STATES = {"submitting": _l("submitting"), "submitted": _l("submitted"),
          "pending": _l("pending"), "held": _l("held"), "running": _l("running"),
          "completing": _l("completing"), "completed": _l("completed"), "failed": _l("failed"),
          "cancelled": _l("cancelled"), "timeout": _l("timed out"), "ended": _l("ended"),
          "deleted": _l("deleted"), "gone": _l("no longer in Slurm"), "starting": _l("starting"),
          "deleting": _l("deleting"), "lost": _l("lost")}
EVENTS = {"created": _l("Created"), "held": _l("Held for approval"),
          "hold_failed": _l("Hold failed"), "approved": _l("Approved"),
          "rejected": _l("Rejected"), "closed": _l("Closed"), "submitted": _l("Submitted"),
          "changed": _l("Changed outside the portal"),
          "recorded_late": _l("Recorded by the worker (the order was missing)"),
          "resubmitted": _l("Slurm got the job again under a new id")}
_LABELS = {
    "slurm_job_id": _l("Slurm job"), "unit_price": _l("Unit price (per hour)"),
    "approval": _l("Approval"), "message": _l("Message"), "state": _l("State"),
    "account": _l("Slurm account"), "stage": _l("Stage"), "terms": _l("As Slurm held it"),
    "differences": _l("Differences"), "gpu_model": _l("GPU model"), "gpus": _l("GPUs"),
    "gpu_count": _l("GPUs"), "cpus": _l("CPU cores"), "mem_gb": _l("Memory"),
    "mem_mb": _l("Memory"), "shm_gb": _l("Shared memory"), "image": _l("Image"),
    "partition": _l("Partition"), "time_limit_min": _l("Time limit"),
    "time_limit": _l("Time limit"), "qos": _l("QOS"), "comment": _l("Tag"),
    "node_count": _l("Nodes"),
}


def label(key: str) -> str:
    return str(_LABELS.get(key, key.replace("_", " ")))


def kind_text(kind: str) -> str:
    return str(KINDS.get(kind, kind))


def approval_text(value: str | None) -> str:
    return str(APPROVALS.get(value or "none", value or ""))


def state_text(value: str | None) -> str:
    return str(STATES.get(value or "", value or ""))


def event_text(kind: str) -> str:
    return str(EVENTS.get(kind, kind))


def _minutes(value) -> str:
    try:
        minutes = int(value)
    except (TypeError, ValueError):
        return str(value)
    return f"{time_limit_words(minutes)} ({format_time_limit(minutes)})"


def _value(key: str, value) -> str:
    if value is None or value == "":
        return "—"
    if key in ("time_limit_min", "time_limit"):
        return _minutes(value)
    if key in ("mem_gb", "shm_gb"):
        return str(_l("%(n)s GB", n=value))
    if key == "mem_mb":
        return str(_l("%(n)s MB", n=value))
    if key == "unit_price":
        try:
            return format_money(value)
        except (ArithmeticError, ValueError, TypeError):
            return str(value)
    if key == "approval":
        return approval_text(str(value))
    if key == "state":
        return state_text(str(value))
    if isinstance(value, Mapping):
        return "; ".join(f"{label(k)}: {_value(k, v)}" for k, v in value.items()
                         if v is not None)
    if isinstance(value, list | tuple):
        if len(value) == 2 and not any(isinstance(v, list | dict) for v in value):
            return str(_l("approved %(want)s, found %(have)s",
                          want="—" if value[0] is None else value[0],
                          have="—" if value[1] is None else value[1]))
        return ", ".join(str(v) for v in value)
    return str(value)


def spec_items(spec: Mapping | None) -> list[tuple[str, str]]:
    """(label, value) rows of an order's spec: GPUs as "2 × a100", memory in GB, the time
    limit in words with its sbatch form."""
    spec = dict(spec or {})
    rows: list[tuple[str, str]] = []
    count = spec.pop("gpu_count", None)
    model = spec.pop("gpu_model", None)
    if count is not None or model is not None:
        rows.append((str(_l("GPUs")), f"{count or 0} × {model}" if count and model
                     else str(count or _l("none"))))
    for key, value in spec.items():
        rows.append((label(key), _value(key, value)))
    return rows


def detail_items(details: Mapping | None) -> list[tuple[str, str]]:
    """(label, value) rows of a history event's details."""
    return [(label(k), _value(k, v)) for k, v in (details or {}).items()]
