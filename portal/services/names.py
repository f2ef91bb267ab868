"""Display names that users give to things (keys, whitelists): one rule for all of them."""

from __future__ import annotations

import unicodedata

from flask_babel import lazy_gettext as _l

from portal.services import ServiceError

NAME_MAX = 64


def clean_name(text: object, max_len: int = NAME_MAX) -> str:
    """The name with surrounding blanks removed.

    Raises ServiceError("invalid_name") when it is not a string, is empty, is longer than
    `max_len`, or holds control or format characters (they hide text in lists and logs).
    """
    if not isinstance(text, str):
        raise ServiceError(_l("A name must be text."), "invalid_name")
    name = text.strip()
    if not name or len(name) > max_len:
        raise ServiceError(
            _l("A name is 1–%(max)d characters.", max=max_len), "invalid_name"
        )
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co") for ch in name):
        raise ServiceError(
            _l("A name may not contain control characters or line breaks."), "invalid_name"
        )
    return name
