"""Credentials never reach the logs: query-string secrets and credential headers are
replaced by `[redacted]` before gunicorn writes an access-log line.

Why: the access log kept whatever clients put in URLs — `?token=` (Jupyter's own links,
scripts that pass API tokens that way), `?password=` — for anyone who could read the log
(issue #12 finding 4). The request line, the query string and the Referer (which repeats
the previous page's URL) are cleaned; header atoms such as `%({authorization}i)s` or
`%({cookie}i)s` in a custom format are blanked. Used through portal/gunicorn_conf.py.
"""

from __future__ import annotations

import re

from gunicorn.glogging import Logger

REDACTED = "[redacted]"
# A query parameter whose name mentions one of these holds a credential.
_SECRET_NAME = re.compile(
    r"token|passw|passphrase|secret|api[-_]?key|auth|credential|signature|session_?id",
    re.IGNORECASE)
_PARAM = re.compile(r"(?P<name>[^?&;=\s\"#]+)=(?P<value>[^&;\s\"#]*)")
_SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie",
                             "x-api-key", "x-auth-token"})


def redact_query(text: str) -> str:
    """`text` (a URL, a request line or a bare query string) with secret values replaced."""
    if not text or "=" not in text:
        return text

    def clean(match: re.Match) -> str:
        if _SECRET_NAME.search(match.group("name")):
            return f"{match.group('name')}={REDACTED}"
        return match.group(0)

    return _PARAM.sub(clean, text)


def _secret_atom(key: str) -> bool:
    """`{authorization}i`, `{set-cookie}o`, `{http_cookie}e` and the like."""
    if len(key) < 3 or key[0] != "{" or key[-2] != "}" or key[-1] not in "ioe":
        return False
    name = key[1:-2].replace("_", "-")
    if key[-1] == "e":
        name = name.removeprefix("http-")
    return name in _SECRET_HEADERS


class RedactingLogger(Logger):
    """gunicorn's logger with credentials removed from every access-log atom."""

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        for key, value in atoms.items():
            if _secret_atom(key):
                atoms[key] = REDACTED
            elif isinstance(value, str):
                atoms[key] = redact_query(value)
        return atoms
