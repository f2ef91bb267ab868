"""What sessions enforce with whitelists: `admits` (proxy, terminal) and sshd's from= option."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from portal.models import Whitelist, WhitelistRule
from portal.services import ServiceError, whitelists
from portal.services.whitelists import SSH_PORT, WEB_PORT, admits, sshd_from_option


def wl(*rules: tuple) -> Whitelist:
    """An unsaved whitelist: (cidr, protocol, port_from, port_to) per rule."""
    return Whitelist(name="t", rules=[WhitelistRule(cidr=c, protocol=p, port_from=lo, port_to=hi)
                                      for c, p, lo, hi in rules])


OFFICE = wl(("10.0.0.0/8", "tcp", None, None), ("2001:db8::/32", "tcp", 22, 22))
SSH_ONLY = wl(("192.0.2.0/24", "tcp", 22, 22))
UDP = wl(("198.51.100.0/24", "udp", 6000, 6010))


@pytest.mark.parametrize(
    "lists, client, port, protocol, expected",
    [
        ([OFFICE], "10.1.2.3", WEB_PORT, "tcp", True),
        ([OFFICE], "10.1.2.3", SSH_PORT, "tcp", True),
        ([OFFICE], "11.0.0.1", WEB_PORT, "tcp", False),
        ([OFFICE], "::ffff:10.1.2.3", WEB_PORT, "tcp", True),   # IPv4-mapped client
        ([OFFICE], "::ffff:11.0.0.1", WEB_PORT, "tcp", False),
        ([OFFICE], "2001:db8::5", SSH_PORT, "tcp", True),
        ([OFFICE], "2001:db8::5", WEB_PORT, "tcp", False),        # that rule is SSH only
        ([OFFICE], "10.1.2.3", WEB_PORT, "udp", False),
        ([SSH_ONLY], "192.0.2.9", SSH_PORT, "tcp", True),
        ([SSH_ONLY], "192.0.2.9", WEB_PORT, "tcp", False),
        ([SSH_ONLY], "192.0.2.9", None, "tcp", False),              # no port: portless rules only
        ([UDP], "198.51.100.1", 6005, "udp", True),
        ([UDP], "198.51.100.1", 6011, "udp", False),
        ([SSH_ONLY, OFFICE], "10.9.9.9", WEB_PORT, "tcp", True),
        ([], "10.1.2.3", WEB_PORT, "tcp", False),                   # nothing chosen: nobody
        ([OFFICE], "not an address", WEB_PORT, "tcp", False),
        ([OFFICE], "", WEB_PORT, "tcp", False),
    ],
)
def test_admits(lists, client, port, protocol, expected):
    assert admits(lists, client, port, protocol) is expected


def test_allow_all_is_explicit():
    assert admits([], "203.0.113.1", WEB_PORT, allow_all=True)
    assert sshd_from_option([], allow_all=True) == ""


def test_sshd_from_option_lists_tcp_ssh_networks_collapsed():
    lists = [OFFICE, SSH_ONLY, UDP, wl(("10.1.0.0/16", "tcp", None, None),
                                       ("192.0.3.0/24", "tcp", 20, 30))]
    option = sshd_from_option(lists)
    assert option == 'from="10.0.0.0/8,192.0.2.0/23,2001:db8::/32"'


def test_sshd_from_option_refuses_to_guess_when_nothing_admits_ssh():
    with pytest.raises(ServiceError) as info:
        sshd_from_option([UDP, wl(("10.0.0.0/8", "tcp", 443, 443))])
    assert info.value.code == "no_ssh_source"
    with pytest.raises(ServiceError):
        sshd_from_option([])


def test_ids_are_looked_up(make_user, app):
    user = make_user("ursula")
    created, _ = whitelists.create_whitelist(user, "office", "10.0.0.0/8 tcp 22")
    assert admits([created.id], "10.0.0.1", SSH_PORT)
    assert not admits([created.id + 1000], "10.0.0.1", SSH_PORT)
    assert sshd_from_option([created.id]) == 'from="10.0.0.0/8"'


@pytest.mark.parametrize(
    "trusted, remote, forwarded, seen",
    [
        (0, "192.0.2.50", "10.1.1.1", "192.0.2.50"),          # forged header ignored
        (0, "::ffff:10.1.1.1", "", "10.1.1.1"),                 # mapped remote normalised
        (1, "127.0.0.1", "10.1.1.1", "10.1.1.1"),               # behind one trusted proxy
        (1, "127.0.0.1", "10.1.1.1, 192.0.2.50", "192.0.2.50"),  # client-supplied hop ignored
        (1, "127.0.0.1", "::ffff:10.1.1.1", "10.1.1.1"),
        (2, "127.0.0.1", "10.1.1.1, 192.0.2.50", "10.1.1.1"),
    ],
)
def test_admits_request_uses_the_trusted_client_address(app, trusted, remote, forwarded, seen):
    app.config["TRUSTED_PROXY_COUNT"] = trusted
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    with app.test_request_context("/s/1/", headers=headers,
                                  environ_base={"REMOTE_ADDR": remote}):
        assert whitelists.explain(OFFICE)["address"] == seen
        assert whitelists.admits_request([OFFICE]) is seen.startswith("10.")


def test_explain_refuses_garbage(app):
    with app.test_request_context("/"), pytest.raises(ServiceError) as info:
        whitelists.explain(OFFICE, "10.0.0.1; rm -rf /")
    assert info.value.code == "invalid_address"


@settings(max_examples=300)
@given(st.ip_addresses(), st.ip_addresses(), st.data())
def test_admits_is_exactly_network_membership(network_address, client, data):
    prefix = data.draw(st.integers(0, network_address.max_prefixlen))
    network = ipaddress.ip_network(f"{network_address}/{prefix}", strict=False)
    rule_list = [wl((str(network), "tcp", None, None))]
    seen = getattr(client, "ipv4_mapped", None) or client  # ::ffff:a.b.c.d is a.b.c.d
    expected = seen.version == network.version and seen in network
    assert admits(rule_list, str(client), WEB_PORT) is expected
    if client.version == 4:  # the same client seen through an IPv6 socket
        assert admits(rule_list, f"::ffff:{client}", WEB_PORT) is (
            network.version == 4 and client in network)


@settings(max_examples=200)
@given(st.lists(st.tuples(st.ip_addresses(v=4), st.integers(8, 32)), min_size=1, max_size=6),
       st.ip_addresses(v=4))
def test_from_option_admits_the_same_clients_as_admits(nets, client):
    rules = [(str(ipaddress.ip_network(f"{a}/{p}", strict=False)), "tcp", None, None)
             for a, p in nets]
    option = sshd_from_option([wl(*rules)])
    patterns = option.removeprefix('from="').removesuffix('"').split(",")
    in_option = any(client in ipaddress.ip_network(p) for p in patterns)
    assert in_option is admits([wl(*rules)], str(client), SSH_PORT)
