from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm

from portal.auth.redirects import safe_next
from portal.main import bp
from portal.menu import find_item
from portal.services import ServiceError, cluster, users


@bp.route("/")
@login_required
def index():
    return render_template("main/index.html", cluster=cluster.cached_view())


@bp.route("/soon/<key>")
@login_required
def coming_soon(key: str):
    item = find_item(key)
    if item is None:
        abort(404)
    return render_template("main/coming_soon.html", item=item)


@bp.route("/project", methods=["POST"])
@login_required
def switch_project():
    if not FlaskForm().validate_on_submit():
        abort(400)
    try:
        users.switch_project(current_user, int(request.form.get("project_id", "0")))
    except (ServiceError, ValueError) as exc:
        flash(str(getattr(exc, "message", exc)), "error")
    return redirect(safe_next(request.form.get("next")) or url_for("main.index"))
