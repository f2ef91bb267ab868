// Whitelist forms: the one-click fix for a network typed with host bits set (10.1.2.3/8 →
// 10.0.0.0/8). The server found the line and the network; this puts the network in place
// of what was typed on that line of the rules box, and says so. Nothing is submitted:
// the user sees the corrected text and submits it.
(function () {
  "use strict";
  Array.prototype.forEach.call(document.querySelectorAll("[data-cidr-fix]"), function (button) {
    button.addEventListener("click", function () {
      var form = button.closest("form");
      var box = form ? form.querySelector("textarea[name=rules]") : null;
      if (!box) { return; }
      var original = button.getAttribute("data-original");
      var fixed = button.getAttribute("data-fixed");
      var number = parseInt(button.getAttribute("data-line") || "0", 10);
      var lines = box.value.split(/\r?\n/);
      var index = number - 1;
      if (index < 0 || index >= lines.length || lines[index].indexOf(original) < 0) {
        index = lines.findIndex(function (line) { return line.indexOf(original) >= 0; });
      }
      if (index < 0) { return; }
      lines[index] = lines[index].replace(original, fixed);
      box.value = lines.join("\n");
      box.focus();
      button.disabled = true;
      button.textContent = "✓ " + button.textContent;
    });
  });
})();
