from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, logout_user
from flask_wtf import FlaskForm

from portal.auth.redirects import safe_next
from portal.services import ServiceError, audit, tokens, users
from portal.settings.blueprint import bp
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
        token_form=TokenForm().offer(tokens.scopes_for(current_user)),
        tokens=tokens.list_tokens(current_user),
        token_minutes=_token_minutes(),
        new_token=None,
        profile_form=_profile_form(),
    )


@bp.route("/notifications", methods=["POST"])
@login_required
def notifications():
    """Which events to be told of, by e-mail and/or webhook (issue #17)."""
    from portal.services import notify

    if not FlaskForm().validate_on_submit():
        return redirect(url_for("settings.profile"))
    try:
        notify.save_settings(current_user, request.form.getlist("kinds"),
                             request.form.get("email") == "on",
                             request.form.get("webhook_url", ""),
                             new_secret=request.form.get("new_secret") == "on")
        flash(_("Notification settings saved."), "info")
    except ServiceError as exc:
        flash(str(exc.message), "error")
    return redirect(url_for("settings.profile"))


@bp.app_context_processor
def notification_settings():
    """The profile page's notifications card reads these."""
    def current():
        from portal.services import notify

        return notify.setting_of(current_user), notify.KINDS

    return {"notification_settings": current}


def _token_minutes() -> int:
    """How stale a token's "last used" may be, in whole minutes (at least 1)."""
    return max(1, round(tokens.last_used_interval() / 60))


def _profile_form(formdata=None):
    from portal.account.forms import ProfileForm
    from portal.services import account

    return ProfileForm(formdata=formdata, display_name=current_user.display_name,
                       contact=account.contact_of(current_user), email=current_user.email)


@bp.route("/profile", methods=["POST"])
@login_required
def update_profile():
    """Display name, contact and email (F11); nothing changes when one of them is bad."""
    from portal.services import account

    form = _profile_form(request.form)
    if form.validate_on_submit():
        try:
            account.update_profile(current_user, form.display_name.data, form.contact.data,
                                   form.email.data)
            flash(_("Profile saved."), "info")
        except ServiceError as exc:
            flash(str(exc.message), "error")
    else:
        flash(_("A field is too long or the form expired."), "error")
    return redirect(url_for("settings.profile"))


@bp.route("/password", methods=["POST"])
@login_required
def password():
    form = PasswordForm()
    if form.validate_on_submit():
        try:
            users.change_password(current_user, form.current.data, form.new.data)
        except ServiceError as exc:
            audit.record("auth.password_change_failed", current_user.username, reason=exc.code)
            flash(str(exc.message), "error")
            return redirect(url_for("settings.profile"))
        audit.record("auth.password_change", current_user.username)
        logout_user()
        session.clear()
        flash(_("Password changed. Log in again with the new password."), "info")
        return redirect(url_for("auth.login"))
    flash(_("Fill in both password fields."), "error")
    return redirect(url_for("settings.profile"))


@bp.route("/tokens", methods=["POST"])
@login_required
def create_token():
    form = TokenForm().offer(tokens.scopes_for(current_user))
    new_token = None
    if form.validate_on_submit():
        try:
            _record, new_token = tokens.create_token(current_user, form.name.data,
                                                     form.scope.data)
        except ServiceError as exc:
            flash(str(exc.message), "error")
    else:
        flash(_("A token needs a name of at most 64 characters and one of the scopes offered."),
              "error")
    return render_template(
        "settings/profile.html",
        password_form=PasswordForm(),
        token_form=TokenForm(formdata=None).offer(tokens.scopes_for(current_user)),
        tokens=tokens.list_tokens(current_user),
        token_minutes=_token_minutes(),
        new_token=new_token,
        profile_form=_profile_form(),
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
