"""`/s/<session-id>/…`: forward HTTP and websockets to the session's Jupyter.

Every request is authorised first (portal/services/proxy.py) and refused with the
portal's own error page otherwise, so a refused requester never gets a byte from the
session. Requests go upstream with the session's Jupyter secret in `Authorization`, and
without the portal's own cookies, `Origin` and `Referer`; bodies stream both ways. What
crosses in each direction is decided in portal/proxy/headers.py: the secret never comes
back to the browser (issue 12).
"""

from __future__ import annotations

from urllib.parse import quote

from flask import Response, abort, current_app, redirect, render_template, request
from flask_babel import gettext as _
from flask_login import current_user

from adapters import upstream
from portal.extensions import login_manager
from portal.net import client_address
from portal.proxy import headers, websocket
from portal.proxy.blueprint import bp
from portal.services import ServiceError
from portal.services import proxy as rules
from portal.services.sessions import probe

METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
filtered_cookies = headers.filtered_cookies


def _portal_cookies() -> set[str]:
    config = current_app.config
    return {config.get("SESSION_COOKIE_NAME", "session"),
            config.get("REMEMBER_COOKIE_NAME", "remember_token")}


def upstream_headers(target: rules.Target) -> dict[str, str]:
    return headers.upstream_request_headers(request.headers.items(), target.token,
                                            _portal_cookies())


def raw_target(session_id: int) -> str:
    """The path and query as the client sent them (percent-encoding intact), less any
    `token=` parameter: the proxy alone authenticates to Jupyter."""
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI")
    if not raw or not raw.startswith(f"/s/{session_id}/"):
        raw = quote(request.path)
        if request.query_string:
            raw += "?" + request.query_string.decode("latin-1")
    return headers.without_token_param(raw)


def response_headers(response, target: rules.Target) -> list[tuple[str, str]]:
    return headers.downstream_response_headers(
        response.getheaders(), target.token, f"{target.host}:{target.port}",
        _portal_cookies())


def _authorize(session_id: int, websocket_upgrade: bool = False) -> rules.Target:
    from portal.services import idle

    target = rules.authorize(
        current_user, session_id, client_address(), host=request.host,
        origin=request.headers.get("Origin"), method=request.method,
        websocket=websocket_upgrade, probe=probe,
    )
    idle.touch(target.session_id, "proxy")  # idle reclaim: coarse, once a minute at most
    return target


def _refusal(exc: ServiceError):
    if exc.status == 404:
        abort(404)
    if exc.status == 403:
        return render_template("error.html", code=403, title=_("Forbidden"),
                               message=exc.message), 403
    return render_template("sessions/not_running.html", message=exc.message), exc.status


@bp.route("/s/<int:session_id>", methods=METHODS)
def forward_bare(session_id: int):
    return redirect(f"/s/{session_id}/", 308)


@bp.route("/s/<int:session_id>/", defaults={"rest": ""}, methods=METHODS,
          endpoint="forward_root")
@bp.route("/s/<int:session_id>/<path:rest>", methods=METHODS)
def forward(session_id: int, rest: str):
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    try:
        target = _authorize(session_id)
    except ServiceError as exc:
        return _refusal(exc)
    length = request.content_length
    body = request.stream if (length or request.method in ("POST", "PUT", "PATCH")) else None
    try:
        response = upstream.open_http(target.host, target.port, request.method,
                                      raw_target(session_id), upstream_headers(target),
                                      body=body, length=length or 0)
    except upstream.UpstreamError as exc:
        return render_template("sessions/not_running.html", message=exc.message), 502
    passed = response_headers(response, target)
    body_iter = upstream.stream(response) if request.method != "HEAD" else iter(())
    if request.method == "HEAD":
        upstream.close(response)
    return Response(body_iter, status=response.status, headers=passed,
                    direct_passthrough=True)


@bp.route("/s/<int:session_id>/", defaults={"rest": ""}, websocket=True,
          endpoint="forward_ws_root")
@bp.route("/s/<int:session_id>/<path:rest>", websocket=True, endpoint="forward_ws")
def forward_ws(session_id: int, rest: str):
    if not current_user.is_authenticated:
        abort(404)
    try:
        target = _authorize(session_id, websocket_upgrade=True)
    except ServiceError as exc:
        return _refusal(exc)
    try:
        upstream_ws = upstream.open_websocket(
            target.host, target.port, raw_target(session_id),
            subprotocols=websocket.requested_subprotocols(),
            headers=upstream_headers(target))
    except upstream.UpstreamError as exc:
        return render_template("sessions/not_running.html", message=exc.message), 502
    client = websocket.accept(upstream_ws.subprotocol)
    websocket.relay(client, upstream_ws)
    return websocket.finished(client)
