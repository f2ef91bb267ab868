from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from flask_wtf import FlaskForm

from portal.jobs.forms import JobForm, fill_choices
from portal.jobtemplates.blueprint import bp
from portal.services import ServiceError, cluster, jobtemplates
from portal.services.images import available_images
from portal.services.jobdisplay import gpu_model_names, hardware
from portal.services.jobspec import format_time_limit, spec_of


def _form(data=None) -> JobForm:
    form = JobForm(formdata=None if data is None else request.form, data=data)
    fill_choices(form, available_images(current_user), gpu_model_names(cluster.cached_view()))
    return form


def _get(template_id: int):
    try:
        return jobtemplates.get_template(current_user, template_id)
    except ServiceError as exc:
        if exc.status == 404:
            abort(404)
        flash(str(exc.message), "error")
        return None


@bp.route("/")
@login_required
def index():
    try:
        items = jobtemplates.list_templates(current_user)
    except ServiceError as exc:
        flash(str(exc.message), "error")
        items = []
    return render_template("jobtemplates/index.html", templates=items, hardware=hardware,
                           next_name=jobtemplates.next_run_name)


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new():
    if request.method == "GET":
        return render_template("jobtemplates/form.html", form=_form(), template=None)
    form = _form({})
    if not form.validate_on_submit():
        abort(400)
    try:
        template = jobtemplates.create_template(current_user, request.form)
    except ServiceError as exc:
        flash(str(exc.message), "error")
        return render_template("jobtemplates/form.html", form=form, template=None), 400
    flash(_("Template %(name)s saved.", name=template.name), "info")
    return redirect(url_for("jobtemplates.index"))


@bp.route("/<int:template_id>/edit", methods=["GET", "POST"])
@login_required
def edit(template_id: int):
    template = _get(template_id)
    if template is None:
        return redirect(url_for("jobtemplates.index"))
    if request.method == "GET":
        form = _form({**spec_of(template), "name": template.name,
                      "time_limit": format_time_limit(template.time_limit_min)})
        return render_template("jobtemplates/form.html", form=form, template=template)
    form = _form({})
    if not form.validate_on_submit():
        abort(400)
    try:
        jobtemplates.update_template(current_user, template_id, request.form)
    except ServiceError as exc:
        flash(str(exc.message), "error")
        return render_template("jobtemplates/form.html", form=form, template=template), 400
    flash(_("Template %(name)s saved.", name=template.name), "info")
    return redirect(url_for("jobtemplates.index"))


@bp.route("/<int:template_id>/delete", methods=["POST"])
@login_required
def delete(template_id: int):
    if not FlaskForm().validate_on_submit():
        abort(400)
    try:
        jobtemplates.delete_template(current_user, template_id)
        flash(_("Template deleted."), "info")
    except ServiceError as exc:
        if exc.status == 404:
            abort(404)
        flash(str(exc.message), "error")
    return redirect(url_for("jobtemplates.index"))


@bp.route("/<int:template_id>/run")
@login_required
def run(template_id: int):
    """The run-job form pre-filled from the template (name `<template>-<n>`)."""
    return redirect(url_for("jobs.new", template=template_id))


@bp.route("/<int:template_id>/schedule")
@login_required
def schedule(template_id: int):
    """Run as a schedule: create one with this template, or switch an existing one."""
    return redirect(url_for("schedules.new", template=template_id))
