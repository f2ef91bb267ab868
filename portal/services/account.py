"""Profile (F11) and the contact-admin text (F12).

Email addresses: `email-validator` is not a dependency, so the check is a strict, documented
subset of RFC 5321/5322 that every mail system accepts: `local@domain`, at most 254
characters; the local part is 1–64 characters of letters, digits and
``!#$%&'*+/=?^_`{|}~-`` separated by single dots (no quoted forms); the domain has at least
two dot-separated labels of letters, digits and inner hyphens (1–63 each), the last one
alphabetic and at least 2 long (no IP literals, no non-ASCII: use the punycode form).
An empty address clears it.

The contact text is plain text: it is escaped and line breaks become <br>; no HTML or
markdown is ever interpreted.
"""

from __future__ import annotations

import re

from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape

from portal import db
from portal.models import SiteText, User, UserContact
from portal.services import Forbidden, ServiceError, audit

_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
LOCAL_RE = re.compile(rf"{_ATEXT}(?:\.{_ATEXT})*")
LABEL_RE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
TLD_RE = re.compile(r"[A-Za-z]{2,63}")
CONTACT_KEY = "contact"
MAX_CONTACT_TEXT = 10_000
MAX_NAME = 120
MAX_CONTACT = 255


def validate_email(value: str) -> str:
    """The address, stripped; '' stays ''. Raises ServiceError("invalid_email")."""
    value = (value or "").strip()
    if not value:
        return ""
    bad = ServiceError(_l("%(value)s is not a valid email address.", value=value[:80]),
                       "invalid_email")
    if len(value) > 254 or value.count("@") != 1:
        raise bad
    local, domain = value.split("@")
    labels = domain.split(".")
    if (len(local) > 64 or not LOCAL_RE.fullmatch(local) or len(labels) < 2
            or not all(LABEL_RE.fullmatch(label) for label in labels)
            or not TLD_RE.fullmatch(labels[-1])):
        raise bad
    return value


def _clean_line(value: str, limit: int, label) -> str:
    value = (value or "").strip()
    if len(value) > limit:
        raise ServiceError(_l("%(field)s is longer than %(n)s characters.", field=label,
                              n=limit), "too_long")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise ServiceError(_l("%(field)s must be one line of text.", field=label),
                           "invalid_text")
    return value


def contact_of(user: User) -> str:
    row = db.session.get(UserContact, user.id)
    return row.contact if row else ""


def update_profile(user: User, display_name: str, contact: str, email: str) -> None:
    """Validate all three first; nothing changes when one is bad."""
    name = _clean_line(display_name, MAX_NAME, _l("Display name")) or user.username
    contact = _clean_line(contact, MAX_CONTACT, _l("Contact"))
    email = validate_email(email)
    row = db.session.get(UserContact, user.id) or UserContact(user_id=user.id)
    changed = [k for k, old, new in (("display_name", user.display_name, name),
                                     ("contact", row.contact or "", contact),
                                     ("email", user.email, email)) if old != new]
    user.display_name, user.email, row.contact = name, email, contact
    db.session.add(row)
    audit.record("profile.update", f"user:{user.username}", actor=user, commit=False,
                 changed=changed)
    db.session.commit()


def contact_text() -> SiteText | None:
    return db.session.get(SiteText, CONTACT_KEY)


def set_contact_text(actor: User, body: str) -> SiteText:
    """Admins only. Raises Forbidden or ServiceError("too_long")."""
    if not actor.is_admin:
        raise Forbidden(_l("Only administrators may edit the contact page."), "not_admin")
    body = (body or "").replace("\r\n", "\n").replace("\r", "\n").strip()
    if len(body) > MAX_CONTACT_TEXT:
        raise ServiceError(_l("The text is longer than %(n)s characters.",
                              n=MAX_CONTACT_TEXT), "too_long")
    row = contact_text() or SiteText(key=CONTACT_KEY)
    row.body, row.updated_at, row.updated_by = body, db.utcnow(), actor.username
    db.session.add(row)
    audit.record("admin.contact_update", "site_text:contact", actor=actor, commit=False,
                 length=len(body))
    db.session.commit()
    return row


def render_plain(text: str) -> Markup:
    """Escaped text with line breaks as <br> (never raw HTML)."""
    return Markup("<br>\n").join(escape(line) for line in (text or "").split("\n"))
