"""Wallet forms. Validation lives in portal.services.wallet; these carry fields and CSRF."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField


class TopUpForm(FlaskForm):
    amount = StringField(_l("Amount"))
    note = StringField(_l("Note"))
