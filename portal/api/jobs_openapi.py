"""OpenAPI paths and schemas of the jobs, templates and schedules API (merged into
portal.api.openapi's PATHS/SCHEMAS when portal.api.jobs is imported)."""

from __future__ import annotations

from portal.api.openapi import _errors, _ok


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _list(name: str) -> dict:
    return {"type": "array", "items": _ref(name)}


def _id(name: str) -> list[dict]:
    return [{"name": name, "in": "path", "required": True, "schema": {"type": "integer"}}]


def _body(schema: dict) -> dict:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


TEXT_LOG = {
    "description": "The log (whole, or the requested byte range)",
    "content": {"text/plain": {"schema": {"type": "string"}}},
}

JOB_PATHS: dict = {
    "/jobs": {
        "get": {"summary": "Jobs in the current project (own; managers: all members')",
                "responses": {"200": _ok(_list("Job")), **_errors(401)}},
        "post": {"summary": "Run a job (or from a template with template_id)",
                 "requestBody": _body(_ref("JobInput")),
                 "responses": {"201": _ok(_ref("JobDetail"), "Submitted"),
                               **_errors(400, 401, 403)}},
    },
    "/jobs/{job_id}": {
        "get": {"summary": "A job with its events and batch script", "parameters": _id("job_id"),
                "responses": {"200": _ok(_ref("JobDetail")), **_errors(401, 404)}},
        "delete": {"summary": "Cancel if it may still run, hide it from the list",
                   "parameters": _id("job_id"),
                   "responses": {"204": {"description": "Deleted"}, **_errors(400, 401, 404)}},
    },
    "/jobs/{job_id}/extend": {
        "post": {"summary": "Extend a running job by `hours` (owner; issue #17): the "
                            "operator raises its Slurm TimeLimit, capped by the project's "
                            "MaxWall, the partition's MaxTime and what the wallet covers; "
                            "a cap answers 409 `extend_over_<cap>` with `cap` and "
                            "`most_hours`. Takes an Idempotency-Key",
                 "parameters": _id("job_id"),
                 "requestBody": _body({"type": "object", "required": ["hours"],
                                       "properties": {"hours": {"type": "integer",
                                                                "minimum": 1}}}),
                 "responses": {"200": _ok(_ref("JobDetail"), "Extended (see `ends_at`)"),
                               **_errors(400, 401, 404),
                               "409": {"description": "A cap or the state refuses it: "
                                                      "`error.cap`, `error.most_hours`",
                                       "content": {"application/json": {"schema": {
                                           "$ref": "#/components/schemas/Error"}}}}}},
    },
    "/jobs/{job_id}/log": {
        "get": {"summary": "The job's log as text; supports `Range: bytes=…` (206)",
                "parameters": _id("job_id") + [
                    {"name": "Range", "in": "header", "required": False,
                     "schema": {"type": "string", "example": "bytes=-4096"}}],
                "responses": {"200": TEXT_LOG, "206": TEXT_LOG,
                              "416": {"description": "Range outside the log"},
                              **_errors(400, 401, 404)}},
    },
    "/templates": {
        "get": {"summary": "Your templates in the current project",
                "responses": {"200": _ok(_list("Template")), **_errors(401)}},
        "post": {"summary": "Save a template", "requestBody": _body(_ref("TemplateInput")),
                 "responses": {"201": _ok(_ref("Template"), "Created"), **_errors(400, 401)}},
    },
    "/templates/{template_id}": {
        "get": {"summary": "A template", "parameters": _id("template_id"),
                "responses": {"200": _ok(_ref("Template")), **_errors(401, 403, 404)}},
        "put": {"summary": "Replace a template", "parameters": _id("template_id"),
                "requestBody": _body(_ref("TemplateInput")),
                "responses": {"200": _ok(_ref("Template")), **_errors(400, 401, 403, 404)}},
        "delete": {"summary": "Delete a template no active schedule uses",
                   "parameters": _id("template_id"),
                   "responses": {"204": {"description": "Deleted"},
                                 **_errors(400, 401, 403, 404)}},
    },
    "/templates/{template_id}/run": {
        "post": {"summary": "Run a job from the template (name defaults to <template>-<n>)",
                 "parameters": _id("template_id"),
                 "requestBody": {"required": False, "content": {
                     "application/json": {"schema": _ref("JobInput")}}},
                 "responses": {"201": _ok(_ref("JobDetail"), "Submitted"),
                               **_errors(400, 401, 403, 404)}},
    },
    "/schedules": {
        "get": {"summary": "Your schedules in the current project",
                "responses": {"200": _ok(_list("Schedule")), **_errors(401)}},
        "post": {"summary": "Create a schedule; its first run is submitted at once",
                 "requestBody": _body(_ref("ScheduleInput")),
                 "responses": {"201": _ok(_ref("Schedule"), "Created"),
                               **_errors(400, 401, 403, 404)}},
    },
    "/schedules/preview": {
        "post": {"summary": "A trigger in words and its next five run times",
                 "requestBody": _body(_ref("ScheduleInput")),
                 "responses": {"200": _ok(_ref("SchedulePreview")), **_errors(400, 401)}},
    },
    "/schedules/{schedule_id}": {
        "get": {"summary": "A schedule with its upcoming run and history",
                "parameters": _id("schedule_id"),
                "responses": {"200": _ok(_ref("Schedule")), **_errors(401, 404)}},
        "delete": {"summary": "Delete the schedule and cancel its pending run",
                   "parameters": _id("schedule_id"),
                   "responses": {"204": {"description": "Deleted"}, **_errors(401, 404)}},
    },
}

