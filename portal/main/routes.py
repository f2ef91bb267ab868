from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm

from portal.auth.redirects import safe_next
from portal.main.blueprint import bp
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


@bp.route("/client/portal")
def user_client():
    """The login-node client (one standard-library file, issue #16 item 10): public, it holds
    no secret; a user installs it with one `curl` and logs in with their own token."""
    from flask import send_file

    from portal.config import REPO_ROOT

    return send_file(REPO_ROOT / "portal" / "client" / "portal_client.py",
                     mimetype="text/x-python", as_attachment=True, download_name="portal")
