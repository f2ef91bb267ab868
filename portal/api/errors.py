"""Every API failure is `{"error": {"code": ..., "message": ...}}` with a stable code."""

from __future__ import annotations

from flask import jsonify
from werkzeug.exceptions import HTTPException

from portal.api.blueprint import bp
from portal.services import ServiceError


def error_response(code: str, message: str, status: int, *, details: dict | None = None,
                   **extra):
    """`{"error": {"code", "message", **details}, **extra}`: `details` says more about the
    error (e.g. "outage": what is down), `extra` adds objects beside it (the job an
    uncertain create recorded)."""
    response = jsonify({"error": {"code": code, "message": message, **(details or {})},
                        **extra})
    response.status_code = status
    return response


@bp.errorhandler(ServiceError)
def service_error(exc: ServiceError):
    return error_response(exc.code, str(exc.message), exc.status, details=exc.details)


@bp.errorhandler(HTTPException)
def http_error(exc: HTTPException):
    code = (exc.name or "error").lower().replace(" ", "_")
    return error_response(code, exc.description or exc.name, exc.code or 500)
