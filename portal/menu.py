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
    MenuSection(
        "projects", _l("Projects"), [MenuItem("projects", _l("Projects"), "projects.index")]
    ),
    MenuSection(
        "ml-services",
        _l("ML Services"),
        [
            MenuItem("create-container", _l("Create container"), "sessions.new"),
            MenuItem("containers", _l("Container list"), "sessions.index"),
            MenuItem("custom-images", _l("Custom images"), "custom_images.index"),
            MenuItem("gpu-rental", _l("GPU rental overview"), "gpu_usage.index"),
        ],
    ),
    MenuSection(
        "ml-jobs",
        _l("ML Jobs"),
        [
            MenuItem("run-job", _l("Run job"), "jobs.new"),
            MenuItem("jobs", _l("Job list"), "jobs.index"),
            MenuItem("create-template", _l("Create template"), "jobtemplates.new"),
            MenuItem("templates", _l("Templates"), "jobtemplates.index"),
            MenuItem("schedules", _l("Schedules"), "schedules.index"),
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
            MenuItem("cloud-platform", _l("Cloud platform"), "account.activation"),
            MenuItem("operation-log", _l("Operation log"), "account.log"),
            MenuItem("profile", _l("Profile"), "settings.profile"),
            MenuItem("orders", _l("Orders"), "orders.index"),
            MenuItem("approvals", _l("Approvals"), "orders.approvals"),
            MenuItem("cost-analysis", _l("Cost analysis"), "costs.index"),
            MenuItem("wallet", _l("Wallet"), "wallet.index"),
            MenuItem("settings", _l("Settings"), "settings.preferences"),
        ],
    ),
    MenuSection(
        "contact",
        _l("Contact admin"),
        [MenuItem("contact", _l("Contact admin"), "account.contact")],
    ),
    # F13: platform administration, shown to admins only (not part of F1's user menu).
    MenuSection(
        "admin",
        _l("Administration"),
        [
            MenuItem("admin-projects", _l("All projects"), "admin.projects", admin_only=True),
            MenuItem("admin-qos", _l("QOS"), "admin.qos_list", admin_only=True),
            MenuItem("admin-users", _l("Users"), "admin.users", admin_only=True),
            MenuItem("admin-prices", _l("Prices"), "costs.prices_page", admin_only=True),
            MenuItem(
                "admin-images", _l("Public images"), "sessions.images_admin", admin_only=True
            ),
        ],
    ),
]


def visible_menu(is_admin: bool) -> list[tuple[MenuSection, list[MenuItem]]]:
    """The sections and items this user sees; sections left empty are dropped."""
    shown = []
    for section in MENU:
        items = [item for item in section.items if is_admin or not item.admin_only]
        if items:
            shown.append((section, items))
    return shown


def menu_href(item: MenuItem) -> str:
    """The item's page, or the "not built yet" page while its feature is missing."""
    from flask import current_app, url_for

    if item.endpoint and item.endpoint in current_app.view_functions:
        return url_for(item.endpoint)
    return url_for("main.coming_soon", key=item.key)


def find_item(key: str) -> MenuItem | None:
    for section in MENU:
        for item in section.items:
            if item.key == key:
                return item
    return None
