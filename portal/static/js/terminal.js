// The web terminal (F3, decision 6): xterm.js in the page, a websocket to a pty on the
// portal that runs `srun --jobid … --overlap --pty` into the session's container.
// Messages to the server are JSON: {t:"i", d} input, {t:"r", rows, cols} resize,
// {t:"auth", password}; the server sends the terminal's output as binary messages.
(function () {
  "use strict";
  var box = document.getElementById("terminal");
  if (!box || typeof Terminal === "undefined") { return; }
  var status = document.querySelector("[data-testid=terminal-status]");
  var term = new Terminal({ cursorBlink: true, scrollback: 5000 });
  var fit = new FitAddon.FitAddon();
  term.loadAddon(fit);
  term.open(box);
  fit.fit();
  window.portalTerminal = term; // for tests and the browser console

  function send(ws, message) {
    if (ws.readyState === WebSocket.OPEN) { ws.send(JSON.stringify(message)); }
  }

  function connect(password) {
    var proto = window.location.protocol === "https:" ? "wss:" : "ws:";
    var url = proto + "//" + window.location.host + box.dataset.ws +
      "?rows=" + term.rows + "&cols=" + term.cols;
    var ws = new WebSocket(url);
    ws.binaryType = "arraybuffer";
    ws.onopen = function () {
      status.textContent = box.dataset.connected;
      if (password !== null) { send(ws, { t: "auth", password: password }); }
      term.focus();
    };
    ws.onmessage = function (event) {
      term.write(typeof event.data === "string" ? event.data : new Uint8Array(event.data));
    };
    ws.onclose = function () {
      status.textContent = box.dataset.closed;
      term.write("\r\n[" + box.dataset.closed + "]\r\n");
    };
    term.onData(function (data) { send(ws, { t: "i", d: data }); });
    term.onResize(function (size) { send(ws, { t: "r", rows: size.rows, cols: size.cols }); });
    window.addEventListener("resize", function () { fit.fit(); });
  }

  var form = document.getElementById("terminal-password");
  if (box.dataset.password === "1" && form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var field = document.getElementById("webterm-password");
      form.hidden = true;
      connect(field.value);
      field.value = "";
    });
  } else {
    connect(null);
  }
})();
