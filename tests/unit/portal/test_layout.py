"""F1 layout: the left menu as listed, placeholders that say so, language and theme."""

from portal import db
from portal.menu import MENU
from portal.models import Membership, Project, ProjectRole

F1_MENU = [
    "Projects", "Create container", "Container list", "Custom images", "GPU rental overview",
    "Run job", "Job list", "Create template", "Templates", "Schedules", "Keys", "Whitelists",
    "Cloud platform", "Operation log", "Profile", "Orders", "Approvals", "Cost analysis",
    "Wallet", "Settings", "Contact admin",
]


def test_menu_lists_every_f1_item_in_order(make_user, auth, client):
    make_user("ursula")
    auth.login()
    page = client.get("/").get_data(as_text=True)
    positions = [page.index(f">{label}</a>") for label in F1_MENU]
    assert positions == sorted(positions)
    assert sum(1 for s in MENU for i in s.items if not i.admin_only) == len(F1_MENU)
    assert 'data-section="admin"' not in page


def test_admins_also_see_the_administration_section(make_user, auth, client):
    make_user("ursula", admin=True)
    auth.login()
    page = client.get("/").get_data(as_text=True)
    assert 'data-section="admin"' in page and ">QOS</a>" in page


def test_unbuilt_page_says_so(make_user, auth, client):
    make_user("ursula")
    auth.login()
    page = client.get("/soon/wallet").get_data(as_text=True)
    assert "not built yet" in page
    assert client.get("/soon/no-such-page").status_code == 404


def test_language_switch_to_traditional_chinese_is_remembered(make_user, auth, client):
    make_user("ursula")
    auth.login()
    client.post("/settings/language", data={"locale": "zh_TW", "csrf_token": auth.csrf()})
    page = client.get("/").get_data(as_text=True)
    assert "專案" in page and "登出" in page
    auth.logout()
    auth.login()
    assert "專案" in client.get("/").get_data(as_text=True)


def test_unknown_language_is_refused(make_user, auth, client):
    make_user("ursula")
    auth.login()
    client.post("/settings/language", data={"locale": "xx", "csrf_token": auth.csrf()})
    assert "Unknown language." in client.get("/").get_data(as_text=True)


def test_anonymous_language_choice_on_login_page(client):
    from tests.conftest import csrf_from

    token = csrf_from(client.get("/login").get_data(as_text=True))
    client.post("/settings/language", data={"locale": "zh_TW", "csrf_token": token})
    assert "登入" in client.get("/login").get_data(as_text=True)


def test_theme_is_remembered_per_user(make_user, auth, client):
    make_user("ursula")
    make_user("victor")
    auth.login()
    client.post("/settings/theme", data={"theme": "dark", "csrf_token": auth.csrf()})
    assert 'data-theme="dark"' in client.get("/").get_data(as_text=True)
    auth.logout()
    auth.login("victor")
    assert 'data-theme="light"' in client.get("/").get_data(as_text=True)


def test_project_picker_shows_role_and_switches(make_user, auth, client):
    user = make_user("ursula")
    a, b = Project(account="pa", name="Alpha"), Project(account="pb", name="Beta")
    db.session.add_all([a, b])
    db.session.commit()
    db.session.add_all([
        Membership(user_id=user.id, project_id=a.id, role=ProjectRole.MANAGER),
        Membership(user_id=user.id, project_id=b.id, role=ProjectRole.MEMBER),
    ])
    db.session.commit()
    auth.login()
    page = client.get("/").get_data(as_text=True)
    assert "Alpha (manager)" in page and "Beta (member)" in page
    client.post("/project", data={"project_id": b.id, "csrf_token": auth.csrf()})
    assert db.session.get(type(user), user.id).current_project_id == b.id
    other = Project(account="pc", name="Gamma")
    db.session.add(other)
    db.session.commit()
    client.post("/project", data={"project_id": other.id, "csrf_token": auth.csrf()})
    assert "You are not a member of that project." in client.get("/").get_data(as_text=True)
