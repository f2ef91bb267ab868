"""Bearer-token authentication for the API (no cookies, so no CSRF to guard against).

The token's scope (portal.services.tokens) is enforced here for every route at once: a
read token gets 403 `insufficient_scope` on anything but GET/HEAD, and a token without
the admin scope marks the request so that `User.is_admin` is False for its owner.
"""

from __future__ import annotations

from functools import wraps

from flask import g, request

from portal.api.errors import error_response
from portal.services import tokens


def _scope_refusal(message: str, needed: str):
    response = error_response("insufficient_scope", message, 403)
    response.headers["WWW-Authenticate"] = (
        f'Bearer realm="portal", error="insufficient_scope", scope="{needed}"')
    return response


def token_required(view):
    @wraps(view)
    def wrapper(*args, **kwargs):
        scheme, _, credential = request.headers.get("Authorization", "").partition(" ")
        record = tokens.token_for(credential.strip()) if scheme.lower() == "bearer" else None
        if record is None:
            response = error_response(
                "unauthorized", "A valid personal access token is required (Bearer).", 401
            )
            response.headers["WWW-Authenticate"] = 'Bearer realm="portal"'
            return response
        if not tokens.allows_method(record, request.method):
            return _scope_refusal(
                "This token has the read scope: it may only send GET requests. "
                "Create a token with the write scope to make changes.", "write")
        g.api_user = record.user
        g.api_token = record
        if record.scope != "admin":
            g.admin_withheld_for = record.user_id  # see User.is_admin
        return view(*args, **kwargs)

    return wrapper


def admin_required(view):
    @wraps(view)
    @token_required
    def wrapper(*args, **kwargs):
        if not g.api_user.is_admin:
            if g.api_user.admin_role:
                return _scope_refusal(
                    "Administration needs a token with the admin scope; this one has the "
                    f"{g.api_token.scope} scope.", "admin")
            return error_response("forbidden", "Platform administrators only.", 403)
        return view(*args, **kwargs)

    return wrapper
