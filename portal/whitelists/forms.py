"""Whitelist forms. Validation lives in portal.services.whitelists (same words as the API)."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField, TextAreaField


class WhitelistForm(FlaskForm):
    name = StringField(_l("Name"))
    rules = TextAreaField(_l("Rules, one per line"))


class RulesForm(FlaskForm):
    rules = TextAreaField(_l("Rules to add, one per line"))
