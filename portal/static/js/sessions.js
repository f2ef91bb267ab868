// Container list and detail (F3): "select all" for multi-delete, and a quiet reload
// while a session is pending, starting or deleting (states come from the worker's cache).
(function () {
  "use strict";
  document.querySelectorAll("input.select-all").forEach(function (all) {
    all.addEventListener("change", function () {
      var form = all.closest("form");
      form.querySelectorAll("input[name=ids]").forEach(function (box) { box.checked = all.checked; });
    });
  });
  var refresh = document.querySelector("[data-refresh]");
  if (refresh) {
    var seconds = parseInt(refresh.getAttribute("data-refresh"), 10) || 5;
    window.setTimeout(function () {
      var busy = document.querySelector("input[name=ids]:checked") ||
        document.activeElement && document.activeElement.tagName === "INPUT";
      if (!busy) { window.location.reload(); }
    }, seconds * 1000);
  }
})();
