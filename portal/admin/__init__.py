"""F13 admin pages: projects (create, quota, dates, QOS, extensions), QOS, users.

One module per admin area; every page is for platform administrators only (403 else).
"""

from portal.admin import idle, projects, qos, users  # noqa: F401
from portal.admin.blueprint import bp  # noqa: F401 - the app registers it
