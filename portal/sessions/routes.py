from urllib.parse import urlsplit

from flask import (
    abort,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required
from flask_wtf import FlaskForm

from portal.auth.decorators import admin_required
from portal.config import REPO_ROOT
from portal.services import ServiceError, cluster
from portal.services import sessionconn as conn
from portal.services import sessions as svc
from portal.services.extend import ends_at
from portal.services.sessiondisplay import session_view
from portal.services.sessionspec import parse_request
from portal.services.users import current_membership
from portal.sessions.blueprint import bp
from portal.sessions.forms import form_context, form_data, summary

# xterm.js comes from npm (package-lock.json), served from our own origin (CSP 'self').
VENDOR = {
    "xterm.js": REPO_ROOT / "node_modules/@xterm/xterm/lib/xterm.js",
    "xterm.css": REPO_ROOT / "node_modules/@xterm/xterm/css/xterm.css",
    "addon-fit.js": REPO_ROOT / "node_modules/@xterm/addon-fit/lib/addon-fit.js",
}
# xterm.js sizes its rows with a <style> element it creates: this one page allows inline
# styles (never inline scripts).
TERMINAL_CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
                "frame-ancestors 'none'")


def _csrf_ok() -> None:
    if not FlaskForm().validate_on_submit():
        abort(400)


@bp.route("/")
@login_required
def index():
    membership = current_membership(current_user)
    sessions = svc.visible_sessions(current_user, membership)
    views = {s.id: session_view(s, openable=svc.may_open(current_user, s, membership))
             for s in sessions}
    from portal.services import sessionaccept

    asks = [(s, sessionaccept.describe(s)) for s in sessionaccept.awaiting_for(current_user)]
    return render_template("sessions/index.html", sessions=sessions, views=views, asks=asks)


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new():
    if request.method == "GET":
        return render_template("sessions/new.html", **form_context(current_user, {}))
    _csrf_ok()
    data = form_data(request.form)
    action = request.form.get("action", "review")
    try:
        if action == "create":
            session = svc.create_session(current_user, data)
        else:
            request_ = parse_request(current_user, data, cluster.cached_view(),
                                     quota=svc.project_quota(svc.require_membership(current_user)))
            if action == "review":
                return render_template("sessions/confirm.html", values=data,
                                       summary=summary(current_user, request_))
            return render_template("sessions/new.html", **form_context(current_user, data))
    except ServiceError as exc:
        flash(str(exc.message), "error")
        return render_template("sessions/new.html", **form_context(current_user, data)), 400
    if session.error:
        flash(_("Slurm did not answer (%(error)s); the portal will look the session up.",
                error=session.error), "error")
    else:
        flash(_("Session %(name)s submitted (Slurm job %(id)s).", name=session.name,
                id=session.slurm_job_id), "info")
    return redirect(url_for("sessions.detail", session_id=session.id))


@bp.route("/<int:session_id>")
@login_required
def detail(session_id: int):
    from portal.services import efficiency
    from portal.services import idle as idlesvc
    from portal.services import record as recordsvc

    try:  # issue #16: an ended or deleted session keeps a read-only page
        session = recordsvc.readable_session(current_user, session_id)
    except ServiceError:
        abort(404)
    manage = not session.hidden and (session.user_id == current_user.id or svc.is_manager(
        current_user, session.project_id))
    own = manage and session.user_id == current_user.id
    if own:
        svc.probe(session)
    asks = []
    if session.state == "awaiting" and manage:
        from portal.services.sessionaccept import describe

        asks = [(session, describe(session))]
    view = session_view(session, openable=manage)
    return render_template("sessions/detail.html", session=session, view=view,
                           own=own, connection=conn.connection_info(session) if own else {},
                           asks=asks, ends_at=ends_at(session),
                           record=recordsvc.record_of("session", session),
                           read_only=not manage or session.state in ("ended", "failed"),
                           idle=idlesvc.status(session) if own else None,
                           efficiency=efficiency.of("session", session.id))


@bp.route("/<int:session_id>/keep", methods=["POST"])
@login_required
def keep(session_id: int):
    """Idle reclaim's Keep (issue #17): resets the idle clock once per idle period."""
    from portal.services import idle as idlesvc

    _csrf_ok()
    try:
        idlesvc.keep(current_user, session_id)
    except ServiceError as exc:
        if exc.status == 404:
            abort(404)
        flash(str(exc.message), "error")
    else:
        flash(_("Kept: the idle clock starts again now."), "info")
    return redirect(url_for("sessions.detail", session_id=session_id))


