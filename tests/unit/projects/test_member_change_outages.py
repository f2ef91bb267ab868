"""Issue #13 item 4: with MariaDB down a member change answered 502 "Slurm refused the
change"; it is an outage (503) named by what is down, and nothing changes on either side.
The accounts adapter is the real one; only sacctmgr's answers are replayed, as recorded
(tests/data/slurm/22.05/sacctmgr_database_down_add.txt, sacctmgr_unreachable_add.txt)."""

from __future__ import annotations

import pytest

from adapters.accounts import SlurmAccounts
from adapters.runner import CommandRunner
from portal.models import Membership
from portal.services import tokens
from tests.unit.adapters.test_accounts import load


class DownRunner(CommandRunner):
    """Every sacctmgr call gets the recorded failure."""

    def __init__(self, recorded: dict):
        super().__init__(run_as_prefix=["runuser", "-u", "{user}", "--"])
        self.recorded = recorded

    def _execute(self, argv, data, limit, cwd):
        return 1, b"", self.recorded["stderr"].encode()


@pytest.mark.parametrize("capture, outage, words", [
    ("database_down_add", "database", "accounting database (the MariaDB/MySQL server"),
    ("unreachable_add", "slurmdbd", "accounting service (slurmdbd) is not answering"),
])
def test_a_member_change_during_an_outage_is_503_named_by_what_is_down(
        app, client, project, people, fake, capture, outage, words):
    with app.app_context():
        _, token = tokens.create_token(people["mia"], "t")
    app.extensions["accounts"] = SlurmAccounts(runner=DownRunner(load("22.05", capture)))
    response = client.post(f"/api/v1/projects/{project}/members",
                           json={"username": "otto", "role": "member"},
                           headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 503, response.json
    error = response.json["error"]
    assert error["code"] == "slurm_unavailable" and error["outage"] == outage
    assert words in error["message"] and "Nothing was changed" in error["message"]
    with app.app_context():
        from portal import db

        assert db.session.query(Membership).filter_by(
            user_id=people["otto"].id).count() == 0
