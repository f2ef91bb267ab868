"""Whitelist pages. Thin: every rule is in portal.services.whitelists."""

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from flask_wtf import FlaskForm

from portal.services import ServiceError, whitelists
from portal.whitelists.blueprint import bp
from portal.whitelists.forms import RulesForm, WhitelistForm


def _form_expired(target: str):
    flash(_("The form expired. Please try again."), "error")
    return redirect(target)


def _flash_warnings(warnings) -> None:
    for warning in warnings:
        flash(str(warning), "warning")


def _own(whitelist_id: int):
    try:
        return whitelists.get_whitelist(current_user, whitelist_id)
    except ServiceError:
        abort(404)


def _fix(exc: ServiceError) -> dict | None:
    """A network with host bits set: what to put instead, for the one-click fix button."""
    if not getattr(exc, "suggestion", None):
        return None
    return {"line": getattr(exc, "line", 0), "original": exc.original, "fixed": exc.suggestion}


def _index(form: WhitelistForm, status: int = 200, fix: dict | None = None):
    owned = whitelists.list_whitelists(current_user)
    return render_template(
        "whitelists/index.html",
        whitelists=owned,
        usage={w.id: whitelists.whitelist_usage(w) for w in owned},
        rule_label=whitelists.rule_label,
        form=form,
        fix=fix,
    ), status


@bp.get("/")
@login_required
def index():
    return _index(WhitelistForm(formdata=None))


@bp.post("/")
@login_required
def create():
    form = WhitelistForm()
    if not form.validate_on_submit():
        return _form_expired(url_for("whitelists.index"))
    try:
        whitelist, warnings = whitelists.create_whitelist(
            current_user, form.name.data, form.rules.data or "",
            admit_all=bool(form.admit_all.data),
        )
    except ServiceError as exc:
        flash(str(exc.message), "error")
        return _index(form, 400, _fix(exc))  # keep what was typed so it can be corrected
    flash(_("Whitelist %(name)s created.", name=whitelist.name), "info")
    _flash_warnings(warnings)
    return redirect(url_for("whitelists.detail", whitelist_id=whitelist.id))


def _detail(whitelist, form: RulesForm, status: int = 200, fix: dict | None = None):
    address = request.args.get("address")
    try:
        check = whitelists.explain(whitelist, address or None)
    except ServiceError as exc:
        flash(str(exc.message), "error")
        check = whitelists.explain(whitelist)
        address = None
    return render_template(
        "whitelists/detail.html",
        whitelist=whitelist,
        rule_label=whitelists.rule_label,
        form=form,
        check=check,
        checked_other=bool(address),
        ssh_port=whitelists.SSH_PORT,
        web_port=whitelists.WEB_PORT,
        usage=whitelists.whitelist_usage(whitelist),
        fix=fix,
    ), status


@bp.get("/<int:whitelist_id>")
@login_required
def detail(whitelist_id: int):
    return _detail(_own(whitelist_id), RulesForm(formdata=None))


@bp.post("/<int:whitelist_id>/rules")
@login_required
def add_rules(whitelist_id: int):
    whitelist = _own(whitelist_id)
    here = url_for("whitelists.detail", whitelist_id=whitelist_id)
    form = RulesForm()
    if not form.validate_on_submit():
        return _form_expired(here)
    try:
        added, warnings = whitelists.add_rules(current_user, whitelist_id, form.rules.data or "",
                                               admit_all=bool(form.admit_all.data))
    except ServiceError as exc:
        flash(str(exc.message), "error")
        return _detail(whitelist, form, 400, _fix(exc))
    flash(_("%(count)d rule(s) added.", count=len(added)), "info")
    _flash_warnings(warnings)
    return redirect(here)


@bp.post("/<int:whitelist_id>/rules/<int:rule_id>/delete")
@login_required
def delete_rule(whitelist_id: int, rule_id: int):
    here = url_for("whitelists.detail", whitelist_id=whitelist_id)
    if not FlaskForm().validate_on_submit():
        return _form_expired(here)
    try:
        whitelists.delete_rule(current_user, whitelist_id, rule_id)
    except ServiceError:
        abort(404)
    flash(_("Rule removed."), "info")
    return redirect(here)


@bp.route("/<int:whitelist_id>/delete", methods=["GET", "POST"])
@login_required
def delete(whitelist_id: int):
    whitelist = _own(whitelist_id)
    form = FlaskForm()
    if form.validate_on_submit():
        name = whitelist.name
        whitelists.delete_whitelist(current_user, whitelist_id)
        flash(_("Whitelist %(name)s deleted.", name=name), "info")
        return redirect(url_for("whitelists.index"))
    return render_template(
        "whitelists/delete.html",
        whitelist=whitelist,
        form=form,
        usage=whitelists.whitelist_usage(whitelist),
        rule_label=whitelists.rule_label,
    )
