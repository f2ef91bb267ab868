"""Project pages. Thin: every rule is in portal.services.projects and friends."""

from flask import redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from portal.projects.blueprint import bp
from portal.projects.forms import AddMemberForm, DetailsForm, ExtensionForm, RoleForm
from portal.projects.helpers import attempt, form_expired, guarded
from portal.services import project_expiry, projects
from portal.services import project_usage as pu


def _cards(items) -> list[dict]:
    jobs, taken_at = pu.cached_jobs()
    usage = pu.usage_by_account(jobs)
    return [{"project": p, "role": projects.role_of(current_user, p),
             "usage": usage.get(p.account, pu.Usage()),
             "quota": pu.quota_rows(p, usage.get(p.account, pu.Usage()))} for p in items], \
        taken_at


@bp.get("/")
@login_required
def index():
    cards, taken_at = _cards(projects.visible_projects(current_user))
    return render_template("projects/index.html", cards=cards, taken_at=taken_at)


@bp.get("/<int:project_id>")
@login_required
def detail(project_id: int):
    project = guarded(lambda: projects.get_project(current_user, project_id))
    role = projects.role_of(current_user, project)
    jobs, taken_at = pu.cached_jobs()
    usage = pu.usage_by_account(jobs).get(project.account, pu.Usage())
    return render_template(
        "projects/detail.html", project=project, role=role, taken_at=taken_at,
        quota=pu.quota_rows(project, usage), usage=usage,
        jobs=pu.visible_jobs(current_user, project, role, jobs),
        sessions=pu.visible_sessions(current_user, project, role),
        can_manage=projects.can_manage(current_user, project),
        members=sorted(project.memberships, key=lambda m: (m.role.value != "manager",
                                                             m.user.username)),
        extension_form=ExtensionForm(formdata=None),
        requests=project.extension_requests[:5],
        resulting_end_date=project_expiry.resulting_end_date,
    )


@bp.route("/<int:project_id>/edit", methods=["GET", "POST"])
@login_required
def edit(project_id: int):
    project = guarded(lambda: projects.get_project(current_user, project_id, manage=True))
    form = DetailsForm(obj=project) if request.method == "GET" else DetailsForm()
    if request.method == "POST":
        if not form.validate_on_submit():
            form_expired()
        else:
            attempt(lambda: projects.update_details(
                current_user, project.id, name=form.name.data,
                description=form.description.data), _("Project saved."))
        return redirect(url_for("projects.edit", project_id=project.id))
    return render_template(
        "projects/edit.html", project=project, form=form,
        add_form=AddMemberForm(formdata=None), role_form=RoleForm(formdata=None),
        members=sorted(project.memberships, key=lambda m: m.user.username),
        manager_count=len(projects.managers(project)),
    )


def _back(project_id: int):
    """The edit page, or where the user still may go after giving up their own rights."""
    project = _project(project_id)
    if projects.can_manage(current_user, project):
        return redirect(url_for("projects.edit", project_id=project_id))
    if projects.role_of(current_user, project) is not None:
        return redirect(url_for("projects.detail", project_id=project_id))
    return redirect(url_for("projects.index"))


@bp.post("/<int:project_id>/members")
@login_required
def add_member(project_id: int):
    guarded(lambda: projects.get_project(current_user, project_id, manage=True))
    form = AddMemberForm()
    if not form.validate_on_submit():
        form_expired()
        return _back(project_id)
    attempt(lambda: projects.add_member(current_user, project_id, form.username.data,
                                        form.role.data),
            _("%(name)s added.", name=form.username.data))
    return _back(project_id)


@bp.post("/<int:project_id>/members/<int:user_id>/remove")
@login_required
def remove_member(project_id: int, user_id: int):
    guarded(lambda: projects.get_project(current_user, project_id, manage=True))
    if not RoleForm().validate_on_submit():
        form_expired()
        return _back(project_id)
    attempt(lambda: projects.remove_member(current_user, project_id, user_id),
            _("Member removed."))
    return _back(project_id)


@bp.post("/<int:project_id>/members/<int:user_id>/role")
@login_required
def set_role(project_id: int, user_id: int):
    guarded(lambda: projects.get_project(current_user, project_id, manage=True))
    form = RoleForm()
    if not form.validate_on_submit():
        form_expired()
        return _back(project_id)
    attempt(lambda: projects.set_role(current_user, project_id, user_id, form.role.data),
            _("Role changed."))
    return _back(project_id)


def _project(project_id: int):
    from portal import db
    from portal.models import Project

    return db.session.get(Project, project_id)


@bp.post("/<int:project_id>/extensions")
@login_required
def request_extension(project_id: int):
    guarded(lambda: projects.get_project(current_user, project_id))
    form = ExtensionForm()
    if not form.validate_on_submit():
        form_expired()
    else:
        attempt(lambda: project_expiry.request_extension(
            current_user, project_id, form.days.data, form.reason.data),
            _("Extension requested. An administrator will decide."))
    return redirect(url_for("projects.detail", project_id=project_id))