_INT, _STR = {"type": "integer"}, {"type": "string"}
_NSTR, _NINT = {"type": ["string", "null"]}, {"type": ["integer", "null"]}
SPEC = {
    "gpu_model": _NSTR, "gpu_count": _INT, "cpus": _INT, "mem_gb": _INT, "shm_gb": _INT,
    "image_type": {"type": "string", "enum": ["public", "custom"]}, "image": _STR,
    "command": {"type": "string", "description": "Run exactly as typed inside the image"},
    "time_limit_min": {"type": ["integer", "null"],
                       "description": "sbatch --time in minutes; in a job, what Slurm got; "
                                      "in a template, null means the project's MaxWall "
                                      "(else the partition default) when it runs"},
}
# What a request may send besides the spec: the time limit in sbatch --time notation.
TIME_INPUT = {"time_limit": {
    "type": ["string", "integer"],
    "description": 'sbatch --time: minutes ("30" or 30), "H:MM:SS", "D-HH:MM:SS"; default '
                   "the project's MaxWall, else the partition default; at most the MaxWall "
                   "(error time_over_limit; unreadable: invalid_time_limit)"}}
# Issue #12: where the project asks for approval, why this is needed (shown to the manager).
REASON = {"reason": {"type": ["string", "null"],
                     "description": "Why it is needed, for the manager who approves it "
                                    "(projects with an approval threshold)"}}
JOB = {
    "type": "object",
    "properties": {
        "id": _INT, "name": _STR, "state": _STR, "reason": _NSTR, "reason_text": _NSTR,
        "slurm_job_id": _NSTR, "account": _STR, "partition": _NSTR, "nodes": _NSTR,
        "owner": _STR, "framework": _STR, **SPEC,
        "created_at": _STR, "submitted_at": _NSTR, "started_at": _NSTR, "ended_at": _NSTR,
        "exit_code": _NINT, "exit_signal": _NINT, "run_at": _NSTR, "schedule_id": _NINT,
        "template_id": _NINT, "error": _NSTR,
        "ends_at": {"type": ["string", "null"],
                    "description": "While running: when its time limit ends it"},
    },
}
EVENT = {"type": "object", "properties": {"at": _STR, "kind": _STR, "details": {"type": "object"},
                                          "text": _STR}}
_NNUM = {"type": ["number", "null"]}
# Issue #17 item 6: what an ended job or session used against what it held (like seff).
EFFICIENCY = {
    "type": ["object", "null"],
    "description": "What it used of what it held, once it has ended and Slurm's accounting "
                   "has it (null before): CPU = CPU time / (elapsed x CPUs), memory = peak "
                   "resident memory / memory held, GPU = mean utilisation of the portal's "
                   "monitoring samples (null without samples)",
    "properties": {
        "cpu_percent": _NNUM, "memory_percent": _NNUM, "gpu_percent": _NNUM,
        "elapsed_s": _INT, "cpu_time_s": {"type": "number"}, "cpus": _INT,
        "max_memory_mb": _NNUM, "memory_mb": _INT, "gpus": _INT, "gpu_samples": _INT,
        "slurm_state": _STR,
    },
}
JOB_SCHEMAS: dict = {
    "Job": JOB,
    "Efficiency": EFFICIENCY,
    "JobDetail": {"allOf": [JOB, {"type": "object", "properties": {
        "script": _STR, "events": {"type": "array", "items": EVENT},
        "efficiency": _ref("Efficiency")}}]},
    "JobInput": {"type": "object", "properties": {"name": _STR, "template_id": _INT, **SPEC,
                                                  **TIME_INPUT, **REASON}},
    "TemplateInput": {"type": "object", "required": ["name", "image", "command"],
                      "properties": {"name": _STR, **SPEC, **TIME_INPUT}},
    "Template": {"type": "object", "properties": {
        "id": _INT, "name": _STR, "framework": _STR, **SPEC, "next_job_name": _STR,
        "created_at": _STR, "updated_at": _STR}},
    "ScheduleInput": {"type": "object", "required": ["name", "cron", "timezone", "template_id"],
                      "properties": {
                          "name": _STR, "description": _STR, "cron": _STR, "timezone": _STR,
                          "start": {"type": "string", "description": "local time, ISO 8601"},
                          "end": {"type": "string", "description": "local time, ISO 8601"},
                          "template_id": _INT,
                          "mode": {"type": "string", "enum": ["single", "multi"]},
                          "missed_policy": {"type": "string", "enum": ["skip", "run_late"]}}},
    "Schedule": {"type": "object", "properties": {
        "id": _INT, "name": _STR, "description": _STR, "cron": _STR, "timezone": _STR,
        "start_at": _STR, "end_at": _NSTR, "mode": _STR, "missed_policy": _STR,
        "status": _STR, "template_id": _NINT,
        "upcoming_job": {"oneOf": [_ref("Job"), {"type": "null"}]},
        "history": {"type": "array", "items": EVENT}}},
    "SchedulePreview": {"type": "object", "properties": {
        "cron": _STR, "timezone": _STR, "description": _STR,
        "next_runs": {"type": "array", "items": _STR},
        "next_runs_utc": {"type": "array", "items": _STR}}},
}


def register() -> None:
    from portal.api.openapi import PATHS, SCHEMAS

    PATHS.update(JOB_PATHS)
    SCHEMAS.update(JOB_SCHEMAS)
