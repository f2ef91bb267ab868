"""Plain-Python rules of each feature; pages, API and CLI all call these, never each other."""


class ServiceError(Exception):
    """A refusal a user can act on. `code` is stable (API clients switch on it)."""

    status = 400

    def __init__(self, message: str, code: str = "invalid", status: int | None = None,
                 details: dict | None = None):
        super().__init__(message)
        self.message = message
        self.code = code
        # Extra JSON-safe fields for API clients (e.g. {"outage": "controller"}).
        self.details = details or {}
        if status is not None:
            self.status = status


class NotFound(ServiceError):
    status = 404

    def __init__(self, message: str, code: str = "not_found"):
        super().__init__(message, code)


class Forbidden(ServiceError):
    status = 403

    def __init__(self, message: str, code: str = "forbidden"):
        super().__init__(message, code)
