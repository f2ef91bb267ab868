"""Every JSON answer of /api/v1 in a unit test is checked against the OpenAPI document
(issue #18 item 4): the test that made an answer the document does not describe fails,
naming the path, the status and what differs (tests/support/openapi_check.py)."""

from __future__ import annotations

import pytest
from flask import request, request_finished

from tests.support import openapi_check


@pytest.fixture(autouse=True)
def answers_match_the_openapi_document():
    found: list[str] = []

    def check(sender, response, **_):
        rule = request.url_rule
        if rule is None or not rule.rule.startswith(openapi_check.PREFIX + "/"):
            return
        method = "get" if request.method == "HEAD" else request.method
        body = response.get_json(silent=True) if response.is_json else None
        found.extend(openapi_check.problems(method, rule.rule, response.status_code,
                                            response.mimetype or "", body))

    request_finished.connect(check)
    try:
        yield found
    finally:
        request_finished.disconnect(check)
    if found:
        pytest.fail("API answers that the OpenAPI document does not describe:\n"
                    + "\n".join(dict.fromkeys(found)), pytrace=False)
