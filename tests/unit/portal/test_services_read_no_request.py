"""Services take their actor and origin from the caller, never from the web request (issue #18
item 3): the same service runs for a page, the API, the CLI and the worker, and only a page
or the API has a request. So no module under portal/services imports Flask's `request` or
Flask-Login (`current_user` and friends); the web layer hands the request's user and client
address to the audit log through `audit.use_web_actor` (portal/net.py's `request_actor`).
"""

from __future__ import annotations

import ast
from pathlib import Path

SERVICES = Path(__file__).resolve().parents[3] / "portal" / "services"


def request_reads(path: Path, root: Path) -> list[str]:
    """Every place `path` imports `flask.request` or anything of flask_login, at any depth."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        where = f"{path.relative_to(root)}:{getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.ImportFrom) and node.module:
            names = {alias.name for alias in node.names}
            if node.module == "flask" and "request" in names:
                found.append(f"{where} from flask import request")
            if node.module == "flask_login" or node.module.startswith("flask_login."):
                found.append(f"{where} from {node.module} import {', '.join(sorted(names))}")
        elif isinstance(node, ast.Import):
            found += [f"{where} import {alias.name}" for alias in node.names
                      if alias.name == "flask_login" or alias.name.startswith("flask_login.")]
        elif isinstance(node, ast.Attribute) and node.attr == "request" \
                and isinstance(node.value, ast.Name) and node.value.id == "flask":
            found.append(f"{where} flask.request")
    return found


def test_the_check_sees_each_form(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("import flask\n"
                      "from flask import current_app, request\n"
                      "def f():\n"
                      "    from flask_login import current_user\n"
                      "    return flask.request.path, current_user\n")
    found = request_reads(sample, tmp_path)
    assert [line.split(" ", 1)[1] for line in found] == [
        "from flask import request", "from flask_login import current_user", "flask.request"]


def test_no_service_reads_the_web_request():
    root = SERVICES.parents[1]
    found = [line for path in sorted(SERVICES.rglob("*.py")) for line in request_reads(path, root)]
    assert not found, "services must be given the actor and origin:\n" + "\n".join(found)
