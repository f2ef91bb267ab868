"""The left menu, exactly as F1 lists it. An item without an endpoint is not built yet."""

from __future__ import annotations

from dataclasses import dataclass, field

from flask_babel import lazy_gettext as _l


@dataclass(frozen=True)
class MenuItem:
    key: str
    label: object
    endpoint: str | None = None  # None: the "not built yet" page
    admin_only: bool = False


@dataclass(frozen=True)
class MenuSection:
    key: str
    label: object
    items: list[MenuItem] = field(default_factory=list)


MENU: list[MenuSection] = [
    MenuSection("projects", _l("Projects"), [MenuItem("projects", _l("Projects"))]),
    MenuSection(
        "ml-services",
        _l("ML Services"),
        [
            MenuItem("create-container", _l("Create container")),
            MenuItem("containers", _l("Container list")),
            MenuItem("custom-images", _l("Custom images")),
            MenuItem("gpu-rental", _l("GPU rental overview")),
        ],
    ),
    MenuSection(
        "ml-jobs",
        _l("ML Jobs"),
        [
            MenuItem("run-job", _l("Run job")),
            MenuItem("jobs", _l("Job list")),
            MenuItem("create-template", _l("Create template")),
            MenuItem("templates", _l("Templates")),
            MenuItem("schedules", _l("Schedules")),
        ],
    ),
    MenuSection(
        "network-security",
        _l("Network Security"),
        [
            MenuItem("keys", _l("Keys"), "keys.index"),
            MenuItem("whitelists", _l("Whitelists"), "whitelists.index"),
        ],
    ),
    MenuSection(
        "account",
        _l("Account"),
        [
            MenuItem("cloud-platform", _l("Cloud platform")),
            MenuItem("operation-log", _l("Operation log")),
            MenuItem("profile", _l("Profile"), "settings.profile"),
            MenuItem("orders", _l("Orders")),
            MenuItem("approvals", _l("Approvals")),
            MenuItem("cost-analysis", _l("Cost analysis")),
            MenuItem("wallet", _l("Wallet")),
            MenuItem("settings", _l("Settings"), "settings.preferences"),
        ],
    ),
    MenuSection("contact", _l("Contact admin"), [MenuItem("contact", _l("Contact admin"))]),
]


def find_item(key: str) -> MenuItem | None:
    for section in MENU:
        for item in section.items:
            if item.key == key:
                return item
    return None
