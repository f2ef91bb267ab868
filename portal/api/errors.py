"""Every API failure is `{"error": {"code": ..., "message": ...}}` with a stable code."""

from __future__ import annotations

from flask import jsonify
from werkzeug.exceptions import HTTPException

from portal.api import bp
from portal.services import ServiceError


def error_response(code: str, message: str, status: int):
    response = jsonify({"error": {"code": code, "message": message}})
    response.status_code = status
    return response


@bp.errorhandler(ServiceError)
def service_error(exc: ServiceError):
    return error_response(exc.code, str(exc.message), exc.status)


@bp.errorhandler(HTTPException)
def http_error(exc: HTTPException):
    code = (exc.name or "error").lower().replace(" ", "_")
    return error_response(code, exc.description or exc.name, exc.code or 500)
