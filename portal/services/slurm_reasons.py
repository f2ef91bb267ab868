"""Slurm's pending reasons in words people understand (projects, jobs and sessions use it).

Slurm shows a code ("QOSGrpGRES"); a page shows a sentence saying what holds the job and
what will let it start. Codes follow a grammar — a prefix saying whose limit it is
(QOS/Assoc), "Grp" (the whole project) or "Max…PerUser"/"Max…PerJob", then the resource —
so codes this table does not list are still explained from their parts. Unknown codes
come back as Slurm wrote them, never as an error.
"""

from __future__ import annotations

import re

from flask_babel import lazy_gettext as _l

REASONS: dict[str, object] = {
    "None": _l("Waiting to be scheduled."),
    "Resources": _l("Waiting for resources: the GPUs, CPUs or memory it asks for are in use; "
                    "it starts when they free up."),
    "Priority": _l("Other jobs with a higher priority are waiting before it."),
    "QOSGrpGRES": _l("The project's GPU quota is used up; the job starts when GPUs in the "
                     "project free up."),
    "QOSGrpCpuLimit": _l("The project's CPU quota is used up; the job starts when CPUs in "
                         "the project free up."),
    "QOSGrpMemLimit": _l("The project's memory quota is used up; the job starts when memory "
                         "in the project frees up."),
    "AssocGrpGRES": _l("The project's GPU limit is used up; the job starts when GPUs in the "
                       "project free up."),
    "AssocGrpCpuLimit": _l("The project's CPU limit is used up; the job starts when CPUs in "
                           "the project free up."),
    "AssocGrpMemLimit": _l("The project's memory limit is used up; the job starts when "
                           "memory in the project frees up."),
    "AssocGrpJobsLimit": _l("The project may not start jobs now (for example, it has "
                            "expired); the job waits until the project is extended."),
    "AssocGrpSubmitJobsLimit": _l("The project may not accept more jobs now."),
    "QOSMaxGRESPerUser": _l("You are using all the GPUs one person may use in this project; "
                            "the job starts when one of your jobs ends."),
    "QOSMaxCpuPerUserLimit": _l("You are using all the CPUs one person may use; the job "
                                "starts when one of your jobs ends."),
    "QOSMaxMemoryPerUser": _l("You are using all the memory one person may use; the job "
                              "starts when one of your jobs ends."),
    "QOSMaxJobsPerUserLimit": _l("You are running as many jobs as one person may; the job "
                                 "starts when one of them ends."),
    "AssocMaxJobsLimit": _l("You are running as many jobs as your project allows per person; "
                            "the job starts when one of them ends."),
    "QOSMaxWallDurationPerJobLimit": _l("The job asks for more time than the project's "
                                        "session limit allows; it will not start. Ask for "
                                        "less time."),
    "AssocMaxWallDurationPerJobLimit": _l("The job asks for more time than the project "
                                          "allows; it will not start. Ask for less time."),
    # With AccountingStorageEnforce=safe Slurm starts a job only when the budget left
    # covers its WHOLE time limit × price, so this also holds jobs that would end in time.
    "AssocGrpBillingMinutes": _l("Waiting for the budget: Slurm starts a job only when the "
                                 "project's budget left covers its whole time limit at "
                                 "its price. Ask for a shorter time limit, or ask an "
                                 "administrator for a top-up."),
    "QOSGrpBillingMinutes": _l("Waiting for the budget: Slurm starts a job only when the "
                               "project's budget left covers its whole time limit at its "
                               "price. Ask for a shorter time limit, or ask an "
                               "administrator for a top-up."),
    "BeginTime": _l("Scheduled to start later, at the chosen start time."),
    "Dependency": _l("Waiting for another job it depends on to finish."),
    "DependencyNeverSatisfied": _l("The job it depended on did not end as required; this "
                                   "job will never start. Delete it."),
    "JobHeldUser": _l("Held by its owner; release it to let it start."),
    "JobHeldAdmin": _l("Held by an administrator or waiting for approval; only an "
                       "administrator or a manager's approval releases it."),
    "ReqNodeNotAvail": _l("The nodes it needs are unavailable (down, drained or reserved) "
                          "right now."),
    "PartitionTimeLimit": _l("The job asks for more time than the partition allows; it "
                             "will not start. Ask for less time."),
    "PartitionNodeLimit": _l("The job asks for more nodes than the partition allows."),
    "PartitionDown": _l("The partition is down; the job starts when it is back."),
    "PartitionInactive": _l("The partition is not accepting work right now."),
    "InvalidAccount": _l("The job's project (Slurm account) is not valid; it will not start."),
    "AccountNotAllowed": _l("This project may not use the chosen partition."),
    "InvalidQOS": _l("The job's QOS is not valid for this project; it will not start."),
    "QOSNotAllowed": _l("This project may not use the chosen QOS."),
    "NodeDown": _l("A node it needs is down."),
    "BadConstraints": _l("No node can satisfy what the job asks for; it will not start."),
    "Reservation": _l("Waiting for its reservation to start."),
    "launch failed requeued held": _l("Starting failed and the job was put back on hold."),
    "job_requeued_in_held_state": _l("The job was requeued and is held."),
    "JobArrayTaskLimit": _l("The job array already runs as many tasks at once as it may."),
    "Licenses": _l("Waiting for a license."),
    "Cleaning": _l("Waiting for a previous run of the job to be cleaned up."),
}

_RESOURCE = {
    "GRES": _l("GPUs"), "Cpu": _l("CPUs"), "Mem": _l("memory"), "Memory": _l("memory"),
    "Node": _l("nodes"), "Jobs": _l("jobs"), "SubmitJobs": _l("jobs"),
    "Billing": _l("budget"), "Wall": _l("run time"),
}
_GRAMMAR = re.compile(
    r"^(?P<owner>QOS|Assoc)(?P<scope>Grp|Max)(?P<what>GRES|Cpu|Mem|Memory|Node|Jobs|"
    r"SubmitJobs|Billing|Wall)"
)


def describe(reason: str | None) -> str:
    """`reason` (Slurm's code, with or without parentheses) as a sentence; "" for none.

    Never raises: an unknown code is returned as Slurm wrote it.
    """
    code = (reason or "").strip().strip("()").strip()
    if not code:
        return ""
    known = REASONS.get(code)
    if known is not None:
        return str(known)
    match = _GRAMMAR.match(code)
    if match is None:
        return code
    resource = _RESOURCE[match.group("what")]
    if match.group("scope") == "Grp":
        return str(_l("The project's limit on %(resource)s is reached (%(code)s); the job "
                      "waits until some is freed.", resource=resource, code=code))
    return str(_l("The job or you reached a per-person or per-job limit on %(resource)s "
                  "(%(code)s).", resource=resource, code=code))


reason_text = describe  # the name other features look for
