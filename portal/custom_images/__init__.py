"""F4 custom images: the project's images committed from sessions, and the commit form."""

from portal.custom_images import routes  # noqa: F401
from portal.custom_images.blueprint import bp  # noqa: F401 - the app registers it
