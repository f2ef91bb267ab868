"""Issue #12 finding 8: "allow all" without the explicit choice.

The attack (or the slip): a whitelist of `0.0.0.0/1` + `128.0.0.0/1` (or `::/1` +
`8000::/1`, or any set of networks whose union is everything) admits every address like
`0.0.0.0/0`, but used to be accepted with no warning. Now any rule set whose union covers
all of IPv4 or IPv6 for some protocol and port (a rule without a port counts for every
port, as enforcement counts it) is refused on the page, in the API and in the CLI unless
the user makes the explicit "Admit every address" choice — `0.0.0.0/0` included — and is
warned when they do. Property tests check the union against an independent interval sweep.
"""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from portal import db
from portal.models import Whitelist, WhitelistRule
from portal.services import ServiceError, whitelists
from portal.services.netrules import (
    RuleSpec,
    new_wide_scopes,
    parse_rules,
    wide_scopes,
)
from tests.conftest import csrf_from
from tests.unit.keys.netsec_support import bearer, ursula  # noqa: F401

# ---- the union check, by example ----------------------------------------------------------


@pytest.mark.parametrize("rules, wide", [
    ("0.0.0.0/1\n128.0.0.0/1", ["IPv4 tcp *"]),
    ("::/1\n8000::/1", ["IPv6 tcp *"]),
    ("0.0.0.0/2\n64.0.0.0/2\n128.0.0.0/2\n192.0.0.0/2 udp", []),  # udp is another scope
    ("0.0.0.0/2\n64.0.0.0/2\n128.0.0.0/1 udp\n128.0.0.0/1", ["IPv4 tcp *"]),
    ("0.0.0.0/1 tcp 22\n128.0.0.0/1", ["IPv4 tcp 22"]),  # no port = every port
    ("0.0.0.0/1 tcp 22\n128.0.0.0/1 tcp 23", []),
    ("0.0.0.0/1 tcp 20-30\n128.0.0.0/1 tcp 25-40", ["IPv4 tcp 25-30"]),
    ("0.0.0.0/1 tcp 20-30\n128.0.0.0/1 tcp 31-40", []),
    ("0.0.0.0/1 udp 53\n128.0.0.0/1 udp 53\n0.0.0.0/0 tcp 443", ["IPv4 tcp 443",
                                                                  "IPv4 udp 53"]),
    ("0.0.0.0/1\n128.0.0.0/2\n192.0.0.0/3\n224.0.0.0/3", ["IPv4 tcp *"]),
    ("0.0.0.0/1\n128.0.0.0/2\n192.0.0.0/3", []),  # 224.0.0.0/3 missing
    ("10.0.0.0/8\n::/0 tcp 22", ["IPv6 tcp 22"]),
])
def test_union_examples(rules, wide):
    found = [f"IPv{s.version} {s.protocol} {s.ports or '*'}"
             for s in wide_scopes(parse_rules(rules))]
    assert found == wide


# ---- the union check, by property --------------------------------------------------------

PORTS = st.one_of(st.none(), st.sampled_from([22, 443]),
                  st.tuples(st.integers(1, 600), st.integers(0, 600)))


@st.composite
def rule_specs(draw, version: int):
    bits = 32 if version == 4 else 128
    prefix = draw(st.integers(0, 3))  # wide networks, so that covering happens often
    top = draw(st.integers(0, 2 ** prefix - 1)) if prefix else 0
    network = ipaddress.ip_network((top << (bits - prefix), prefix))
    ports = draw(PORTS)
    if isinstance(ports, tuple):
        low, extra = ports
        ports = (low, min(65535, low + extra))
    elif ports is not None:
        ports = (ports, ports)
    low, high = ports or (None, None)
    return RuleSpec(str(network), draw(st.sampled_from(["tcp", "udp"])), low, high)


