"""The app's side of the gateway: `/_gateway/authorize` and `/_gateway/recheck`.

Only the gateway may call these: every call carries `X-Portal-Gateway: <key>`, a key
derived from the app's secret (gateway_key), and the gateway refuses to forward any
client request under /_gateway/. The authorize call is the client's own request as far
as the app can tell (its cookies, User-Agent, Host, Origin, and the address the gateway
saw in X-Forwarded-For), so Flask-Login, the owner, whitelist, Origin and node checks run
exactly as for the WSGI proxy (portal/services/proxy.py). A refusal is answered with the
page the WSGI proxy would have rendered; a grant with a signed decision (itsdangerous,
the app's secret, max age DECISION_MAX_AGE) that carries the Jupyter target.
"""

from __future__ import annotations

import hashlib
import hmac

from flask import Blueprint, abort, current_app, jsonify, request
from flask_babel import gettext as _
from flask_login import current_user
from itsdangerous import BadSignature, URLSafeTimedSerializer

from portal import db
from portal.extensions import csrf, login_manager
from portal.models import User
from portal.net import client_address
from portal.services import ServiceError, audit, idle
from portal.services import proxy as rules
from portal.services.sessions import probe

bp = Blueprint("gateway_internal", __name__, url_prefix="/_gateway")
csrf.exempt(bp)
KEY_HEADER = "X-Portal-Gateway"
DECISION_SALT = "portal-gateway-decision"
DECISION_MAX_AGE = 30
# A terminal decision is confirmed (password, audit) after the prompt: at most this old.
TERMINAL_START_MAX_AGE = 300
WEBTERM = "webterm"


def gateway_key(secret: str) -> str:
    """The shared key of app and gateway, derived from the app's secret key."""
    return hmac.new(str(secret).encode(), b"portal-gateway-v1", hashlib.sha256).hexdigest()


def serializer(secret: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(str(secret), salt=DECISION_SALT)


@bp.before_request
def _only_the_gateway():
    sent = request.headers.get(KEY_HEADER, "")
    if not hmac.compare_digest(sent, gateway_key(current_app.config["SECRET_KEY"])):
        abort(404)


@bp.post("/authorize/<int:session_id>")
def authorize(session_id: int):
    """Decide one client request or websocket upgrade to `/s/<session_id>/`."""
    from portal.proxy.routes import _refusal

    websocket = request.args.get("ws") == "1"
    method = request.args.get("method", "GET").upper()
    if not current_user.is_authenticated:
        if websocket:
            abort(404)
        return login_manager.unauthorized()
    client = client_address()
    try:
        target = rules.authorize(current_user, session_id, client, host=request.host,
                                 origin=request.headers.get("Origin"), method=method,
                                 websocket=websocket, probe=probe)
    except ServiceError as exc:
        return _refusal(exc)
    decision = {"sid": target.session_id, "host": target.host, "port": target.port,
                "token": target.token, "uid": current_user.id,
                "ver": getattr(current_user, "session_version", None), "client": client}
    signed = serializer(current_app.config["SECRET_KEY"]).dumps(decision)
    idle.touch(target.session_id, "proxy")  # coarse: at most once a minute per session
    return jsonify(decision=signed)


@bp.post("/terminal/<int:session_id>")
def terminal(session_id: int):
    """Decide one web-terminal websocket with the checks of portal/proxy/terminal.py (owner,
    whitelist, Origin, running, has a terminal). The signed decision carries the owner and
    the `srun --overlap --pty` argv the gateway runs; the texts are in the client's language."""
    from portal.proxy.routes import _refusal
    from portal.proxy.terminal import _authorize, terminal_command

    if not current_user.is_authenticated:
        abort(404)
    try:
        session = _authorize(session_id)
    except ServiceError as exc:
        return _refusal(exc)
    owner, argv = terminal_command(session)
    decision = {"sid": session.id, "uid": current_user.id, "kind": WEBTERM,
                "ver": getattr(current_user, "session_version", None),
                "client": client_address(), "user": owner, "argv": argv,
                "password": bool(session.webterm_password_hash)}
    texts = {"prompt": f"\x1b[1m{_('Web-terminal password')}:\x1b[0m ",
             "wrong": f"\r\n{_('Wrong password.')}\r\n",
             "failed": f"\r\n{_('The terminal could not start: %(error)s', error='{error}')}\r\n"}
    signed = serializer(current_app.config["SECRET_KEY"]).dumps(decision)
    return jsonify(decision=signed, texts=texts)


@bp.post("/terminal/<int:session_id>/start")
def terminal_start(session_id: int):
    """The gateway is about to start a decided terminal: check the web-terminal password
    (the first message, as in portal/proxy/terminal.py) and record the audit event."""
    from portal.services.passwords import verify_password

    body = request.get_json(silent=True) or {}
    try:
        data = serializer(current_app.config["SECRET_KEY"]).loads(
            str(body.get("decision", "")), max_age=TERMINAL_START_MAX_AGE)
    except BadSignature:
        abort(404)
    if (not current_user.is_authenticated or data.get("kind") != WEBTERM
            or data.get("sid") != session_id or data.get("uid") != current_user.id):
        abort(404)
    try:
        session = rules.owned_session(current_user, session_id)
    except ServiceError:
        abort(404)
    if session.webterm_password_hash:
        password = body.get("password")
        if not isinstance(password, str) or not verify_password(
                session.webterm_password_hash, password):
            return jsonify(ok=False), 403
    audit.record("session.terminal", f"session:{session.id}", name=session.name)
    idle.touch(session.id, "terminal")
    return jsonify(ok=True)


def _still_allowed(user, sid: int, client: str, kind: str) -> bool:
    try:
        if kind == WEBTERM:
            session = rules.owned_session(user, sid)
            rules.check_client(session, client)
            rules.running(session)
            return "webterm" in session.services and bool(session.slurm_job_id)
        rules._decide(user, sid, client, None)
    except ServiceError:
        return False
    return True


@bp.post("/recheck")
def recheck():
    """Which of the listed (session, user, login version, address[, "webterm"]) grants
    still hold: one call per RECHECK seconds for all of the gateway's open connections."""
    body = request.get_json(silent=True) or {}
    items = body.get("grants") or []
    valid = []
    for item in items[:10000]:
        try:
            sid, uid, ver, client = int(item[0]), int(item[1]), item[2], str(item[3])
            kind = str(item[4]) if len(item) > 4 else "jupyter"
        except (TypeError, ValueError, IndexError, KeyError):
            continue
        user = db.session.get(User, uid)
        if user is None or not user.is_active or getattr(user, "session_version", None) != ver:
            continue
        if _still_allowed(user, sid, client, kind):
            valid.append(list(item[:5]))
    _record_activity(body.get("active"), {int(v[0]) for v in valid})
    return jsonify(valid=valid)


def _record_activity(active, allowed: set[int]) -> None:
    """The gateway's report of sessions whose websockets carried client messages; only
    sessions with a grant that still holds count (idle reclaim)."""
    if not isinstance(active, list):
        return
    for item in active[:10000]:
        try:
            sid, kind = int(item[0]), str(item[1])
        except (TypeError, ValueError, IndexError):
            continue
        if sid in allowed and kind in idle.KINDS:
            idle.touch(sid, kind)
