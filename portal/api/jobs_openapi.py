"""OpenAPI paths of the jobs, templates and schedules API (merged into portal.api.openapi's
PATHS when portal.api.jobs is imported); their schemas come from the models in
portal.api.schemas.jobs."""

from __future__ import annotations

from portal.api.openapi import _errors, _ok, replayed
from portal.api.schemas import components, jobs


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
                               "200": replayed(_ref("JobDetail")),
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
                 "requestBody": _body(_ref("ExtendInput")),
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
                               "200": replayed(_ref("JobDetail")),
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

def register() -> None:
    from portal.api.openapi import PATHS, SCHEMAS

    PATHS.update(JOB_PATHS)
    SCHEMAS.update(components(jobs.OUTPUTS, jobs.INPUTS))