def _sweep_covers(networks, version: int) -> bool:
    """Independent oracle: sort [first, last] address intervals and sweep for a gap."""
    bits = 32 if version == 4 else 128
    spans = sorted((int(n.network_address), int(n.broadcast_address))
                   for n in networks if n.version == version)
    reach = -1
    for first, last in spans:
        if first > reach + 1:
            return False
        reach = max(reach, last)
    return reach == 2 ** bits - 1


def _applies(rule, protocol, port) -> bool:
    if rule.protocol != protocol:
        return False
    return rule.port_from is None or rule.port_from <= port <= (rule.port_to or rule.port_from)


def _wide_at(scopes, version, protocol, port) -> bool:
    return any(s.version == version and s.protocol == protocol
               and (s.port_from is None or s.port_from <= port <= s.port_to) for s in scopes)


RULE_SETS = st.lists(st.one_of(rule_specs(4), rule_specs(6)), min_size=1, max_size=12)


@settings(max_examples=300)
@given(RULE_SETS, st.lists(st.one_of(st.integers(1, 700), st.sampled_from([1, 65535])),
                           min_size=1, max_size=8))
def test_union_matches_an_interval_sweep_at_every_port(rules, ports):
    scopes = wide_scopes(rules)
    for port in ports:
        for protocol in ("tcp", "udp"):
            for version in (4, 6):
                nets = [ipaddress.ip_network(r.cidr) for r in rules
                        if _applies(r, protocol, port)]
                assert _wide_at(scopes, version, protocol, port) == \
                    _sweep_covers(nets, version), (port, protocol, version)


@st.composite
def partitions(draw):
    """A random partition of a whole address space into disjoint networks."""
    version = draw(st.sampled_from([4, 6]))
    pieces = [ipaddress.ip_network("0.0.0.0/0" if version == 4 else "::/0")]
    for _ in range(draw(st.integers(1, 12))):
        index = draw(st.integers(0, len(pieces) - 1))
        piece = pieces[index]
        if piece.prefixlen < piece.max_prefixlen:
            pieces[index:index + 1] = list(piece.subnets(
                prefixlen_diff=draw(st.integers(1, 3))
                if piece.prefixlen + 3 <= piece.max_prefixlen else 1))
    return draw(st.permutations(pieces))


@settings(max_examples=200)
@given(partitions(), st.data())
def test_any_partition_of_everything_is_wide_and_one_piece_less_is_not(pieces, data):
    rules = [RuleSpec(str(p)) for p in pieces]
    assert len(wide_scopes(rules)) == 1
    if len(pieces) > 1:
        gone = data.draw(st.integers(0, len(rules) - 1))
        assert wide_scopes(rules[:gone] + rules[gone + 1:]) == []


@settings(max_examples=200)
@given(RULE_SETS, RULE_SETS)
def test_adding_rules_only_widens_and_what_opens_is_reported(before, extra):
    assert new_wide_scopes(before, before) == []
    old, after = wide_scopes(before), wide_scopes(before + extra)
    new = new_wide_scopes(before, before + extra)
    for scope in old:  # adding rules never closes anything
        for port in {scope.port_from or 1, scope.port_to or 65535}:
            assert _wide_at(after, scope.version, scope.protocol, port)
    for scope in after:  # whatever is newly open to everyone needs the choice
        for port in {scope.port_from or 1, scope.port_to or 65535}:
            if not _wide_at(old, scope.version, scope.protocol, port):
                assert _wide_at(new, scope.version, scope.protocol, port)


# ---- the service, the page, the API, the CLI ---------------------------------------------

def _counts() -> tuple[int, int]:
    return (db.session.scalar(select(func.count()).select_from(Whitelist)),
            db.session.scalar(select(func.count()).select_from(WhitelistRule)))


