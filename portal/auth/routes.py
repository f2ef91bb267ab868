import math

from flask import flash, make_response, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from portal.auth.blueprint import bp
from portal.auth.forms import LoginForm, LogoutForm
from portal.auth.redirects import safe_next
from portal.net import client_address
from portal.services import audit, login_limit, users


def _limited(form: LoginForm, refusal: login_limit.Refusal):
    """429 with a message that says which limit and how long to wait; audited."""
    wait = refusal.retry_after
    when = (_("%(n)s minutes", n=math.ceil(wait / 60)) if wait > 90
            else _("%(n)s seconds", n=wait))
    if refusal.limit == "account":
        message = _("Too many failed logins for this account. Password login for it is "
                    "paused; try again in %(when)s.", when=when)
    else:
        message = _("Too many failed logins from your address. Try again in %(when)s.",
                    when=when)
    audit.record("auth.login_limited", form.username.data[:64], limit=refusal.limit,
                 failures=refusal.failures, retry_after=wait)
    flash(message, "error")
    response = make_response(render_template("auth/login.html", form=form), 429)
    response.headers["Retry-After"] = str(wait)
    return response


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("main.index"))
    form = LoginForm(next=request.args.get("next", ""))
    status = 200
    if form.validate_on_submit():
        attempt = login_limit.begin(form.username.data, client_address())
        if isinstance(attempt, login_limit.Refusal):
            return _limited(form, attempt)
        user = users.authenticate(form.username.data, form.password.data)
        login_limit.finish(attempt, ok=user is not None)
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
