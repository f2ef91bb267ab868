from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Length


class PasswordForm(FlaskForm):
    current = PasswordField(_l("Current password"), validators=[DataRequired()])
    new = PasswordField(_l("New password"), validators=[DataRequired(), Length(max=256)])


SCOPE_LABELS = {
    "read": _l("read — look only (GET)"),
    "write": _l("write — also create, change and delete your own things"),
    "admin": _l("admin — also your administrator rights"),
}


class TokenForm(FlaskForm):
    name = StringField(_l("Token name"), validators=[DataRequired(), Length(max=64)])
    # Least privilege by default; the route offers `admin` to administrators only.
    scope = SelectField(_l("Scope"), default="read")

    def offer(self, scopes) -> "TokenForm":
        self.scope.choices = [(s, SCOPE_LABELS[s]) for s in scopes]
        return self
