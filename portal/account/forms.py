from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField, TextAreaField
from wtforms.validators import Length


class ContactTextForm(FlaskForm):
    body = TextAreaField(_l("Contact information"), validators=[Length(max=10_000)])


class ProfileForm(FlaskForm):
    display_name = StringField(_l("Display name"), validators=[Length(max=120)])
    contact = StringField(_l("Contact"), validators=[Length(max=255)])
    email = StringField(_l("Email"), validators=[Length(max=254)])
