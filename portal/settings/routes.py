from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, logout_user
from flask_wtf import FlaskForm

from portal.auth.redirects import safe_next
from portal.services import ServiceError, tokens, users
from portal.settings import bp
from portal.settings.forms import PasswordForm, TokenForm


def _back():
    return redirect(safe_next(request.form.get("next")) or url_for("settings.preferences"))


@bp.route("/")
@login_required
def preferences():
    return render_template("settings/preferences.html")


@bp.route("/theme", methods=["POST"])
@login_required
def theme():
    if FlaskForm().validate_on_submit():
        try:
            users.set_theme(current_user, request.form.get("theme", ""))
        except ServiceError as exc:
            flash(str(exc.message), "error")
    return _back()


@bp.route("/language", methods=["POST"])
def language():
    """Open to anonymous users too: the login page has the language menu."""
    locale = request.form.get("locale", "")
    if FlaskForm().validate_on_submit():
        try:
            if current_user.is_authenticated:
                users.set_locale(current_user, locale, current_app.config["LANGUAGES"])
            elif locale not in current_app.config["LANGUAGES"]:
                raise ServiceError(_("Unknown language."))
            session["locale"] = locale
        except ServiceError as exc:
            flash(str(exc.message), "error")
    return _back()


@bp.route("/profile", methods=["GET"])
@login_required
def profile():
    return render_template(
        "settings/profile.html",
        password_form=PasswordForm(),
        token_form=TokenForm(),
        tokens=tokens.list_tokens(current_user),
        new_token=None,
    )


@bp.route("/password", methods=["POST"])
@login_required
def password():
    form = PasswordForm()
    if form.validate_on_submit():
        try:
            users.change_password(current_user, form.current.data, form.new.data)
        except ServiceError as exc:
            flash(str(exc.message), "error")
            return redirect(url_for("settings.profile"))
        logout_user()
        session.clear()
        flash(_("Password changed. Log in again with the new password."), "info")
        return redirect(url_for("auth.login"))
    flash(_("Fill in both password fields."), "error")
    return redirect(url_for("settings.profile"))


@bp.route("/tokens", methods=["POST"])
@login_required
def create_token():
    form = TokenForm()
    new_token = None
    if form.validate_on_submit():
        try:
            _record, new_token = tokens.create_token(current_user, form.name.data)
        except ServiceError as exc:
            flash(str(exc.message), "error")
    else:
        flash(_("A token needs a name of at most 64 characters."), "error")
    return render_template(
        "settings/profile.html",
        password_form=PasswordForm(),
        token_form=TokenForm(formdata=None),
        tokens=tokens.list_tokens(current_user),
        new_token=new_token,
    )


@bp.route("/tokens/<int:token_id>/revoke", methods=["POST"])
@login_required
def revoke_token(token_id: int):
    if FlaskForm().validate_on_submit():
        try:
            tokens.revoke_token(current_user, token_id)
            flash(_("Token revoked."), "info")
        except ServiceError as exc:
            flash(str(exc.message), "error")
    return redirect(url_for("settings.profile"))
