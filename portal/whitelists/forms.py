"""Whitelist forms. Validation lives in portal.services.whitelists (same words as the API)."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, StringField, TextAreaField

# Rules whose union admits every address (0.0.0.0/0, or 0.0.0.0/1 + 128.0.0.0/1, …) are
# refused unless this is ticked (issue #12 finding 8).
ADMIT_ALL = _l("Admit every address: I know these rules together let anyone on the internet "
               "try to connect")


class WhitelistForm(FlaskForm):
    name = StringField(_l("Name"))
    rules = TextAreaField(_l("Rules, one per line"))
    admit_all = BooleanField(ADMIT_ALL)


class RulesForm(FlaskForm):
    rules = TextAreaField(_l("Rules to add, one per line"))
    admit_all = BooleanField(ADMIT_ALL)
