"""Whitelist rules (F10) as text: CIDR, protocol, optional port or range — pure parsing.

Stricter than `ipaddress` on purpose, because a rule that silently means something else is
a hole: host bits set are refused with the network offered instead (`10.1.2.3/8` → "did you
mean 10.0.0.0/8?"), leading zeros are refused (`010.0.0.1` is octal to some tools, decimal
to others), and so are zone ids and IPv4-mapped IPv6 networks (write the IPv4 form).
`0.0.0.0/0` and `::/0` are accepted with a warning.

Every refusal is a ServiceError with a stable code; nothing here touches the database.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l

from portal.services import ServiceError

PROTOCOLS = ("tcp", "udp")
MAX_RULES_PER_INPUT = 200
_OCTET = r"(0|[1-9][0-9]*|0[0-9]+)"
_V4 = re.compile(rf"{_OCTET}\.{_OCTET}\.{_OCTET}\.{_OCTET}")
_PREFIX = re.compile(r"0|[1-9][0-9]{0,2}")
_PORTS = re.compile(r"([1-9][0-9]{0,4})(?:-([1-9][0-9]{0,4}))?")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class RuleSpec:
    """One validated rule; `cidr` is the normalised network text."""

    cidr: str
    protocol: str = "tcp"
    port_from: int | None = None
    port_to: int | None = None

    @property
    def network(self) -> Network:
        return ipaddress.ip_network(self.cidr)

    @property
    def ports(self) -> str:
        return describe_ports(self.port_from, self.port_to)


def describe_ports(port_from: int | None, port_to: int | None) -> str:
    """"22", "6000-6010", or "" for every port."""
    if port_from is None:
        return ""
    return str(port_from) if port_to in (None, port_from) else f"{port_from}-{port_to}"


def _invalid(text: str) -> ServiceError:
    return ServiceError(
        _l("%(cidr)s is not an IP network. Write it like 192.168.1.0/24 or 2001:db8::/32.",
           cidr=text[:64]),
        "invalid_cidr",
    )


def parse_cidr(text: object) -> Network:
    """A network in CIDR notation (or a single address, meaning /32 or /128).

    Raises ServiceError: invalid_cidr, cidr_leading_zero, cidr_out_of_range,
    cidr_prefix, cidr_mapped or cidr_host_bits (whose message offers the network).
    """
    if not isinstance(text, str):
        raise ServiceError(_l("A network must be text such as 10.0.0.0/8."), "invalid_cidr")
    value = text.strip()
    if not value or len(value) > 64 or not value.isascii() or "%" in value:
        raise _invalid(value)
    address, slash, prefix = value.partition("/")
    if ":" not in address:
        _check_ipv4_text(value, address)
    try:
        addr = ipaddress.ip_address(address)
    except ValueError:
        raise _invalid(value) from None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        raise ServiceError(
            _l("%(cidr)s is an IPv4-mapped IPv6 address; write the IPv4 network instead.",
               cidr=value),
            "cidr_mapped",
        )
    if slash and (not _PREFIX.fullmatch(prefix) or int(prefix) > addr.max_prefixlen):
        raise ServiceError(
            _l("The prefix length after / must be a number from 0 to %(max)d "
               "without leading zeros.", max=addr.max_prefixlen),
            "cidr_prefix",
        )
    length = int(prefix) if slash else addr.max_prefixlen
    network = ipaddress.ip_network(f"{addr}/{length}", strict=False)
    if network.network_address != addr:
        error = ServiceError(
            _l("%(cidr)s has host bits set. Did you mean %(network)s?",
               cidr=value, network=str(network)),
            "cidr_host_bits",
        )
        error.suggestion = str(network)  # for callers that offer a one-click fix
        raise error
    return network


def _check_ipv4_text(value: str, address: str) -> None:
    match = _V4.fullmatch(address)
    if not match:
        raise _invalid(value)
    octets = match.groups()
    if any(len(o) > 1 and o.startswith("0") for o in octets):
        raise ServiceError(
            _l("%(cidr)s has a number with a leading zero; write it without (e.g. 10.0.0.1).",
               cidr=value),
            "cidr_leading_zero",
        )
    if any(int(o) > 255 for o in octets):
        raise ServiceError(
            _l("%(cidr)s has a number above 255.", cidr=value), "cidr_out_of_range"
        )


def parse_protocol(value: object) -> str:
    """"tcp" or "udp" (any case; None means tcp). Raises ServiceError(invalid_protocol)."""
    if value is None:
        return "tcp"
    if isinstance(value, str) and value.strip().lower() in PROTOCOLS:
        return value.strip().lower()
    raise ServiceError(_l("The protocol must be TCP or UDP."), "invalid_protocol")


def parse_ports(value: object) -> tuple[int | None, int | None]:
    """A port (`22`), a range (`6000-6010`), or nothing (every port: None, "", "*", "any").

    Raises ServiceError(invalid_port) for 0, anything above 65535, reversed ranges,
    leading zeros, signs or other text.
    """
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "*", "any")):
        return None, None
    if isinstance(value, int) and not isinstance(value, bool):
        if 1 <= value <= 65535:
            return value, value
    elif isinstance(value, str):
        match = _PORTS.fullmatch(value.strip())
        if match:
            low = int(match.group(1))
            high = int(match.group(2)) if match.group(2) else low
            if low <= high <= 65535:
                return low, high
    raise ServiceError(
        _l("A port is a number from 1 to 65535, or a range such as 6000-6010."),
        "invalid_port",
    )


def parse_rule(cidr: object, protocol: object = None, ports: object = None) -> RuleSpec:
    """One rule from its three parts. Raises the ServiceErrors of the part parsers."""
    network = parse_cidr(cidr)
    port_from, port_to = parse_ports(ports)
    return RuleSpec(str(network), parse_protocol(protocol), port_from, port_to)


def parse_rule_line(line: str) -> RuleSpec:
    """`CIDR [tcp|udp] [PORT|FROM-TO]`, e.g. `10.0.0.0/8 tcp 22`; commas count as blanks."""
    words = line.replace(",", " ").split()
    if not words or len(words) > 3:
        raise _rule_format_error()
    protocol, ports = None, None
    for word in words[1:]:
        if word.lower() in PROTOCOLS and protocol is None and ports is None:
            protocol = word
        elif ports is None:
            ports = word
        else:
            raise _rule_format_error()
    return parse_rule(words[0], protocol, ports)


def _rule_format_error() -> ServiceError:
    return ServiceError(
        _l("Write a rule as: network [tcp|udp] [port or range], e.g. 10.0.0.0/8 tcp 22."),
        "invalid_rule",
    )


def parse_rules(value: object) -> list[RuleSpec]:
    """Rules from text (one per line; blank lines and `#` comments skipped) or from a list
    of objects `{"cidr", "protocol", "port"}` (the API) or strings.

    Raises ServiceError whose message names the line or item at fault; its code is the
    part parser's code (or invalid_rules for a wrong shape, too_many_rules).
    """
    if isinstance(value, str):
        items = [(n, line.split("#", 1)[0]) for n, line in enumerate(value.splitlines(), 1)]
        items = [(n, line) for n, line in items if line.strip()]
    elif isinstance(value, list):
        items = list(enumerate(value, 1))
    else:
        raise ServiceError(_l("Rules must be text or a list."), "invalid_rules")
    if len(items) > MAX_RULES_PER_INPUT:
        raise ServiceError(
            _l("At most %(max)d rules at a time.", max=MAX_RULES_PER_INPUT), "too_many_rules"
        )
    return [_parse_item(n, item) for n, item in items]


def _parse_item(number: int, item: object) -> RuleSpec:
    try:
        if isinstance(item, str):
            return parse_rule_line(item)
        if isinstance(item, dict) and set(item) <= {"cidr", "protocol", "port"}:
            return parse_rule(item.get("cidr"), item.get("protocol"), item.get("port"))
        raise ServiceError(
            _l("A rule is an object with cidr, protocol and port."), "invalid_rules"
        )
    except ServiceError as exc:
        raise ServiceError(
            _l("Rule %(n)d: %(problem)s", n=number, problem=exc.message), exc.code
        ) from None


def wide_open_warnings(rules: list[RuleSpec]) -> list:
    """Warnings for rules that admit the whole internet (accepted, but said out loud)."""
    return [
        _l("%(cidr)s admits every address on the internet: anyone can try to connect.",
           cidr=rule.cidr)
        for rule in rules
        if rule.network.prefixlen == 0
    ]
