"""The token's user and its personal access tokens: what /api/v1/me and /tokens answer."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from portal.api.schemas import Out
from portal.api.schemas.jobs import ISO, Text

Scope = Literal["read", "write", "admin"]


class MeProject(Out):
    account: str
    name: str
    role: Literal["member", "manager"]


class Me(Out):
    username: str
    unix_user: Text
    display_name: str
    email: str
    is_admin: bool = Field(description="Admin rights in force for this token's scope.")
    token_scope: Scope
    theme: Literal["light", "dark"]
    locale: Text
    projects: list[MeProject]


class Token(Out):
    id: int
    name: str
    prefix: str
    scope: Scope
    created_at: ISO
    last_used_at: ISO = Field(description="Coalesced: updated at most once per "
                                          "TOKEN_LAST_USED_INTERVAL (default 5 minutes).")


class NewToken(Token):
    """A token as created on the profile page: the secret is shown this once."""

    token: str


OUTPUTS = [Me, Token, NewToken]
