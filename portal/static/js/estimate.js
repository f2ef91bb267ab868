// Create forms (issue #16): "this costs X per hour; the wallet covers about N hours", and
// for a job whether the budget covers its whole time limit. The server computes every
// number from Slurm's billing weights (the same as the order's unit price and the wallet's
// charge); this script only sends the typed hardware and time and shows the sentences.
(function () {
  "use strict";
  var FIELDS = ["gpu_model", "gpu_count", "node_count", "cpus", "mem_gb", "time_limit", "end", "hours"];
  Array.prototype.forEach.call(document.querySelectorAll("[data-estimate-url]"), function (box) {
    var form = box.closest("form");
    if (!form) { return; }
    var timer = null;
    var asked = 0;

    function params() {
      var out = new URLSearchParams();
      out.set("kind", box.getAttribute("data-kind") || "job");
      FIELDS.forEach(function (name) {
        var field = form.elements[name];
        if (field && field.value !== undefined && field.value !== null) { out.set(name, field.value); }
      });
      return out.toString();
    }

    function show(data) {
      var lines = box.querySelector("[data-estimate-lines]");
      lines.textContent = "";
      (data.lines || []).forEach(function (line) {
        var p = document.createElement("p");
        p.className = "estimate-line " + line.level;
        p.setAttribute("data-level", line.level);
        p.textContent = line.text;
        lines.appendChild(p);
      });
      var more = box.querySelector("[data-availability-lines]");
      if (more) {  // issue #17: free GPUs, and the start Slurm expects (asked by the worker)
        more.textContent = "";
        (data.availability || []).forEach(function (text) {
          var p = document.createElement("p");
          p.className = "estimate-line info";
          p.textContent = text;
          more.appendChild(p);
        });
        more.setAttribute("data-start-state", (data.start && data.start.state) || "");
        more.setAttribute("data-pending", data.start_pending ? "true" : "false");
        if (data.start_pending) { if (timer) { clearTimeout(timer); } timer = setTimeout(refresh, 3000); }
      }
      box.setAttribute("data-hourly", data.hourly_text || "");
      box.setAttribute("data-fits", data.fits === null || data.fits === undefined ? "" : String(data.fits));
    }

    function refresh() {
      var mine = ++asked;
      fetch(box.getAttribute("data-estimate-url") + "?" + params(), {
        credentials: "same-origin", headers: { "Accept": "application/json" }
      }).then(function (response) { return response.ok ? response.json() : null; })
        .then(function (data) { if (data && mine === asked) { show(data); } })
        .catch(function () { /* keep what is shown */ });
    }

    function later() {
      if (timer) { clearTimeout(timer); }
      timer = setTimeout(refresh, 250);
    }
    var first = box.querySelector("[data-availability-lines][data-pending=true]");
    if (first) { timer = setTimeout(refresh, 2000); }
    form.addEventListener("input", later);
    form.addEventListener("change", later);
  });
})();
