"""/api/v1 for F6–F8: jobs (with their log), templates and schedules.

Every route calls the same services as the pages; bad input raises ServiceError, which
the API turns into `{"error": {"code", "message"}}`. Work happens in the token user's
current project.
"""

from flask import Response, g, jsonify, request

from portal.api.auth import token_required
from portal.api.blueprint import bp
from portal.api.errors import error_response
from portal.api.jobs_openapi import register
from portal.api.schemas import check_fields
from portal.api.schemas.jobs import Job, JobDetail, JobInput, Schedule, SchedulePreview, Template
from portal.services import ServiceError, jobdelete, joblog, jobtemplates, schedules
from portal.services import jobs as jobsvc
from portal.services.extend import ends_at
from portal.services.jobdisplay import event_text, history_text, reason_text
from portal.services.jobspec import spec_of

register()


def _iso(value):
    return value.isoformat() + "Z" if value else None


def _body(optional: bool = False) -> dict:
    """The request's JSON object ({} for no body when `optional`); raises ServiceError
    `invalid_body` for anything else."""
    body = request.get_json(silent=True)
    if optional:
        body = body or {}
    if not isinstance(body, dict):
        raise ServiceError("Send a JSON object.", "invalid_body")
    return body


def _events_json(events, text) -> list[dict]:
    """A job's events or a schedule's history, each with `text(event)` in words."""
    return [{"at": _iso(e.at), "kind": e.kind, "details": e.details, "text": text(e)}
            for e in events]


def job_json(job, full: bool = False) -> dict:
    out = {
        "id": job.id, "name": job.name, "state": job.state, "reason": job.reason,
        "reason_text": reason_text(job.reason) or None, "slurm_job_id": job.slurm_job_id,
        "account": job.account, "partition": job.partition, "nodes": job.nodes,
        "owner": job.user.username, **spec_of(job),
        "created_at": _iso(job.created_at), "submitted_at": _iso(job.submitted_at),
        "started_at": _iso(job.started_at), "ended_at": _iso(job.ended_at),
        "exit_code": job.exit_code, "exit_signal": job.exit_signal,
        "run_at": _iso(job.run_at), "schedule_id": job.schedule_id,
        "template_id": job.template_id, "error": job.error,
        "ends_at": _iso(ends_at(job)) if job.state == "running" else None,
    }
    if full:
        from portal.services import efficiency

        out["script"] = job.script
        out["events"] = _events_json(job.events, event_text)
        out["efficiency"] = efficiency.of("job", job.id)  # issue #17: once it has ended
    return out


@bp.get("/jobs")
@token_required
def list_jobs():
    return jsonify(Job.dump_all(job_json(j) for j in jobsvc.visible_jobs(g.api_user)))


@bp.post("/jobs")
@token_required
def create_job():
    body = _body()
    check_fields(JobInput, body,
                 {"template_id": ("template_id must be an integer.", "invalid_template")})
    if body.get("template_id") is not None:
        template_id = int(body["template_id"])
        overrides = {k: v for k, v in body.items() if k != "template_id"}
        job = jobtemplates.run_template(g.api_user, template_id, overrides)
    else:
        job = jobsvc.create_job(g.api_user, body)
    return created(job)


def created(job):
    """201 with the job; 503 with the job when sbatch got no answer (issue #13): it is on
    record and never submitted twice, but whether Slurm took it is not known yet."""
    if jobsvc.submission_uncertain(job):
        return error_response("slurm_unavailable", jobsvc.uncertain_message(job), 503,
                              details={"outage": "controller", "job_id": job.id},
                              job=JobDetail.dump(job_json(job, full=True)))
    return jsonify(JobDetail.dump(job_json(job, full=True))), 201


@bp.get("/jobs/<int:job_id>")
@token_required
def get_job(job_id: int):
    return jsonify(JobDetail.dump(job_json(jobsvc.get_job(g.api_user, job_id), full=True)))


@bp.post("/jobs/<int:job_id>/extend")
@token_required
def extend_job(job_id: int):
    """The owner extends a running job by {"hours": N} (issue #17): 409 names the cap."""
    from portal.services import extend

    job = extend.extend_job(g.api_user, job_id, _body().get("hours"))
    return jsonify(JobDetail.dump(job_json(job, full=True)))


