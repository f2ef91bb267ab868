"""SSH keys and IP whitelists (F9, F10): what /api/v1/keys and /whitelists answer and
accept."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import ConfigDict, Field, RootModel

from portal.api.schemas import In, Out

DateTime = Annotated[str, Field(json_schema_extra={"format": "date-time"})]
USED_BY = Field(description="The sessions that use it now")


class Key(Out):
    id: int
    name: str
    type: str = Field(examples=["ssh-ed25519"])
    bits: int
    fingerprint: str = Field(examples=["SHA256:…"])
    public_key: str = Field(description="TYPE BASE64, re-serialised")
    comment: str
    origin: Literal["generated", "imported"]
    created_at: DateTime
    used_by: list[str] = USED_BY


class NewKey(Key):
    private_key: str | None = Field(
        None, description="OpenSSH format; generated keys only, in the create response only "
                          "(null for an uploaded key and in an answer replayed for an "
                          "Idempotency-Key: never stored)")


class Rule(Out):
    id: int
    cidr: str
    protocol: Literal["tcp", "udp"]
    port_from: int | None
    port_to: int | None
    label: str


class Whitelist(Out):
    id: int
    name: str
    created_at: DateTime
    rules: list[Rule]
    used_by: list[str] = USED_BY


class WhitelistWithWarnings(Whitelist):
    warnings: list[str]
    added: list[Rule] = Field(None, description="With POST .../rules: the rules it added "
                                                "(rules already present are skipped)")


class AddressCheck(Out):
    address: str
    ssh: bool
    web: bool


class KeyInput(In):
    name: str = Field(max_length=64)
    type: Literal["ed25519", "rsa"] = "ed25519"
    public_key: str | None = Field(None, description="one OpenSSH public key line: import "
                                                     "it instead of generating a pair")


class RuleFields(In):
    """The object form of a rule: these fields only (else invalid_rules)."""

    model_config = ConfigDict(extra="forbid")

    cidr: str = Field(examples=["2001:db8::/32"])
    protocol: Literal["tcp", "udp"] = "tcp"
    port: Annotated[int, Field(ge=1, le=65535)] | Annotated[str, Field(
        examples=["6000-6010"])] | None = None


class RuleInput(RootModel[Annotated[str, Field(examples=["10.0.0.0/8 tcp 22"])] | RuleFields]):
    """A rule as one line of text (e.g. "10.0.0.0/8 tcp 22") or as fields; checked by
    portal.services.netrules.parse_rules, whose codes name the part at fault."""


ADMIT_ALL = Field(False, description="The explicit choice to admit every address: needed "
                                     "(else 400 admits_everyone) when the rules' union covers "
                                     "all of IPv4 or IPv6 for some protocol and port, e.g. "
                                     "0.0.0.0/0 or 0.0.0.0/1 + 128.0.0.0/1")
RULES = Field(max_length=200)


class WhitelistInput(In):
    name: str = Field(max_length=64)
    rules: list[RuleInput] = RULES
    admit_all: bool = ADMIT_ALL


class RulesInput(In):
    rules: list[RuleInput] = RULES
    admit_all: bool = ADMIT_ALL


OUTPUTS = [Key, NewKey, Whitelist, WhitelistWithWarnings, AddressCheck]
INPUTS = [KeyInput, WhitelistInput, RulesInput]
