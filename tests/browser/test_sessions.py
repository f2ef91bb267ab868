"""F3 in a real browser on the dev cluster: create a container through the form and its
summary, watch it run, execute 1+1 in a Jupyter kernel through the proxy, type in the web
terminal, log in with SSH as the detail page says, then delete it. All of it through the
session gateway (portal/gateway), the one address `make run` serves."""

from __future__ import annotations

import re
import socket
import threading
import uuid

import pytest

from adapters.factory import make_scheduler
from adapters.runner import CommandRunner
from adapters.sshd import ssh_probe
from portal import db, worker
from portal.gateway.server import Background, gateway_for
from portal.services import keys, public_images
from tests.browser.steps import login
from tests.integration.sessions.sessionhelpers import JUPYTER_IMAGE, remove_session_dirs
from tests.support.members import add_member

pytestmark = [pytest.mark.browser, pytest.mark.integration]

# Runs in the Jupyter tab: start a kernel through the proxy and run 1+1 over its websocket.
KERNEL_JS = """async (base) => {
  const r = await fetch(base + "api/kernels", {method: "POST", body: "{}",
                        headers: {"Content-Type": "application/json"}});
  const kernel = await r.json();
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  const ws = new WebSocket(`${proto}//${location.host}${base}api/kernels/${kernel.id}/channels`);
  const msgId = crypto.randomUUID();
  return await new Promise((resolve, reject) => {
    setTimeout(() => reject(new Error("no result")), 60000);
    ws.onopen = () => ws.send(JSON.stringify({
      header: {msg_id: msgId, username: "t", session: crypto.randomUUID(),
               msg_type: "execute_request", version: "5.3"},
      parent_header: {}, metadata: {}, channel: "shell", buffers: [],
      content: {code: "1+1", silent: false, store_history: false, user_expressions: {},
                allow_stdin: false, stop_on_error: true}}));
    ws.onmessage = (event) => {
      const msg = JSON.parse(event.data);
      if (msg.parent_header && msg.parent_header.msg_id === msgId &&
          msg.msg_type === "execute_result") { resolve(msg.content.data["text/plain"]); }
    };
  });
}"""


def _setup(app, tmp_path):
    with app.app_context():
        alice = add_member("alice", "proja")
        public_images.register_image("jupyter", JUPYTER_IMAGE, framework="Python 3 / Jupyter")
        _, private = keys.create_key(alice, "laptop")
        db.session.remove()
    key_path = tmp_path / "id_alice"
    key_path.write_text(private)
    key_path.chmod(0o600)
    thread = threading.Thread(target=worker.run_cycle, args=(app,))  # the cluster cache
    thread.start()
    thread.join(timeout=60)
    return key_path


def _cycle(app):
    thread = threading.Thread(target=worker.run_cycle, args=(app,))
    thread.start()
    thread.join(timeout=60)


@pytest.fixture
def front(app, live_server):
    """The gateway in front of the live app, as under `make run`: the browser's one origin."""
    app.config["BEHIND_GATEWAY"] = True
    gateway = Background(gateway_for(app, live_server))
    yield gateway.url
    gateway.stop()


@pytest.fixture
def name(app):
    """A unique session name; whatever Slurm job carries it is cancelled at the end."""
    name = "br" + uuid.uuid4().hex[:8]
    yield name
    runner = CommandRunner()
    for job in make_scheduler(app.config).info_all(user="alice"):
        if job.name == name and not job.state.is_terminal:
            runner.run(["scancel", "--", job.id], as_user="alice", check=False)
    remove_session_dirs(app)


def test_create_run_jupyter_terminal_ssh_delete(app, front, page, tmp_path, name):
    live_server = front  # every page, /s/<id>/ and the terminal through the gateway
    key_path = _setup(app, tmp_path)
    login(page, live_server, "alice")

    page.click("nav.sidemenu >> text=Create container")
    page.fill("[data-testid=name]", name)
    page.select_option("[data-testid=image]", "jupyter")
    page.check("[data-testid=end-hours]")
    page.fill("[data-testid=hours]", "1")
    page.fill("[data-testid=mem_gb]", "1")
    page.check("[data-testid=ssh-key]")
    page.select_option("[data-testid=ssh_key_ids]", index=0)
    page.check("[data-testid=allow_all]")
    page.click("[data-testid=review]")
    summary = page.inner_text("[data-testid=summary]")
    assert name in summary and "allow all incoming" in summary and "laptop" in summary
    page.click("[data-testid=create]")
    page.wait_for_selector("[data-testid=deployment-id]")
    job_id = page.inner_text("[data-testid=deployment-id]")
    assert job_id.isdigit()
    # The detail page reloads itself while the session starts.
    page.wait_for_selector("[data-testid=jupyter-link]", timeout=90_000)
    assert page.inner_text("[data-testid=state]") == "running"
    page.screenshot(path=str(tmp_path / "session-detail.png"))

    with page.context.expect_page() as new_tab:
        page.click("[data-testid=jupyter-link]")
    jupyter = new_tab.value
    jupyter.wait_for_load_state()
    base = re.match(r"https?://[^/]+(/s/\d+/)", jupyter.url).group(1)
    # JupyterLab boots with no token anywhere (the proxy authenticates, issue 12) and
    # leaves no Jupyter login cookie in the browser.
    assert jupyter.url.endswith(f"{base}lab")
    jupyter.wait_for_selector(".jp-DirListing-item", timeout=90_000)  # Lab lists files
    assert not [c for c in jupyter.context.cookies() if c["name"].startswith("username-")]
    assert jupyter.evaluate(KERNEL_JS, base) == "2"
    jupyter.close()

    errors = []
    page.on("pageerror", lambda error: errors.append(error))
    page.click("[data-testid=terminal-link]")
    page.wait_for_selector("text=connected")
    page.click("[data-testid=terminal]")
    page.keyboard.type("echo T$((40+2))T; hostname; id -u\n")
    node = socket.gethostname().split(".")[0]
    page.wait_for_function(
        "(node) => { const t = document.querySelector('.xterm-rows').innerText;"
        " return t.includes('T42T') && t.includes(node) && t.includes('2001'); }",
        arg=node, timeout=60_000)
    page.screenshot(path=str(tmp_path / "session-terminal.png"))
    assert errors == []

    page.go_back()
    command = page.inner_text("[data-testid=ssh-command]")
    port, host = re.fullmatch(r"ssh -p (\d+) alice@(\S+)", command).groups()
    result = ssh_probe(CommandRunner(), host=socket.gethostbyname(host), port=int(port),
                       login="alice", identity_file=str(key_path),
                       command=("test -x /opt/venv/bin/jupyter && echo in-container",))
    assert result.returncode == 0 and result.stdout.strip() == "in-container", result.stderr

    page.click("[data-testid=delete]")
    page.click("[data-testid=confirm-delete]")
    row = page.locator(f"tr:has-text('{name}')")
    assert row.locator("[data-testid=state]").inner_text() == "deleting"
    _cycle(app)
    page.goto(f"{live_server}/sessions/")
    assert name not in page.inner_text("[data-testid=session-table]")