@bp.delete("/jobs/<int:job_id>")
@token_required
def delete_job(job_id: int):
    jobdelete.delete_job(g.api_user, job_id)
    return "", 204


@bp.get("/jobs/<int:job_id>/log")
@token_required
def job_log(job_id: int):
    """The log as text/plain; `Range: bytes=…` gives 206 with that part."""
    job = jobsvc.get_job(g.api_user, job_id)
    try:
        status, headers, stream = joblog.download(job, jobsvc.get_backend(),
                                                  request.headers.get("Range"))
    except joblog.RangeNotSatisfiable as exc:
        response = jsonify({"error": {"code": exc.code, "message": str(exc.message)}})
        response.status_code = 416
        response.headers["Content-Range"] = f"bytes */{exc.size}"
        return response
    headers.pop("Content-Disposition", None)
    return Response(stream, status=status, headers=headers, mimetype="text/plain",
                    direct_passthrough=True)


def template_json(template) -> dict:
    return {"id": template.id, "name": template.name, **spec_of(template),
            "next_job_name": jobtemplates.next_run_name(template),
            "created_at": _iso(template.created_at), "updated_at": _iso(template.updated_at)}


@bp.get("/templates")
@token_required
def list_templates():
    return jsonify(Template.dump_all(
        template_json(t) for t in jobtemplates.list_templates(g.api_user)))


@bp.post("/templates")
@token_required
def create_template():
    template = jobtemplates.create_template(g.api_user, _body())
    return jsonify(Template.dump(template_json(template))), 201


@bp.get("/templates/<int:template_id>")
@token_required
def get_template(template_id: int):
    return jsonify(Template.dump(template_json(
        jobtemplates.get_template(g.api_user, template_id))))


@bp.put("/templates/<int:template_id>")
@token_required
def update_template(template_id: int):
    template = jobtemplates.update_template(g.api_user, template_id, _body())
    return jsonify(Template.dump(template_json(template)))


@bp.delete("/templates/<int:template_id>")
@token_required
def delete_template(template_id: int):
    jobtemplates.delete_template(g.api_user, template_id)
    return "", 204


@bp.post("/templates/<int:template_id>/run")
@token_required
def run_template(template_id: int):
    job = jobtemplates.run_template(g.api_user, template_id, _body(optional=True))
    return created(job)


def schedule_json(schedule, full: bool = False) -> dict:
    upcoming = schedules.upcoming_run(schedule)
    out = {
        "id": schedule.id, "name": schedule.name, "description": schedule.description,
        "cron": schedule.cron, "timezone": schedule.timezone,
        "start_at": _iso(schedule.start_at), "end_at": _iso(schedule.end_at),
        "mode": schedule.mode, "missed_policy": schedule.missed_policy,
        "status": schedule.status, "template_id": schedule.template_id,
        "upcoming_job": job_json(upcoming) if upcoming else None,
    }
    if full:
        out["history"] = _events_json(schedule.events, history_text)
    return out


@bp.get("/schedules")
@token_required
def list_schedules():
    return jsonify(Schedule.dump_all(
        schedule_json(s) for s in schedules.list_schedules(g.api_user)))


@bp.post("/schedules")
@token_required
def create_schedule():
    schedule = schedules.create_schedule(g.api_user, _body())
    return jsonify(Schedule.dump(schedule_json(schedule, full=True))), 201


@bp.post("/schedules/preview")
@token_required
def preview_schedule():
    return jsonify(SchedulePreview.dump(schedules.preview(_body())))


@bp.get("/schedules/<int:schedule_id>")
@token_required
def get_schedule(schedule_id: int):
    schedule = schedules.get_schedule(g.api_user, schedule_id)
    return jsonify(Schedule.dump(schedule_json(schedule, full=True)))


@bp.delete("/schedules/<int:schedule_id>")
@token_required
def delete_schedule(schedule_id: int):
    schedules.delete_schedule(g.api_user, schedule_id)
    return "", 204
