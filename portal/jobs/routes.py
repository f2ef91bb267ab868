from flask import Response, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from flask_wtf import FlaskForm

from portal.jobs.blueprint import bp
from portal.jobs.forms import JobForm, fill_choices
from portal.services import ServiceError, cluster, jobdelete, joblog, jobtemplates
from portal.services import estimate as estimates
from portal.services import jobs as jobsvc
from portal.services.extend import ends_at
from portal.services.images import available_images
from portal.services.jobdisplay import gpu_model_names, job_view
from portal.services.jobspec import default_time_limit, format_time_limit, time_limit_words
from portal.services.requestcheck import project_limits
from portal.services.users import current_membership


def _form(data=None, template=None) -> JobForm:
    form = JobForm(formdata=None if data is None else request.form, data=data)
    view = cluster.cached_view()
    fill_choices(form, available_images(current_user), gpu_model_names(view))
    if template is not None:
        form.template_id.data = str(template.id)
    if data is None or (template is not None and request.method == "GET"):
        # Shown filled in: the template's limit, else the project's MaxWall, else the
        # partition default: the limit Slurm will get, and what the budget must cover.
        minutes = (data or {}).get("time_limit_min")
        if minutes is None:
            membership = current_membership(current_user)
            minutes = default_time_limit(
                project_limits(membership.project) if membership else None, view)
        form.time_limit.data = format_time_limit(minutes)
    return form


@bp.route("/")
@login_required
def index():
    return render_template("jobs/index.html", jobs=jobsvc.visible_jobs(current_user))


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new():
    template = None
    raw_template = request.values.get("template") or request.form.get("template_id")
    try:
        if raw_template:
            template = jobtemplates.get_template(current_user, int(raw_template))
        if request.method == "GET":
            defaults = jobtemplates.form_defaults(template) if template else None
            return render_template("jobs/new.html", form=_form(defaults, template),
                                   template=template)
    except (ServiceError, ValueError) as exc:
        flash(str(getattr(exc, "message", exc)), "error")
        return redirect(url_for("jobs.new"))
    form = _form({}, template)
    if not form.validate_on_submit():
        abort(400)
    try:
        if template is not None:
            job = jobtemplates.run_template(current_user, template.id, request.form)
        else:
            job = jobsvc.create_job(current_user, request.form)
    except ServiceError as exc:
        flash(str(exc.message), "error")
        return render_template("jobs/new.html", form=form, template=template), 400
    if jobsvc.submission_uncertain(job):
        flash(jobsvc.uncertain_message(job), "error")
    else:
        flash(_("Job %(name)s submitted (Slurm job %(id)s).", name=job.name,
                id=job.slurm_job_id), "info")
    return redirect(url_for("jobs.detail", job_id=job.id))


@bp.route("/<int:job_id>")
@login_required
def detail(job_id: int):
    from portal.services import efficiency
    from portal.services import record as recordsvc

    try:  # issue #16: an ended or deleted job keeps a read-only page (and its order's link)
        job = recordsvc.readable_job(current_user, job_id)
    except ServiceError:
        abort(404)
    own = job.user_id == current_user.id
    log_piece, log_error = None, None
    try:  # the log is the owner's file, read as the owner: the owner's page only
        log_piece = joblog.tail(job, jobsvc.get_backend()) if job.directory and own else None
    except ServiceError as exc:
        log_error = exc.message
    return render_template("jobs/detail.html", job=job, view=job_view(job),
                           log=log_piece, log_error=log_error,
                           budget_hold=estimates.budget_hold(job)
                           if job.state in ("pending", "held") else "",
                           time_limit=format_time_limit(job.time_limit_min),
                           time_words=time_limit_words(job.time_limit_min),
                           ends_at=ends_at(job), own=own,
                           record=recordsvc.record_of("job", job),
                           efficiency=efficiency.of("job", job.id))


@bp.route("/<int:job_id>/extend", methods=["POST"])
@login_required
def extend(job_id: int):
    """The Extend button (issue #17): decided at once, the page shows the new end."""
    from portal.services import extend as extendsvc

    if not FlaskForm().validate_on_submit():
        abort(400)
    try:
        job = extendsvc.extend_job(current_user, job_id, request.form.get("hours"))
    except ServiceError as exc:
        if exc.status == 404:
            abort(404)
        flash(str(exc.message), "error")
    else:
        end = ends_at(job)
        flash(_("Extended by %(hours)s h; the job now ends at the latest at %(when)s UTC.",
                hours=request.form.get("hours"),
                when=end.strftime("%Y-%m-%d %H:%M") if end else "?"), "info")
    return redirect(url_for("jobs.detail", job_id=job_id))


@bp.route("/<int:job_id>/log")
@login_required
def log_since(job_id: int):
    """JSON for the live log: what was appended after `offset`, and whether to go on."""
    try:
        job = jobsvc.get_job(current_user, job_id)
        offset = int(request.args.get("offset", "0"))
        piece = joblog.since(job, jobsvc.get_backend(), offset)
    except ValueError:
        return jsonify({"error": {"code": "invalid_offset", "message": "bad offset"}}), 400
    except ServiceError as exc:
        return jsonify({"error": {"code": exc.code, "message": str(exc.message)}}), exc.status
    done = job.state in jobsvc.TERMINAL and piece.end >= (piece.size or 0)
    return jsonify({"text": piece.text, "offset": piece.end, "size": piece.size,
                    "state": job.state, "done": done})


@bp.route("/<int:job_id>/log.txt")
@login_required
def log_download(job_id: int):
    try:
        job = jobsvc.get_job(current_user, job_id)
        status, headers, stream = joblog.download(job, jobsvc.get_backend(),
                                                  request.headers.get("Range"))
    except joblog.RangeNotSatisfiable as exc:
        return Response(status=416, headers={"Content-Range": f"bytes */{exc.size}"})
    except ServiceError as exc:
        if exc.status == 404 or exc.code == "not_found":
            abort(404)
        flash(str(exc.message), "error")
        return redirect(url_for("jobs.detail", job_id=job_id))
    return Response(stream, status=status, headers=headers,
                    mimetype="text/plain", direct_passthrough=True)


@bp.route("/<int:job_id>/delete", methods=["POST"])
@login_required
def delete(job_id: int):
    if not FlaskForm().validate_on_submit():
        abort(400)
    try:
        job = jobdelete.delete_job(current_user, job_id)
        flash(_("Job %(name)s deleted.", name=job.name), "info")
    except ServiceError as exc:
        if exc.status == 404:
            abort(404)
        flash(str(exc.message), "error")
        return redirect(url_for("jobs.detail", job_id=job_id))
    return redirect(url_for("jobs.index"))


@bp.app_context_processor
def job_helpers():
    """Words for job states, job events and schedule history, in every template."""
    from portal.services import jobdisplay

    return {
        "job_state_label": jobdisplay.state_label,
        "job_event_text": jobdisplay.event_text,
        "schedule_history_text": jobdisplay.history_text,
    }
