"""Delete confirmations name the open sessions that still use a key or a whitelist (F9/F10)."""

from __future__ import annotations

import uuid

import pytest

from portal import db
from portal.models import Project, Session
from portal.services import keys, whitelists
from tests.conftest import csrf_from
from tests.unit.keys.netsec_support import pub

ED = pub("ed25519.pub").strip()


def _session(user, name, *, state="running", key_ids=(), lists=()):
    project = db.session.query(Project).filter_by(account="usagetest").one_or_none()
    if project is None:
        project = Project(account="usagetest", name="Usage test")
        db.session.add(project)
        db.session.flush()
    row = Session(uuid=uuid.uuid4().hex, user_id=user.id, project_id=project.id, name=name,
                  account=project.account, image="pytorch", state=state,
                  ssh_key_ids=list(key_ids))
    row.whitelists = list(lists)
    db.session.add(row)
    db.session.commit()
    return row


def test_key_delete_confirmation_names_the_open_sessions_using_it(ursula, client):
    key = keys.import_key(ursula, "desk", ED)
    _session(ursula, "train-a", key_ids=[key.id])
    _session(ursula, "old-one", state="ended", key_ids=[key.id])
    _session(ursula, "no-key")
    assert [s.name for s in keys.key_usage(key)] == ["train-a"]

    index = client.get("/keys/").get_data(as_text=True)
    assert "train-a" in index
    confirm = client.get(f"/keys/{key.id}/delete").get_data(as_text=True)
    assert "These sessions still use it" in confirm and "train-a" in confirm
    assert "old-one" not in confirm and "no-key" not in confirm
    client.post(f"/keys/{key.id}/delete", data={"csrf_token": csrf_from(confirm)})
    assert keys.list_keys(ursula) == []


def test_whitelist_delete_confirmation_names_the_open_sessions_using_it(ursula, client):
    office, _ = whitelists.create_whitelist(ursula, "office", "10.0.0.0/8 tcp 22\n")
    _session(ursula, "behind-office", lists=[office])
    _session(ursula, "ended-office", state="ended", lists=[office])
    assert [s.name for s in whitelists.whitelist_usage(office)] == ["behind-office"]
    confirm = client.get(f"/whitelists/{office.id}/delete").get_data(as_text=True)
    assert "These sessions still use it" in confirm and "behind-office" in confirm
    assert "ended-office" not in confirm


@pytest.mark.parametrize("state", ["submitting", "pending", "starting", "running", "deleting"])
def test_every_open_state_counts_as_using(ursula, state):
    key = keys.import_key(ursula, "desk", ED)
    _session(ursula, f"s-{state}", state=state, key_ids=[key.id])
    assert [s.name for s in keys.key_usage(key)] == [f"s-{state}"]
