"""Bearer-token authentication for the API (no cookies, so no CSRF to guard against)."""

from __future__ import annotations

from functools import wraps

from flask import g, request

from portal.api.errors import error_response
from portal.services import tokens


def token_required(view):
    @wraps(view)
    def wrapper(*args, **kwargs):
        scheme, _, credential = request.headers.get("Authorization", "").partition(" ")
        user = tokens.user_for_token(credential.strip()) if scheme.lower() == "bearer" else None
        if user is None:
            response = error_response(
                "unauthorized", "A valid personal access token is required (Bearer).", 401
            )
            response.headers["WWW-Authenticate"] = 'Bearer realm="portal"'
            return response
        g.api_user = user
        return view(*args, **kwargs)

    return wrapper


def admin_required(view):
    @wraps(view)
    @token_required
    def wrapper(*args, **kwargs):
        if not g.api_user.is_admin:
            return error_response("forbidden", "Platform administrators only.", 403)
        return view(*args, **kwargs)

    return wrapper
