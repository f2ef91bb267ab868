"""IP whitelists (F10): named sets of rules, and the checks sessions enforce with them.

A rule is a network, a protocol and optionally a port or range. Session services listen
on ports picked at start on the node, so a rule's port names the *service*, by its
well-known port: SSH_PORT (22) for the session's sshd, WEB_PORT (443) for the portal's
reverse proxy and web terminal. A rule without a port admits every service.

Enforcement points (the sessions feature calls these):
- sshd: `sshd_from_option(...)` gives the `from="…"` option put before each key line;
- reverse proxy and web terminal: `admits_request(...)` (or `admits(...)` with an address),
  using the client address from `portal.net.client_address`, which believes
  X-Forwarded-For only when TRUSTED_PROXY_COUNT says a trusted proxy is in front.
"Allow all incoming" is never implied: callers pass `allow_all=True` explicitly.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from portal import db
from portal.models import User, Whitelist, WhitelistRule
from portal.net import client_address, normalise_address
from portal.services import NotFound, ServiceError, audit
from portal.services.core.in_use import sessions_using_whitelist
from portal.services.names import clean_name
from portal.services.netrules import (
    RuleSpec,
    admits_everyone_error,
    describe_ports,
    new_wide_scopes,
    parse_cidr,
    parse_rules,
    union_warnings,
    wide_open_warnings,
)

SSH_PORT = 22
WEB_PORT = 443
MAX_RULES = 200
MAX_WHITELISTS_PER_USER = 100

__all__ = [
    "SSH_PORT", "WEB_PORT", "add_rules", "admits", "admits_request", "create_whitelist",
    "delete_rule", "delete_whitelist", "explain", "get_whitelist", "list_whitelists", "parse_cidr",
    "rule_label", "sshd_from_option", "whitelist_usage",
]


def list_whitelists(user: User) -> list[Whitelist]:
    stmt = select(Whitelist).where(Whitelist.user_id == user.id).order_by(Whitelist.name)
    return list(db.session.scalars(stmt))


def get_whitelist(user: User, whitelist_id: int) -> Whitelist:
    """The user's own whitelist; raises NotFound for a missing one or someone else's."""
    whitelist = db.session.get(Whitelist, whitelist_id)
    if whitelist is None or whitelist.user_id != user.id:
        raise NotFound(_l("No such whitelist."))
    return whitelist


def whitelist_usage(whitelist: Whitelist) -> list:
    """Open sessions restricted by `whitelist`, for "used by" columns and delete
    confirmations (each has a `name`). Raises nothing.
    """
    return sessions_using_whitelist(whitelist)


def rule_label(rule: WhitelistRule | RuleSpec) -> str:
    """`10.0.0.0/8 TCP 22`, `2001:db8::/32 UDP` (no port: every port)."""
    ports = describe_ports(rule.port_from, rule.port_to)
    return f"{rule.cidr} {rule.protocol.upper()}{' ' + ports if ports else ''}"


def create_whitelist(user: User, name: str, rules: object, *,
                     admit_all: bool = False) -> tuple[Whitelist, list]:
    """Create a whitelist from `rules` (text lines or API objects, see netrules.parse_rules).

    Rules that admit every address of a family for some protocol and port — one
    `0.0.0.0/0` or several networks whose union is as wide — need `admit_all` (the explicit
    "Admit every address" choice, issue #12). Returns (whitelist, warnings). Raises
    ServiceError: invalid_name, duplicate, no_rules, too_many, too_many_rules,
    admits_everyone or a rule's own code. A refusal stores nothing.
    """
    name = clean_name(name)
    specs = _unique(parse_rules(rules))
    if not specs:
        raise ServiceError(_l("Add at least one rule."), "no_rules")
    if len(specs) > MAX_RULES:
        raise _too_many_rules()
    wide = new_wide_scopes([], specs)
    if wide and not admit_all:
        raise admits_everyone_error(wide)
    if _name_taken(user, name):
        raise ServiceError(
            _l("You already have a whitelist named %(name)s.", name=name), "duplicate"
        )
    if len(list_whitelists(user)) >= MAX_WHITELISTS_PER_USER:
        raise ServiceError(_l("You have too many whitelists; delete one first."), "too_many")
    whitelist = Whitelist(user_id=user.id, name=name, rules=[_row(s) for s in specs])
    db.session.add(whitelist)
    _flush()
    audit.record(
        "whitelist.create", f"whitelist:{whitelist.id}", actor=user, name=name,
        rules=[rule_label(s) for s in specs], **_admits_all_detail(wide),
    )
    return whitelist, wide_open_warnings(specs) + union_warnings(wide)


def add_rules(user: User, whitelist_id: int, rules: object, *,
              admit_all: bool = False) -> tuple[list, list]:
    """Add several rules at once; rules already present are skipped (and said so).

    Rules that, with those already there, newly admit every address for some protocol
    and port need `admit_all` (see create_whitelist). Returns (added rules, warnings).
    Raises NotFound, or ServiceError (no_rules, too_many_rules, admits_everyone, a rule's
    code) with nothing added.
    """
    whitelist = get_whitelist(user, whitelist_id)
    specs = _unique(parse_rules(rules))
    if not specs:
        raise ServiceError(_l("Add at least one rule."), "no_rules")
    present = {_key(r) for r in whitelist.rules}
    new = [s for s in specs if _key(s) not in present]
    warnings = [
        _l("%(rule)s is already in the list.", rule=rule_label(s))
        for s in specs if _key(s) in present
    ]
    if len(whitelist.rules) + len(new) > MAX_RULES:
        raise _too_many_rules()
    wide = new_wide_scopes(list(whitelist.rules), [*whitelist.rules, *new])
    if wide and not admit_all:
        raise admits_everyone_error(wide)
    rows = [_row(s) for s in new]
    whitelist.rules.extend(rows)
    if rows:
        audit.record(
            "whitelist.rules_add", f"whitelist:{whitelist.id}", actor=user, name=whitelist.name,
            rules=[rule_label(s) for s in new], commit=False, **_admits_all_detail(wide),
        )
    db.session.commit()
    return rows, wide_open_warnings(new) + union_warnings(wide) + warnings


def _admits_all_detail(wide) -> dict:
    """For the audit log: where the rules were explicitly allowed to admit everyone."""
    if not wide:
        return {}
    return {"admit_all": [f"IPv{s.version} {s.protocol.upper()} {s.ports or '*'}"
                          for s in wide]}


def delete_rule(user: User, whitelist_id: int, rule_id: int) -> None:
    """Remove one rule. Raises NotFound (also for another user's rule)."""
    whitelist = get_whitelist(user, whitelist_id)
    rule = next((r for r in whitelist.rules if r.id == rule_id), None)
    if rule is None:
        raise NotFound(_l("No such rule."))
    whitelist.rules.remove(rule)
    audit.record(
        "whitelist.rule_delete", f"whitelist:{whitelist.id}", actor=user, name=whitelist.name,
        rule=rule_label(rule), commit=False,
    )
    db.session.commit()


def delete_whitelist(user: User, whitelist_id: int) -> list:
    """Delete a whitelist with its rules; returns the sessions that used it. Raises NotFound.

    Running sessions keep the restrictions they started with.
    """
    whitelist = get_whitelist(user, whitelist_id)
    usage = whitelist_usage(whitelist)
    details = {"name": whitelist.name, "rules": [rule_label(r) for r in whitelist.rules]}
    db.session.delete(whitelist)
    audit.record(
        "whitelist.delete", f"whitelist:{whitelist_id}", actor=user, commit=False, **details
    )
    db.session.commit()
    return usage


def admits(
    whitelists: Iterable[Whitelist | int],
    client: str,
    port: int | None = None,
    protocol: str = "tcp",
    *,
    allow_all: bool = False,
) -> bool:
    """Whether any rule of `whitelists` (objects or ids) admits `client` for the service.

    The address is normalised first (IPv4-mapped IPv6 matches as IPv4; garbage matches
    nothing). `port` is the service's well-known port (SSH_PORT, WEB_PORT); with None only
    rules without a port apply. No whitelists and not `allow_all` admits nobody.
    """
    if allow_all:
        return True
    try:
        address = ipaddress.ip_address(normalise_address(str(client)))
    except ValueError:
        return False
    return any(
        rule.protocol == protocol
        and _port_matches(rule, port)
        and address in ipaddress.ip_network(rule.cidr)
        for rule in _rules_of(whitelists)
    )


def admits_request(
    whitelists: Iterable[Whitelist | int], port: int = WEB_PORT, *, allow_all: bool = False
) -> bool:
    """`admits` for the current request's client (reverse proxy, web terminal)."""
    return admits(whitelists, client_address(), port, "tcp", allow_all=allow_all)


def sshd_from_option(
    whitelists: Iterable[Whitelist | int], *, allow_all: bool = False, port: int = SSH_PORT
) -> str:
    """`from="10.0.0.0/8,2001:db8::/32"` for authorized_keys, or "" when `allow_all`.

    sshd(8) matches from= patterns against the client address and takes CIDR
    address/masklen. Only TCP rules that admit `port` count; networks are collapsed.
    Raises ServiceError(no_ssh_source) when no rule admits SSH, so a session never starts
    an sshd that is open by mistake or closed without saying why.
    """
    if allow_all:
        return ""
    networks = [
        ipaddress.ip_network(rule.cidr)
        for rule in _rules_of(whitelists)
        if rule.protocol == "tcp" and _port_matches(rule, port)
    ]
    if not networks:
        raise ServiceError(
            _l("None of the chosen whitelists admits SSH (TCP port %(port)d).", port=port),
            "no_ssh_source",
        )
    v4 = ipaddress.collapse_addresses(n for n in networks if n.version == 4)
    v6 = ipaddress.collapse_addresses(n for n in networks if n.version == 6)
    return 'from="' + ",".join(str(n) for n in [*v4, *v6]) + '"'


def explain(whitelist: Whitelist, address: str | None = None) -> dict:
    """What `whitelist` admits for `address` (default: the current request's client).

    Returns {"address", "ssh", "web"}. Raises ServiceError(invalid_address).
    """
    text = client_address() if address is None else address
    try:
        normalised = normalise_address(str(text)[:64])
    except ValueError:
        raise ServiceError(
            _l("%(address)s is not an IP address.", address=str(text)[:64]), "invalid_address"
        ) from None
    return {
        "address": normalised,
        "ssh": admits([whitelist], normalised, SSH_PORT),
        "web": admits([whitelist], normalised, WEB_PORT),
    }


def _rules_of(whitelists: Iterable[Whitelist | int]) -> list[WhitelistRule]:
    rules: list[WhitelistRule] = []
    for item in whitelists:
        whitelist = item if isinstance(item, Whitelist) else db.session.get(Whitelist, int(item))
        if whitelist is not None:
            rules.extend(whitelist.rules)
    return rules


def _port_matches(rule, port: int | None) -> bool:
    if rule.port_from is None:
        return True
    return port is not None and rule.port_from <= port <= (rule.port_to or rule.port_from)


def _key(rule) -> tuple:
    return (rule.cidr, rule.protocol, rule.port_from, rule.port_to)


def _unique(specs: list[RuleSpec]) -> list[RuleSpec]:
    return list(dict.fromkeys(specs))


def _row(spec: RuleSpec) -> WhitelistRule:
    return WhitelistRule(
        cidr=spec.cidr, protocol=spec.protocol, port_from=spec.port_from, port_to=spec.port_to
    )


def _name_taken(user: User, name: str) -> bool:
    stmt = select(Whitelist.id).where(Whitelist.user_id == user.id, Whitelist.name == name)
    return db.session.scalar(stmt) is not None


def _flush() -> None:
    try:
        db.session.flush()
    except IntegrityError:  # a concurrent request took the name first
        db.session.rollback()
        raise ServiceError(
            _l("You already have a whitelist with this name."), "duplicate"
        ) from None


def _too_many_rules() -> ServiceError:
    return ServiceError(
        _l("A whitelist holds at most %(max)d rules.", max=MAX_RULES), "too_many_rules"
    )
