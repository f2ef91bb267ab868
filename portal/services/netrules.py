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
        error.original = value
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
        error = ServiceError(_l("Rule %(n)d: %(problem)s", n=number, problem=exc.message),
                             exc.code)
        if getattr(exc, "suggestion", None):  # the page offers it as a one-click fix
            error.suggestion, error.original = exc.suggestion, exc.original
            error.line = number
        raise error from None


def wide_open_warnings(rules: list[RuleSpec]) -> list:
    """Warnings for rules that admit the whole internet (accepted, but said out loud)."""
    return [
        _l("%(cidr)s admits every address on the internet: anyone can try to connect.",
           cidr=rule.cidr)
        for rule in rules
        if rule.network.prefixlen == 0
    ]


# --- "allow all" by union (issue #12 finding 8) -------------------------------------------

FULL_PORTS = (1, 65535)


@dataclass(frozen=True)
class WideScope:
    """Where a rule set admits every address of one IP family: `protocol`, ports
    `port_from`..`port_to` (None: every port), and the networks that together cover it."""

    protocol: str
    version: int
    port_from: int | None
    port_to: int | None
    cidrs: tuple[str, ...]

    @property
    def ports(self) -> str:
        return describe_ports(self.port_from, self.port_to)

    @property
    def single_rule(self) -> bool:
        """One rule alone admits everyone here (0.0.0.0/0 or ::/0)."""
        return any(ipaddress.ip_network(c).prefixlen == 0 for c in self.cidrs)


def _span(rule) -> tuple[int, int]:
    if rule.port_from is None:
        return FULL_PORTS
    return rule.port_from, rule.port_to or rule.port_from


def covers_everything(networks, version: int) -> bool:
    """Whether the union of `networks` (of IP `version`) is the whole address space."""
    mine = [n for n in networks if n.version == version]
    collapsed = list(ipaddress.collapse_addresses(mine)) if mine else []
    return len(collapsed) == 1 and collapsed[0].prefixlen == 0


def wide_scopes(rules) -> list[WideScope]:
    """Every (protocol, IP family, port range) in which the UNION of `rules` (RuleSpecs or
    WhitelistRules) admits every address — `0.0.0.0/1` + `128.0.0.0/1` as much as
    `0.0.0.0/0`. A rule without a port counts for every port, as `whitelists.admits`
    counts it. Ranges with the same covering are merged; ordered by protocol, family, port.
    """
    found: list[WideScope] = []
    for protocol in PROTOCOLS:
        mine = [(r, ipaddress.ip_network(r.cidr), *_span(r)) for r in rules
                if r.protocol == protocol]
        if not mine:
            continue
        # The set of rules that apply is the same for every port between two boundaries.
        bounds = sorted({FULL_PORTS[0], FULL_PORTS[1] + 1}
                        | {lo for _, _, lo, _ in mine} | {hi + 1 for _, _, _, hi in mine})
        for version in (4, 6):
            current: list = []  # [lo, hi, cidrs] of the scope being merged
            for lo, nxt in zip(bounds, bounds[1:], strict=False):
                nets = [n for _, n, a, b in mine if a <= lo <= b and n.version == version]
                if nets and covers_everything(nets, version):
                    cidrs = {str(n) for n in nets}
                    if current and current[1] == lo - 1:
                        current[1], current[2] = nxt - 1, current[2] | cidrs
                    else:
                        if current:
                            found.append(_scope(protocol, version, current))
                        current = [lo, nxt - 1, cidrs]
            if current:
                found.append(_scope(protocol, version, current))
    return found


def _scope(protocol: str, version: int, current: list) -> WideScope:
    lo, hi, cidrs = current
    every = (lo, hi) == FULL_PORTS
    ordered = tuple(sorted(cidrs, key=lambda c: ipaddress.ip_network(c)))
    return WideScope(protocol, version, None if every else lo, None if every else hi, ordered)


def new_wide_scopes(before, after) -> list[WideScope]:
    """The scopes of `after` (a superset of the rules `before`) that `before` did not
    already admit everyone in: what adding rules newly opens to everyone."""
    old = wide_scopes(before)
    return [s for s in wide_scopes(after) if not any(
        o.protocol == s.protocol and o.version == s.version
        and _span(o)[0] <= _span(s)[0] and _span(s)[1] <= _span(o)[1] for o in old)]


def describe_scope(scope: WideScope) -> str:
    """`TCP port 22`, `UDP ports 6000-6010`, `TCP, every port`."""
    proto = scope.protocol.upper()
    if scope.port_from is None:
        return str(_l("%(protocol)s, every port", protocol=proto))
    if scope.port_to in (None, scope.port_from):
        return str(_l("%(protocol)s port %(port)s", protocol=proto, port=scope.ports))
    return str(_l("%(protocol)s ports %(ports)s", protocol=proto, ports=scope.ports))


def _family(scope: WideScope) -> str:
    return "IPv4" if scope.version == 4 else "IPv6"


def admits_everyone_error(scopes: list[WideScope]) -> ServiceError:
    """The refusal when rules would admit everyone without the explicit choice."""
    scope = scopes[0]
    shown = ", ".join(scope.cidrs[:6]) + (", …" if len(scope.cidrs) > 6 else "")
    return ServiceError(
        _l("These rules admit every %(family)s address (%(networks)s together cover all of "
           "it) for %(scope)s: anyone can try to connect. If that is what you want, choose "
           "\"Admit every address\" explicitly (API: \"admit_all\": true, CLI: --admit-all); "
           "otherwise narrow the networks.",
           family=_family(scope), networks=shown, scope=describe_scope(scope)),
        "admits_everyone",
    )


def union_warnings(scopes: list[WideScope]) -> list:
    """Warnings for scopes admitted to everyone by several rules together (a single /0
    rule has its own warning, `wide_open_warnings`)."""
    return [
        _l("%(networks)s together admit every %(family)s address for %(scope)s: anyone can "
           "try to connect.", networks=", ".join(s.cidrs[:6]), family=_family(s),
           scope=describe_scope(s))
        for s in scopes if not s.single_rule
    ]