def test_service_create_and_add(app, make_user):
    with app.test_request_context():
        user = make_user("walt")
        with pytest.raises(ServiceError) as refused:
            whitelists.create_whitelist(user, "halves", "0.0.0.0/1\n128.0.0.0/1")
        assert refused.value.code == "admits_everyone"
        assert "0.0.0.0/1, 128.0.0.0/1" in refused.value.message
        assert _counts() == (0, 0)
        half, _ = whitelists.create_whitelist(user, "half", "0.0.0.0/1 tcp 22")
        with pytest.raises(ServiceError) as refused:  # the other half, added later
            whitelists.add_rules(user, half.id, "128.0.0.0/1")
        assert refused.value.code == "admits_everyone" and "TCP port 22" in \
            refused.value.message
        assert _counts() == (1, 1)
        _, warnings = whitelists.add_rules(user, half.id, "128.0.0.0/1", admit_all=True)
        assert any("together admit every IPv4 address" in str(w) for w in warnings)
        # already open to everyone, by choice: unrelated rules need no new choice
        added, _ = whitelists.add_rules(user, half.id, "10.0.0.0/8 udp")
        assert len(added) == 1


def _page_create(client, name, rules, **extra):
    token = csrf_from(client.get("/whitelists/").get_data(as_text=True))
    return client.post("/whitelists/", data={"csrf_token": token, "name": name,
                                             "rules": rules, **extra})


def test_page_refuses_without_the_explicit_choice(app, ursula, client):  # noqa: F811
    refused = _page_create(client, "halves", "::/1\n8000::/1")
    page = refused.get_data(as_text=True)
    assert refused.status_code == 400 and "admit every IPv6 address" in page
    assert 'name="admit_all"' in page
    with app.app_context():
        assert _counts() == (0, 0)
    made = _page_create(client, "halves", "::/1\n8000::/1", admit_all="y")
    assert made.status_code == 302
    shown = client.get(made.headers["Location"]).get_data(as_text=True)
    assert 'class="flash warning"' in shown and "together admit every IPv6 address" in shown
    # adding the other half on the detail page: refused without the choice too
    detail = _page_create(client, "half", "0.0.0.0/1")
    url = detail.headers["Location"]
    token = csrf_from(client.get(url).get_data(as_text=True))
    refused = client.post(url + "/rules", data={"csrf_token": token, "rules": "128.0.0.0/1"})
    assert refused.status_code == 400 and "admit every IPv4 address" in \
        refused.get_data(as_text=True)


def test_api_refuses_without_the_explicit_choice(app, client, bearer):  # noqa: F811
    body = {"name": "halves", "rules": ["0.0.0.0/1 tcp 443", "128.0.0.0/1 tcp 443"]}
    refused = client.post("/api/v1/whitelists", headers=bearer, json=body)
    assert refused.status_code == 400
    assert refused.json["error"]["code"] == "admits_everyone"
    assert "TCP port 443" in refused.json["error"]["message"]
    odd = client.post("/api/v1/whitelists", headers=bearer, json={**body, "admit_all": "yes"})
    assert odd.status_code == 400 and odd.json["error"]["code"] == "invalid_admit_all"
    with app.app_context():
        assert _counts() == (0, 0)
    made = client.post("/api/v1/whitelists", headers=bearer, json={**body, "admit_all": True})
    assert made.status_code == 201 and len(made.json["warnings"]) == 1
    wid = made.json["id"]
    more = client.post(f"/api/v1/whitelists/{wid}/rules", headers=bearer,
                       json={"rules": ["::/1 udp", "8000::/1 udp"]})
    assert more.status_code == 400 and more.json["error"]["code"] == "admits_everyone"


def test_cli_refuses_without_admit_all(app, make_user, monkeypatch):
    import os

    from click.testing import CliRunner

    from portal import cli, cli_common

    monkeypatch.setattr(cli_common, "make_app", lambda: app)
    monkeypatch.setattr(os, "geteuid", lambda: 0)  # the admin on the login node
    make_user("ursula")
    runner = CliRunner()
    argv = ["whitelist", "create", "h", "0.0.0.0/1", "128.0.0.0/1", "--user", "ursula"]
    refused = runner.invoke(cli.main, argv)
    assert refused.exit_code == 1 and "--admit-all" in refused.output
    made = runner.invoke(cli.main, [*argv, "--admit-all"])
    assert made.exit_code == 0, made.output
    assert "together admit every IPv4 address" in made.output
