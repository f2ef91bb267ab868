from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from portal.auth import bp
from portal.auth.forms import LoginForm, LogoutForm
from portal.auth.redirects import safe_next
from portal.extensions import limiter
from portal.services import audit, users


def _login_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("main.index"))
    form = LoginForm(next=request.args.get("next", ""))
    status = 200
    if form.validate_on_submit():
        user = users.authenticate(form.username.data, form.password.data)
        if user is None:
            # One message for an unknown user and a wrong password.
            flash(_("Wrong username or password."), "error")
            audit.record("auth.login_failed", form.username.data[:64])
            status = 401
        else:
            locale = session.get("locale")
            session.clear()  # no pre-login state survives into the new session
            if locale:
                session["locale"] = locale
            login_user(user)
            audit.record("auth.login", user.username, actor=user)
            return redirect(safe_next(form.next.data) or url_for("main.index"))
    return render_template("auth/login.html", form=form), status


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    if LogoutForm().validate_on_submit():
        audit.record("auth.logout", current_user.username)
        users.revoke_sessions(current_user)
        logout_user()
        session.clear()
        flash(_("You have been logged out."), "info")
    return redirect(url_for("auth.login"))


@bp.app_errorhandler(429)
def too_many_requests(error):
    if request.path.startswith("/api/"):
        from portal.api.errors import error_response

        return error_response("rate_limited", str(error.description), 429)
    form = LoginForm()
    flash(_("Too many login attempts. Wait a minute and try again."), "error")
    return render_template("auth/login.html", form=form), 429