@bp.route("/<int:session_id>/extend", methods=["POST"])
@login_required
def extend(session_id: int):
    """The Extend button (issue #17): decided at once, the page shows the new end."""
    from portal.services import extend as extendsvc

    _csrf_ok()
    try:
        session = extendsvc.extend_session(current_user, session_id, request.form.get("hours"))
    except ServiceError as exc:
        if exc.status == 404:
            abort(404)
        flash(str(exc.message), "error")
    else:
        end = ends_at(session)
        flash(_("Extended by %(hours)s h; the session now ends at the latest at %(when)s UTC.",
                hours=request.form.get("hours"),
                when=end.strftime("%Y-%m-%d %H:%M") if end else "?"), "info")
    return redirect(url_for("sessions.detail", session_id=session_id))


@bp.route("/<int:session_id>/answer", methods=["POST"])
@login_required
def answer(session_id: int):
    """Accept or decline a session a manager asked for with a custom image (issue #12)."""
    from portal.services import sessionaccept

    _csrf_ok()
    action = request.form.get("action")
    try:
        if action == "accept":
            session = sessionaccept.accept(current_user, session_id)
        elif action == "decline":
            sessionaccept.decline(current_user, session_id)
            flash(_("Declined: nothing was started."), "info")
            return redirect(url_for("sessions.index"))
        else:
            abort(400)
    except ServiceError as exc:
        if exc.status == 404:
            abort(404)
        flash(str(exc.message), "error")
        return redirect(url_for("sessions.index"))
    if session.error:
        flash(_("Slurm did not answer (%(error)s); the portal will look the session up.",
                error=session.error), "error")
    else:
        flash(_("Session %(name)s submitted (Slurm job %(id)s).", name=session.name,
                id=session.slurm_job_id), "info")
    return redirect(url_for("sessions.detail", session_id=session.id))


@bp.route("/<int:session_id>/terminal")
@login_required
def terminal(session_id: int):
    try:
        session = svc.get_session(current_user, session_id)
    except ServiceError:
        abort(404)
    if session.state != "running" or "webterm" not in (session.services or []):
        flash(_("The web terminal opens while the session is running."), "error")
        return redirect(url_for("sessions.detail", session_id=session.id))
    response = make_response(render_template(
        "sessions/terminal.html", session=session,
        # url_for builds websocket rules as absolute ws:// URLs; the page picks ws or wss.
        ws_path=urlsplit(url_for("proxy.terminal_ws", session_id=session.id)).path,
        needs_password=bool(session.webterm_password_hash)))
    response.headers["Content-Security-Policy"] = TERMINAL_CSP
    return response


@bp.route("/delete", methods=["GET", "POST"])
@login_required
def delete():
    ids = [int(i) for i in request.values.getlist("ids") if str(i).isdigit()]
    if request.method == "GET" or request.form.get("confirm") != "1":
        if request.method == "POST":
            _csrf_ok()
        chosen = []
        for session_id in ids:
            try:
                chosen.append(svc.get_session(current_user, session_id, manage=True))
            except ServiceError:
                continue
        if not chosen:
            flash(_("Select at least one session."), "error")
            return redirect(url_for("sessions.index"))
        return render_template("sessions/delete.html", sessions=chosen)
    _csrf_ok()
    for session_id, error in svc.delete_sessions(current_user, ids):
        if error:
            flash(_("Session %(id)s: %(error)s", id=session_id, error=error), "error")
    flash(_("Deleting: each session shows \"deleting\" until Slurm confirms."), "info")
    return redirect(url_for("sessions.index"))


@bp.route("/batch", methods=["GET", "POST"])
@login_required
def batch():
    from portal.sessions.batch import batch_page

    return batch_page()


@bp.route("/vendor/<name>")
@login_required
def vendor(name: str):
    path = VENDOR.get(name)
    if path is None or not path.is_file():
        abort(404)
    return send_file(path, max_age=3600)


@bp.route("/admin/images", methods=["GET", "POST"])
@admin_required
def images_admin():
    """Public images (F13): list, register, offer or withdraw, unregister."""
    from portal.services import public_images

    if request.method == "POST":
        _csrf_ok()
        action = request.form.get("action", "register")
        try:
            if action == "register":
                form = request.form
                public_images.register_image(
                    form.get("name", ""), form.get("path", ""),
                    framework=form.get("framework", ""),
                    display_name=form.get("display_name", ""),
                    description=form.get("description", ""),
                    services=form.getlist("services"), auth_methods=form.getlist("auth"),
                    shell=form.get("shell") or "/bin/bash", actor=current_user)
                flash(_("Image %(name)s registered.", name=form.get("name")), "info")
            elif action in ("enable", "disable"):
                public_images.set_enabled(int(request.form["image_id"]), action == "enable",
                                          actor=current_user)
            elif action == "delete":
                public_images.delete_image(int(request.form["image_id"]), actor=current_user)
        except ServiceError as exc:
            flash(str(exc.message), "error")
            return render_template("sessions/images_admin.html",
                                   images=public_images.list_images(), values=request.form), 400
        except (KeyError, ValueError):
            abort(400)
        return redirect(url_for("sessions.images_admin"))
    return render_template("sessions/images_admin.html", images=public_images.list_images(),
                           values={})
