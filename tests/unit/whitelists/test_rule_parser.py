"""F10 rule validator: CIDR, protocol and ports, unit cases and properties."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from portal.services import ServiceError
from portal.services.netrules import (
    RuleSpec,
    parse_cidr,
    parse_ports,
    parse_rule_line,
    parse_rules,
    wide_open_warnings,
)


def code_of(func, *args) -> str:
    with pytest.raises(ServiceError) as info:
        func(*args)
    return info.value.code


@pytest.mark.parametrize(
    "text, network",
    [
        ("10.0.0.0/8", "10.0.0.0/8"),
        (" 192.168.1.0/24 ", "192.168.1.0/24"),
        ("203.0.113.7", "203.0.113.7/32"),
        ("0.0.0.0/0", "0.0.0.0/0"),
        ("2001:DB8::/32", "2001:db8::/32"),
        ("2001:0db8:0000::/48", "2001:db8::/48"),
        ("::1", "::1/128"),
        ("::/0", "::/0"),
    ],
)
def test_good_networks_are_normalised(text, network):
    assert str(parse_cidr(text)) == network


@pytest.mark.parametrize(
    "text, code",
    [
        ("10.1.2.3/8", "cidr_host_bits"),
        ("2001:db8::1/32", "cidr_host_bits"),
        ("010.0.0.0/8", "cidr_leading_zero"),
        ("10.0.0.01", "cidr_leading_zero"),
        ("10.0.0.0/08", "cidr_prefix"),
        ("10.0.0.0/33", "cidr_prefix"),
        ("10.0.0.0/", "cidr_prefix"),
        ("10.0.0.0/+8", "cidr_prefix"),
        ("2001:db8::/129", "cidr_prefix"),
        ("256.0.0.0/8", "cidr_out_of_range"),
        ("10.0.0.300", "cidr_out_of_range"),
        ("::ffff:10.0.0.0/104", "cidr_mapped"),
        ("::ffff:192.0.2.1", "cidr_mapped"),
        ("fe80::1%eth0", "invalid_cidr"),
        ("10.0.0", "invalid_cidr"),
        ("10.0.0.0.0/8", "invalid_cidr"),
        ("１０.0.0.0/8", "invalid_cidr"),
        ("example.org", "invalid_cidr"),
        ("", "invalid_cidr"),
        (None, "invalid_cidr"),
        (10, "invalid_cidr"),
    ],
)
def test_bad_networks_are_refused(text, code):
    assert code_of(parse_cidr, text) == code


def test_host_bits_message_offers_the_network(app):
    with pytest.raises(ServiceError) as info, app.app_context():
        parse_cidr("192.168.1.77/24")
    with app.app_context():
        assert "Did you mean 192.168.1.0/24?" in str(info.value.message)


@pytest.mark.parametrize(
    "value, expected",
    [(None, (None, None)), ("", (None, None)), ("*", (None, None)), ("any", (None, None)),
     (22, (22, 22)), ("22", (22, 22)), ("6000-6010", (6000, 6010)), ("1-65535", (1, 65535)),
     ("443-443", (443, 443))],
)
def test_ports(value, expected):
    assert parse_ports(value) == expected


@pytest.mark.parametrize("value", [0, "0", 65536, "65536", -1, "-1", "022", "+22", "10-5",
                                   "1-70000", "22,23", "ssh", True, 2.5, "1 - 2"])
def test_bad_ports(value):
    assert code_of(parse_ports, value) == "invalid_port"


@pytest.mark.parametrize(
    "line, spec",
    [
        ("10.0.0.0/8", RuleSpec("10.0.0.0/8", "tcp")),
        ("10.0.0.0/8 udp", RuleSpec("10.0.0.0/8", "udp")),
        ("10.0.0.0/8 TCP 22", RuleSpec("10.0.0.0/8", "tcp", 22, 22)),
        ("10.0.0.0/8 22", RuleSpec("10.0.0.0/8", "tcp", 22, 22)),
        ("2001:db8::/32, udp, 6000-6010", RuleSpec("2001:db8::/32", "udp", 6000, 6010)),
    ],
)
def test_rule_lines(line, spec):
    assert parse_rule_line(line) == spec


@pytest.mark.parametrize("line, code", [
    ("10.0.0.0/8 icmp", "invalid_port"), ("10.0.0.0/8 tcp udp", "invalid_port"),
    ("10.0.0.0/8 22 tcp", "invalid_rule"), ("10.0.0.0/8 tcp 22 23", "invalid_rule"),
    ("tcp 22", "invalid_cidr"),
])
def test_bad_rule_lines(line, code):
    assert code_of(parse_rule_line, line) == code


def test_several_rules_at_once_with_comments_and_the_faulty_line_named(app):
    text = "# office\n10.0.0.0/8 tcp 22\n\n192.168.0.0/16  # lab\n"
    assert parse_rules(text) == [RuleSpec("10.0.0.0/8", "tcp", 22, 22),
                                 RuleSpec("192.168.0.0/16", "tcp")]
    with pytest.raises(ServiceError) as info:
        parse_rules("10.0.0.0/8\n10.0.0.1/8\n")
    assert info.value.code == "cidr_host_bits"
    with app.app_context():
        assert str(info.value.message).startswith("Rule 2: 10.0.0.1/8 has host bits set.")


def test_api_shapes():
    rules = [{"cidr": "10.0.0.0/8", "protocol": "udp", "port": "53"}, "192.0.2.0/24 tcp 443"]
    assert parse_rules(rules) == [RuleSpec("10.0.0.0/8", "udp", 53, 53),
                                  RuleSpec("192.0.2.0/24", "tcp", 443, 443)]
    for bad in ({"cidr": "10.0.0.0/8"}, [{"cidr": "10.0.0.0/8", "extra": 1}], [7], None):
        assert code_of(parse_rules, bad) == "invalid_rules"
    assert code_of(parse_rules, ["10.0.0.0/8"] * 201) == "too_many_rules"


def test_whole_internet_is_accepted_with_a_warning(app):
    specs = parse_rules("0.0.0.0/0\n::/0 tcp 22\n10.0.0.0/8")
    with app.app_context():
        warnings = [str(w) for w in wide_open_warnings(specs)]
    assert len(warnings) == 2 and "every address on the internet" in warnings[0]


# ---- properties -------------------------------------------------------------------------

NETWORKS = st.one_of(
    st.builds(lambda a, p: ipaddress.ip_network(f"{a}/{p}", strict=False),
              st.ip_addresses(v=4), st.integers(0, 32)),
    st.builds(lambda a, p: ipaddress.ip_network(f"{a}/{p}", strict=False),
              st.ip_addresses(v=6), st.integers(0, 128)),
)


@settings(max_examples=300)
@given(NETWORKS)
def test_every_real_network_round_trips(network):
    if network.version == 6 and network.network_address.ipv4_mapped is not None:
        assert code_of(parse_cidr, str(network)) == "cidr_mapped"
        return
    assert parse_cidr(str(network)) == network
    assert parse_cidr(network.exploded) == network


@settings(max_examples=300)
@given(st.ip_addresses(), st.data())
def test_host_bits_are_refused_with_the_right_network_offered(address, data):
    prefix = data.draw(st.integers(0, address.max_prefixlen))
    network = ipaddress.ip_network(f"{address}/{prefix}", strict=False)
    if network.network_address == address or (
        address.version == 6 and address.ipv4_mapped is not None
    ):
        return
    with pytest.raises(ServiceError) as info:
        parse_cidr(f"{address}/{prefix}")
    assert info.value.code == "cidr_host_bits"
    assert info.value.suggestion == str(network)


@settings(max_examples=300)
@given(st.lists(st.integers(0, 999), min_size=4, max_size=4), st.integers(0, 40))
def test_dotted_quads_are_refused_unless_plain_and_in_range(octets, prefix):
    text = ".".join(str(o) for o in octets) + f"/{prefix}"
    try:
        network = parse_cidr(text)
    except ServiceError:
        assert max(octets) > 255 or prefix > 32 or (
            ipaddress.ip_network(text, strict=False).network_address
            != ipaddress.ip_address(".".join(map(str, octets))))
    else:
        assert str(network) == text


@settings(max_examples=300)
@given(st.text(max_size=60))
@example("1.2.3.4/24\n5.6.7.8")
@example("::ffff:0:0/96")
def test_random_text_is_refused_with_a_code_or_is_a_real_network(text):
    try:
        network = parse_cidr(text)
    except ServiceError as exc:
        assert exc.code.startswith(("invalid_cidr", "cidr_"))
    else:
        assert ipaddress.ip_network(text.strip()) == network


@settings(max_examples=200)
@given(st.binary(max_size=200))
def test_random_bytes_as_rule_text_never_crash(data):
    try:
        rules = parse_rules(data.decode("utf-8", "replace"))
    except ServiceError as exc:
        assert exc.code
    else:
        assert all(isinstance(r, RuleSpec) for r in rules)


@settings(max_examples=300)
@given(st.integers(-5, 70000), st.integers(-5, 70000))
def test_port_ranges(low, high):
    try:
        assert parse_ports(f"{low}-{high}") == (low, high)
        assert 1 <= low <= high <= 65535
    except ServiceError:
        assert not 1 <= low <= high <= 65535
