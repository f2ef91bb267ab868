// Schedule form (F8): show the trigger in words and its next five run times while typing,
// from the portal's own preview (the same code that schedules the runs). The "Preview"
// button does the same without JavaScript.
(function () {
  "use strict";
  var form = document.querySelector("form[data-preview-url]");
  if (!form) { return; }
  var box = document.getElementById("schedule-preview");
  var url = form.getAttribute("data-preview-url");
  var fields = ["cron", "timezone", "start", "end"];
  var timer = null;

  var tz = form.elements.namedItem("timezone");
  if (tz && (!tz.value || tz.value === "UTC") && window.Intl) {
    var guess = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (guess) { tz.value = guess; }
  }

  function show(body) {
    box.textContent = "";
    if (body.error) {
      var p = document.createElement("p");
      p.className = "flash error";
      p.textContent = body.error.message;
      box.appendChild(p);
      return;
    }
    var head = document.createElement("p");
    var strong = document.createElement("strong");
    strong.setAttribute("data-testid", "cron-words");
    strong.textContent = body.description;
    head.appendChild(strong);
    head.appendChild(document.createTextNode(" (" + body.timezone + ")"));
    box.appendChild(head);
    var list = document.createElement("ol");
    list.setAttribute("data-testid", "next-runs");
    body.next_runs.forEach(function (t) {
      var item = document.createElement("li");
      item.textContent = t.replace("T", " ");
      list.appendChild(item);
    });
    box.appendChild(list);
  }

  function refresh() {
    var query = new URLSearchParams();
    fields.forEach(function (name) {
      var el = form.elements.namedItem(name);
      if (el) { query.set(name, el.value); }
    });
    fetch(url + "?" + query.toString(), { credentials: "same-origin" })
      .then(function (response) { return response.json(); })
      .then(show)
      .catch(function () { /* the Preview button still works */ });
  }

  fields.forEach(function (name) {
    var el = form.elements.namedItem(name);
    if (!el) { return; }
    el.addEventListener("input", function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(refresh, 300);
    });
  });
  refresh();
}());
