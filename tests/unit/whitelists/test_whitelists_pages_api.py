"""F10 pages and /api/v1/whitelists: create with several rules, add, remove, delete, refusals."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from portal import db
from portal.api.openapi import openapi_document
from portal.models import Whitelist, WhitelistRule
from portal.services import whitelists
from tests.conftest import csrf_from
from tests.unit.keys.netsec_support import audit_actions


def counts() -> tuple[int, int]:
    return (db.session.scalar(select(func.count()).select_from(Whitelist)),
            db.session.scalar(select(func.count()).select_from(WhitelistRule)))


def _create(client, name, rules, **extra):
    token = csrf_from(client.get("/whitelists/").get_data(as_text=True))
    return client.post("/whitelists/", data={"csrf_token": token, "name": name, "rules": rules,
                                             **extra})


def test_create_with_several_rules_then_add_remove_and_delete(ursula, client):
    response = _create(client, "office", "10.0.0.0/8 tcp 22\n2001:db8::/32\n")
    assert response.status_code == 302
    detail_url = response.headers["Location"]
    page = client.get(detail_url).get_data(as_text=True)
    assert "Whitelist office created." in page
    assert "10.0.0.0/8" in page and "2001:db8::/32" in page
    # The test client comes from 127.0.0.1, which these rules do not admit.
    assert 'data-testid="checked-address">127.0.0.1' in page and "refused" in page

    token = csrf_from(page)
    added = client.post(detail_url + "/rules", data={
        "csrf_token": token, "rules": "127.0.0.0/8 tcp 443\n10.0.0.0/8 tcp 22\n"})
    page = client.get(added.headers["Location"]).get_data(as_text=True)
    assert "1 rule(s) added." in page and "10.0.0.0/8 TCP 22 is already in the list." in page
    assert counts() == (1, 3)

    whitelist = db.session.scalars(select(Whitelist)).one()
    rule = next(r for r in whitelist.rules if r.cidr == "127.0.0.0/8")
    assert "admitted" in client.get(detail_url).get_data(as_text=True)
    client.post(f"{detail_url}/rules/{rule.id}/delete", data={"csrf_token": token})
    assert counts() == (1, 2)

    confirm = client.get(f"{detail_url}/delete").get_data(as_text=True)
    assert "Delete whitelist office?" in confirm and "No session uses this whitelist." in confirm
    done = client.post(f"{detail_url}/delete", data={"csrf_token": csrf_from(confirm)})
    assert "Whitelist office deleted." in client.get(done.headers["Location"]).get_data(
        as_text=True)
    assert counts() == (0, 0)
    assert [a for a, _ in audit_actions("whitelist.")] == [
        "whitelist.create", "whitelist.rules_add", "whitelist.rule_delete", "whitelist.delete"]
    assert audit_actions("whitelist.")[0][1]["rules"] == ["10.0.0.0/8 TCP 22",
                                                          "2001:db8::/32 TCP"]


def test_whole_internet_needs_the_explicit_choice_then_warns(ursula, client):
    refused = _create(client, "anyone", "0.0.0.0/0 tcp 22").get_data(as_text=True)
    assert "Admit every address" in refused and counts() == (0, 0)
    response = _create(client, "anyone", "0.0.0.0/0 tcp 22", admit_all="y")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert 'class="flash warning"' in page and "every address on the internet" in page
    assert counts() == (1, 1)


@pytest.mark.parametrize(
    "name, rules, message",
    [
        ("", "10.0.0.0/8", "A name is 1–64 characters."),
        ("x" * 65, "10.0.0.0/8", "A name is 1–64 characters."),
        ("lab", "", "Add at least one rule."),
        ("lab", "10.1.2.3/8", "Rule 1: 10.1.2.3/8 has host bits set. Did you mean 10.0.0.0/8?"),
        ("lab", "10.0.0.0/8\n010.0.0.1", "Rule 2: 010.0.0.1 has a number with a leading zero"),
        ("lab", "300.1.1.1", "has a number above 255"),
        ("lab", "10.0.0.0/8 tcp 70000", "A port is a number from 1 to 65535"),
        ("lab", "10.0.0.0/8 tcp 0", "A port is a number from 1 to 65535"),
        ("lab", "::ffff:10.0.0.0/104", "IPv4-mapped"),
        ("office", "192.0.2.0/24", "You already have a whitelist named office."),
    ],
)
def test_refusals_keep_the_typed_text_and_change_nothing(ursula, client, name, rules, message):
    _create(client, "office", "10.0.0.0/8")
    response = _create(client, name, rules)
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and message in page
    assert rules.split("\n")[0] in page  # the form keeps what was typed
    assert counts() == (1, 1) and len(audit_actions("whitelist.")) == 1


def test_bad_added_rules_add_nothing(ursula, client):
    detail_url = _create(client, "office", "10.0.0.0/8").headers["Location"]
    token = csrf_from(client.get(detail_url).get_data(as_text=True))
    response = client.post(detail_url + "/rules",
                           data={"csrf_token": token, "rules": "192.0.2.0/24\n192.0.2.1/24"})
    assert response.status_code == 400 and "Rule 2:" in response.get_data(as_text=True)
    assert counts() == (1, 1)


def test_check_another_address(ursula, client):
    detail_url = _create(client, "office", "10.0.0.0/8 tcp 22").headers["Location"]
    page = client.get(detail_url + "?address=::ffff:10.2.3.4").get_data(as_text=True)
    assert 'data-testid="checked-address">10.2.3.4' in page
    ssh_line = page.split('data-testid="check-ssh"')[1].split("</li>")[0]
    web_line = page.split('data-testid="check-web"')[1].split("</li>")[0]
    assert "admitted" in ssh_line and "refused" in web_line
    assert "is not an IP address" in client.get(detail_url + "?address=nope").get_data(
        as_text=True)


def test_another_users_whitelist_is_not_found(ursula, client, make_user):
    theirs, _ = whitelists.create_whitelist(make_user("victor"), "x", "10.0.0.0/8")
    token = csrf_from(client.get("/whitelists/").get_data(as_text=True))
    assert client.get(f"/whitelists/{theirs.id}").status_code == 404
    assert client.post(f"/whitelists/{theirs.id}/delete",
                       data={"csrf_token": token}).status_code == 404
    assert client.post(f"/whitelists/{theirs.id}/rules/{theirs.rules[0].id}/delete",
                       data={"csrf_token": token}).status_code == 404
    assert counts() == (1, 1)


# ---- API ----------------------------------------------------------------------------------

def test_api_round_trip(client, bearer):
    created = client.post("/api/v1/whitelists", headers=bearer, json={
        "name": "office",
        "rules": [{"cidr": "10.0.0.0/8", "protocol": "tcp", "port": 22}, "0.0.0.0/0 udp"],
        "admit_all": True,
    })
    assert created.status_code == 201
    body = created.json
    assert [r["label"] for r in body["rules"]] == ["10.0.0.0/8 TCP 22", "0.0.0.0/0 UDP"]
    assert len(body["warnings"]) == 1 and body["used_by"] == []
    wid = body["id"]

    added = client.post(f"/api/v1/whitelists/{wid}/rules", headers=bearer,
                        json={"rules": ["2001:db8::/32 tcp 443", "10.0.0.0/8 tcp 22"]})
    assert added.status_code == 201 and [r["cidr"] for r in added.json["added"]] == [
        "2001:db8::/32"]
    check = client.get(f"/api/v1/whitelists/{wid}/check?address=10.0.0.7", headers=bearer).json
    assert check == {"address": "10.0.0.7", "ssh": True, "web": False}
    rule_id = added.json["added"][0]["id"]
    assert client.delete(f"/api/v1/whitelists/{wid}/rules/{rule_id}",
                         headers=bearer).status_code == 204
    assert len(client.get(f"/api/v1/whitelists/{wid}", headers=bearer).json["rules"]) == 2
    assert client.delete(f"/api/v1/whitelists/{wid}", headers=bearer).status_code == 204
    assert client.get("/api/v1/whitelists", headers=bearer).json == []


def test_api_check_ignores_a_forged_forwarded_for(client, bearer):
    wid = client.post("/api/v1/whitelists", headers=bearer,
                      json={"name": "o", "rules": ["10.0.0.0/8"]}).json["id"]
    check = client.get(f"/api/v1/whitelists/{wid}/check",
                       headers={**bearer, "X-Forwarded-For": "10.0.0.1"}).json
    assert check == {"address": "127.0.0.1", "ssh": False, "web": False}


@pytest.mark.parametrize(
    "body, code",
    [
        (None, "invalid_body"),
        ({"name": "x"}, "no_rules"),
        ({"name": "x", "rules": "10.0.0.0/8"}, None),
        ({"name": "x", "rules": [{"cidr": "10.0.0.1/8"}]}, "cidr_host_bits"),
        ({"name": "x", "rules": [{"cidr": "10.0.0.0/8", "port": 65536}]}, "invalid_port"),
        ({"name": "x", "rules": [{"cidr": "10.0.0.0/8", "protocol": "icmp"}]},
         "invalid_protocol"),
        ({"name": "x", "rules": {"cidr": "10.0.0.0/8"}}, "invalid_rules"),
        ({"name": "", "rules": ["10.0.0.0/8"]}, "invalid_name"),
        ({"name": "first", "rules": ["10.0.0.0/8"]}, "duplicate"),
    ],
)
def test_api_refusals(client, bearer, body, code):
    client.post("/api/v1/whitelists", headers=bearer,
                json={"name": "first", "rules": ["::/0"], "admit_all": True})
    response = client.post("/api/v1/whitelists", headers=bearer, json=body)
    if code is None:  # text rules are accepted by the API too
        assert response.status_code == 201
        return
    assert response.status_code == 400 and response.json["error"]["code"] == code
    assert counts() == (1, 1)


def test_api_documented():
    paths = openapi_document()["paths"]
    for path in ("/whitelists", "/whitelists/{whitelist_id}", "/whitelists/{whitelist_id}/rules",
                 "/whitelists/{whitelist_id}/rules/{rule_id}", "/whitelists/{whitelist_id}/check"):
        assert path in paths
