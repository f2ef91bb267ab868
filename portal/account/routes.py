"""Account pages. Thin: the rules are in portal.services.activation, oplog and account."""

from __future__ import annotations

from flask import Response, flash, redirect, render_template, request, stream_with_context, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from flask_wtf import FlaskForm

from portal.account.blueprint import bp
from portal.account.forms import ContactTextForm
from portal.services import ServiceError, oplog
from portal.services import account as accounts
from portal.services import activation as act

# -- cloud platform (activation) -------------------------------------------------------


@bp.get("/activation")
@login_required
def activation():
    state = act.get_state(current_user)
    if state is None or state.checked_at is None:
        state = act.refresh(current_user)
    return render_template("account/activation.html", state=state,
                           required=act.is_required())


@bp.post("/activation/refresh")
@login_required
def activation_refresh():
    if FlaskForm().validate_on_submit():
        act.refresh(current_user)
        flash(_("Checked again."), "info")
    return redirect(url_for("account.activation"))


@bp.post("/activation/activate")
@login_required
def activation_activate():
    if not FlaskForm().validate_on_submit():
        flash(_("The form expired. Please try again."), "error")
        return redirect(url_for("account.activation"))
    try:
        state = act.activate(current_user)
        if state.activated_at:
            flash(_("Your cloud platform account is activated."), "info")
    except ServiceError as exc:
        flash(str(exc.message), "error")
    return redirect(url_for("account.activation"))


# -- operation log ---------------------------------------------------------------------


@bp.get("/log")
@login_required
def log():
    error = None
    try:
        filters = oplog.parse_filters(request.args)
        page = oplog.page_of(current_user, filters, _int(request.args.get("page"), 1))
    except ServiceError as exc:
        error, filters, page = exc.message, oplog.Filters(), None
    return render_template("account/log.html", page=page, filters=filters, error=error,
                           args=request.args, actions=oplog.actions(current_user))


@bp.get("/log.csv")
@login_required
def log_csv():
    try:
        filters = oplog.parse_filters(request.args)
    except ServiceError as exc:
        return Response(str(exc.message), status=400, mimetype="text/plain")
    body = stream_with_context(oplog.csv_rows(current_user, filters))
    response = Response(body, mimetype="text/csv; charset=utf-8")
    response.headers["Content-Disposition"] = 'attachment; filename="operation-log.csv"'
    return response


def _int(raw, default: int) -> int:
    try:
        return max(1, int(raw))
    except (TypeError, ValueError):
        return default


# -- contact admin ---------------------------------------------------------------------


@bp.route("/contact", methods=["GET", "POST"])
@login_required
def contact():
    row = accounts.contact_text()
    form = ContactTextForm(formdata=None, body=row.body if row else "")
    if request.method == "POST":
        form = ContactTextForm()
        if not form.validate_on_submit():
            flash(_("The text is too long or the form expired."), "error")
        else:
            try:
                accounts.set_contact_text(current_user, form.body.data)
                flash(_("Contact information saved."), "info")
                return redirect(url_for("account.contact"))
            except ServiceError as exc:
                flash(str(exc.message), "error")
    return render_template("account/contact.html", row=row, form=form,
                           body=accounts.render_plain(row.body if row else ""))
