// Live job log (F6): append what the log gained since the last offset, every 2 s, until
// the job has ended and everything is shown. The server reads the file as the job's
// owner; this page only ever asks for its own job's log by id.
(function () {
  "use strict";
  var pre = document.getElementById("job-log");
  if (!pre) { return; }
  var status = document.getElementById("job-log-status");
  var offset = parseInt(pre.getAttribute("data-offset") || "0", 10);
  var url = pre.getAttribute("data-url");
  var MAX_CHARS = 2000000; // keep the page light: drop the oldest text past this

  function stickToBottom(before) {
    if (before) { pre.scrollTop = pre.scrollHeight; }
  }

  function poll() {
    var atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
    fetch(url + "?offset=" + offset, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) { return response.json(); })
      .then(function (body) {
        if (body.error) { if (status) { status.textContent = body.error.message; } return; }
        if (body.text) {
          pre.textContent += body.text;
          if (pre.textContent.length > MAX_CHARS) {
            pre.textContent = pre.textContent.slice(pre.textContent.length - MAX_CHARS);
          }
          stickToBottom(atBottom);
        }
        offset = body.offset;
        if (body.done) {
          if (status) { status.textContent = ""; }
          pre.setAttribute("data-done", "true");
          return;
        }
        window.setTimeout(poll, body.text && body.offset < body.size ? 200 : 2000);
      })
      .catch(function () { window.setTimeout(poll, 5000); });
  }

  if (pre.getAttribute("data-done") !== "true") { window.setTimeout(poll, 1000); }
  pre.scrollTop = pre.scrollHeight;
}());
