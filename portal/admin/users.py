"""Admin: portal users, each bound to an existing Unix account (refused otherwise)."""

from flask import render_template, request
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from portal import db
from portal.admin.blueprint import bp
from portal.admin.forms import UserForm
from portal.auth.decorators import admin_required
from portal.models import User
from portal.projects.helpers import attempt, form_expired
from portal.services import audit
from portal.services import users as user_service


@bp.post("/users/<username>/deactivate")
@admin_required
def deactivate_user(username: str):
    """Issue #16: end their sessions and jobs, remove their associations, refuse logins."""
    from flask import flash, redirect, url_for
    from flask_wtf import FlaskForm

    from portal.services import lifecycle

    if not FlaskForm().validate_on_submit():
        form_expired()
    elif request.form.get("confirm") != "1":
        flash(_("Tick the box to confirm: deactivating ends the user's sessions and jobs."),
              "error")
    else:
        result = {}
        if attempt(lambda: result.update(lifecycle.deactivate_user(
                current_user, username, reason=request.form.get("reason", "")))):
            flash(_("%(name)s deactivated: %(n)s job(s) cancelled, Slurm associations removed "
                    "(%(accounts)s); their history is kept.", name=username,
                    n=len(result["cancelled"]), accounts=", ".join(result["accounts"]) or "—"),
                  "info")
    return redirect(url_for("admin.users"))


@bp.post("/users/<username>/reactivate")
@admin_required
def reactivate_user(username: str):
    from flask import redirect, url_for
    from flask_wtf import FlaskForm

    from portal.services import lifecycle

    if not FlaskForm().validate_on_submit():
        form_expired()
    else:
        attempt(lambda: lifecycle.reactivate_user(current_user, username),
                _("%(name)s reactivated: they can log in and use their projects again.",
                  name=username))
    return redirect(url_for("admin.users"))


@bp.route("/users/", methods=["GET", "POST"])
@admin_required
def users():
    form = UserForm(formdata=None if request.method == "GET" else request.form)
    created = None
    if request.method == "POST":
        if not form.validate_on_submit():
            form_expired()
        else:
            result = {}

            def create():
                user, password = user_service.create_user(
                    (form.username.data or "").strip(),
                    unix_user=(form.unix_user.data or "").strip() or None,
                    is_admin=form.is_admin.data, display_name=form.display_name.data or "",
                    email=form.email.data or "")
                audit.record("user.create", user.username, unix_user=user.unix_user,
                             is_admin=user.is_admin, by=current_user.username)
                result.update(user=user, password=password)

            if attempt(create, _("User %(name)s created.", name=form.username.data)):
                # Shown in this response only: never in a flash (the cookie) or a log.
                created, form = result, UserForm(formdata=None)
    listing = list(db.session.scalars(select(User).order_by(User.username)))
    return render_template("admin/users.html", form=form, users=listing, created=created)
