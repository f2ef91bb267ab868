"""Admin: create projects, set quota/limits/dates/QOS, decide extension requests."""

from flask import redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from wtforms import SelectChoice

from portal.admin.blueprint import bp
from portal.admin.forms import CreateProjectForm, DecisionForm, ProjectSettingsForm
from portal.auth.decorators import admin_required
from portal.projects.helpers import attempt, form_expired, guarded
from portal.services import ServiceError, project_expiry
from portal.services import project_settings as settings_service
from portal.services import projects as project_service
from portal.services import qos as qos_service


def _names(text: str | None) -> list[str]:
    return [n.strip() for n in (text or "").split(",") if n.strip()]


@bp.route("/projects/", methods=["GET", "POST"])
@admin_required
def projects():
    form = CreateProjectForm(formdata=None if request.method == "GET" else request.form)
    if request.method == "POST":
        if not form.validate_on_submit():
            form_expired()
        elif attempt(lambda: project_service.create_project(
                current_user, account=form.account.data, name=form.name.data,
                description=form.description.data, settings=form.settings(),
                managers=_names(form.managers.data), members=_names(form.members.data)),
                _("Project %(name)s created.", name=form.account.data)):
            return redirect(url_for("admin.projects"))
    return render_template(
        "admin/projects.html", form=form, projects=project_service.visible_projects(current_user),
        pending=project_expiry.pending_requests(), decision_form=DecisionForm(formdata=None),
        resulting_end_date=project_expiry.resulting_end_date, today=project_expiry.today(),
    )


@bp.post("/projects/<int:project_id>/archive")
@admin_required
def archive_project(project_id: int):
    """Issue #16: cancel its jobs, block it in Slurm; the records stay."""
    from flask_wtf import FlaskForm

    from portal.services import lifecycle

    if not FlaskForm().validate_on_submit():
        form_expired()
    elif request.form.get("confirm") != "1":
        from flask import flash

        flash(_("Tick the box to confirm: archiving cancels the project's running and "
                "pending jobs."), "error")
    else:
        result = {}
        if attempt(lambda: result.update(lifecycle.archive_project(
                current_user, project_id, reason=request.form.get("reason", "")))):
            from flask import flash

            flash(_("Project %(account)s archived: Slurm refuses its jobs; %(n)s job(s) "
                    "cancelled. Its records and costs are kept.", account=result["project"],
                    n=len(result["cancelled"])), "info")
    return redirect(url_for("admin.projects"))


@bp.post("/projects/<int:project_id>/unarchive")
@admin_required
def unarchive_project(project_id: int):
    from flask_wtf import FlaskForm

    from portal.services import lifecycle

    if not FlaskForm().validate_on_submit():
        form_expired()
    else:
        attempt(lambda: lifecycle.unarchive_project(current_user, project_id),
                _("Project unarchived: Slurm accepts its jobs again (within its dates)."))
    return redirect(url_for("admin.projects"))


@bp.route("/projects/<int:project_id>/settings", methods=["GET", "POST"])
@admin_required
def project_settings(project_id: int):
    project = guarded(lambda: project_service.get_project(current_user, project_id))
    form = ProjectSettingsForm(obj=project) if request.method == "GET" else ProjectSettingsForm()
    try:
        choices = [q.name for q in qos_service.list_qos(current_user) if not q.project_qos]
    except ServiceError as exc:
        choices, form.extra_qos.description = list(project.extra_qos or []), exc.message
    form.extra_qos.choices = [SelectChoice(n, n) for n in choices]
    if request.method == "GET":
        form.extra_qos.data = list(project.extra_qos or [])
        return render_template("admin/project_settings.html", project=project, form=form)
    if not form.validate_on_submit():
        form_expired()
    else:
        attempt(lambda: settings_service.update_settings(
            current_user, project.id, form.settings(), extra_qos=form.extra_qos.data or []),
            _("Settings saved."))
    return redirect(url_for("admin.project_settings", project_id=project.id))


@bp.post("/extensions/<int:request_id>/<any(approve, reject):decision>")
@admin_required
def decide_extension(request_id: int, decision: str):
    form = DecisionForm()
    if not form.validate_on_submit():
        form_expired()
    else:
        attempt(lambda: project_expiry.decide(current_user, request_id, decision == "approve",
                                              form.message.data,
                                              request.form.get("expected_end_date")),
                _("Extension approved.") if decision == "approve" else _("Extension rejected."))
    return redirect(url_for("admin.projects"))
