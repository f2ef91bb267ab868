"""Admin: a project's idle-reclaim policy (issue #17, item 2; portal/services/idle.py)."""

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm

from portal import db
from portal.admin.blueprint import bp
from portal.auth.decorators import admin_required
from portal.models import IdlePolicy, Project
from portal.services import ServiceError
from portal.services import idle as idlesvc


def _minutes(text: str) -> float:
    return float(text.strip() or 0)


@bp.route("/projects/<int:project_id>/idle", methods=["GET", "POST"])
@admin_required
def project_idle(project_id: int):
    project = db.session.get(Project, project_id)
    if project is None:
        abort(404)
    if request.method == "POST":
        if not FlaskForm().validate_on_submit():
            abort(400)
        form = request.form
        try:
            try:
                limit_s = _minutes(form.get("limit_minutes", "")) * 60
                warn_s = [_minutes(p) * 60 for p in form.get("warn_minutes", "").split(",")
                          if p.strip()]
            except ValueError:
                raise ServiceError(_("The idle limit and the warning points are numbers of "
                                     "minutes."), "invalid_idle_policy") from None
            idlesvc.set_policy(current_user, project.id, limit_s=limit_s, warn_s=warn_s,
                               gpu_threshold=form.get("gpu_threshold", "5"))
        except ServiceError as exc:
            flash(str(exc.message), "error")
        else:
            flash(_("Idle policy saved."), "info")
        return redirect(url_for("admin.project_idle", project_id=project.id))
    policy = db.session.get(IdlePolicy, project.id)
    values = {"limit": f"{policy.limit_s / 60:g}" if policy else "0",
              "warn": ", ".join(f"{s / 60:g}" for s in policy.warn_s) if policy else "60, 105",
              "gpu": f"{policy.gpu_threshold:g}" if policy else "5"}
    return render_template("admin/project_idle.html", project=project, values=values)
