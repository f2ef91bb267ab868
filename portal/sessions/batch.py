"""Batch create for project managers (F3): the create form, members with a count each, a
summary, then one session per member × count, owned by and submitted as each member."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select

from portal import db
from portal.models import Membership, ProjectRole
from portal.services import ServiceError, sessionaccept, sessionbatch
from portal.services.jobdisplay import hardware
from portal.services.users import current_membership
from portal.sessions.forms import form_context, form_data


def _members(membership) -> list[Membership]:
    stmt = select(Membership).where(Membership.project_id == membership.project_id)
    return sorted(db.session.scalars(stmt), key=lambda m: m.user.username)


def _counts(members) -> dict:
    return {m.user.username: request.form.get(f"count_{m.user_id}", "0") or "0"
            for m in members if (request.form.get(f"count_{m.user_id}") or "0") != "0"}


def _when(begin) -> str:
    """A start time as the session's page shows it (UTC), or "" for at once."""
    return begin.strftime("%Y-%m-%d %H:%M") + " UTC" if begin is not None else ""


def batch_page():
    membership = current_membership(current_user)
    if membership is None or membership.role != ProjectRole.MANAGER:
        abort(403)
    members = _members(membership)
    context = {"members": members, "counts": {}}
    if request.method == "GET":
        return render_template("sessions/batch.html", **form_context(current_user, {}),
                               **context)
    if not FlaskForm().validate_on_submit():
        abort(400)
    data = form_data(request.form)
    counts = _counts(members)
    context["counts"] = {k: v for k, v in request.form.items() if k.startswith("count_")}
    try:
        if request.form.get("action") == "create":
            created = sessionbatch.batch_create(current_user, data, counts)
            waiting = sum(s.state == sessionaccept.AWAITING for s in created)
            if len(created) > waiting:
                flash(_("%(n)s sessions submitted.", n=len(created) - waiting), "info")
            if waiting:
                flash(_("%(n)s sessions wait for their owners to accept them (the image is "
                        "not a public image).", n=waiting), "info")
            return redirect(url_for("sessions.index"))
        plans = sessionbatch.plan(current_user, data, counts)
        if request.form.get("action") == "review":
            rows = [(owner.username, req.name, hardware(req),
                     sessionaccept.needs_acceptance(owner, current_user, req.image_type),
                     _when(req.begin_at))
                    for owner, _m, req in plans]
            return render_template("sessions/batch_confirm.html", rows=rows, values=data,
                                   counts=context["counts"])
    except ServiceError as exc:
        flash(str(exc.message), "error")
        return render_template("sessions/batch.html", **form_context(current_user, data),
                               **context), 400
    return render_template("sessions/batch.html", **form_context(current_user, data), **context)
