from flask import abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import SelectChoice

from portal.schedules.blueprint import bp
from portal.schedules.forms import ScheduleForm
from portal.services import ServiceError, jobtemplates, schedules
from portal.services import crontime as ct


def _locale() -> str:
    return str(get_locale() or "en")


def _form(data=None) -> ScheduleForm:
    form = ScheduleForm(formdata=None if data is None else request.form, data=data)
    try:
        items = jobtemplates.list_templates(current_user)
    except ServiceError:
        items = []
    form.template_id.choices = [SelectChoice(str(t.id), t.name) for t in items]
    if not form.timezone.data:
        form.timezone.data = current_app.config.get("DEFAULT_TIMEZONE", "UTC")
    return form


def _render(form, preview=None, template=None, status=200):
    others = []
    if template is not None:
        try:
            others = schedules.list_schedules(current_user)
        except ServiceError:
            others = []
    return render_template("schedules/new.html", form=form, preview=preview,
                           template=template, schedules=others,
                           timezones=ct.timezone_names()), status


@bp.route("/")
@login_required
def index():
    try:
        items = schedules.list_schedules(current_user)
    except ServiceError as exc:
        flash(str(exc.message), "error")
        items = []
    return render_template("schedules/index.html", schedules=items, describe=ct.describe,
                           locale=_locale(), upcoming=schedules.upcoming_run)


@bp.route("/preview")
@login_required
def preview():
    """The trigger in words and the next five run times (JSON), before saving."""
    try:
        return jsonify(schedules.preview(request.args, locale=_locale()))
    except ServiceError as exc:
        return jsonify({"error": {"code": exc.code, "message": str(exc.message)}}), exc.status


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new():
    template = None
    if request.args.get("template"):
        try:
            template = jobtemplates.get_template(current_user, int(request.args["template"]))
        except (ServiceError, ValueError):
            abort(404)
    if request.method == "GET":
        form = _form({"template_id": str(template.id)} if template else None)
        return _render(form, template=template)
    form = _form({})
    if not form.validate_on_submit():
        abort(400)
    try:
        if request.form.get("action") == "preview":
            return _render(form, schedules.preview(request.form, locale=_locale()), template)
        schedule = schedules.create_schedule(current_user, request.form)
    except ServiceError as exc:
        flash(str(exc.message), "error")
        return _render(form, template=template, status=400)
    flash(_("Schedule %(name)s created.", name=schedule.name), "info")
    return redirect(url_for("schedules.detail", schedule_id=schedule.id))


def _get(schedule_id: int):
    try:
        return schedules.get_schedule(current_user, schedule_id)
    except ServiceError:
        abort(404)


@bp.route("/<int:schedule_id>")
@login_required
def detail(schedule_id: int):
    schedule = _get(schedule_id)
    try:
        coming = schedules.preview(
            {"cron": schedule.cron, "timezone": schedule.timezone,
             "start": ct.to_local(schedule.start_at, ct.zone(schedule.timezone))
             .replace(tzinfo=None).isoformat(),
             "end": ct.to_local(schedule.end_at, ct.zone(schedule.timezone))
             .replace(tzinfo=None).isoformat() if schedule.end_at else ""},
            locale=_locale())
    except ServiceError:
        coming = None
    return render_template(
        "schedules/detail.html", schedule=schedule, preview=coming,
        upcoming=schedules.upcoming_run(schedule), runs=schedules.recent_runs(schedule),
        local=lambda t: ct.to_local(t, ct.zone(schedule.timezone)),
    )


@bp.route("/<int:schedule_id>/delete", methods=["POST"])
@login_required
def delete(schedule_id: int):
    if not FlaskForm().validate_on_submit():
        abort(400)
    _get(schedule_id)
    schedules.delete_schedule(current_user, schedule_id)
    flash(_("Schedule deleted; its pending run was cancelled."), "info")
    return redirect(url_for("schedules.index"))


@bp.route("/<int:schedule_id>/template", methods=["POST"])
@login_required
def set_template(schedule_id: int):
    """Use another template from the next run on (from a template's "run as schedule")."""
    if not FlaskForm().validate_on_submit():
        abort(400)
    try:
        schedule = schedules.set_template(current_user, schedule_id,
                                          int(request.form.get("template_id", "0")))
        flash(_("Schedule %(name)s now runs template %(template)s.", name=schedule.name,
                template=schedule.template.name), "info")
    except (ServiceError, ValueError) as exc:
        if getattr(exc, "status", 400) == 404:
            abort(404)
        flash(str(getattr(exc, "message", exc)), "error")
    return redirect(url_for("schedules.detail", schedule_id=schedule_id))
