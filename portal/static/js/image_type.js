// Create forms (F3/F4, the run-job form too): the framework list shows only the images of
// the chosen image type (public or custom); options carry data-type. The type is a select
// (container form) or radio buttons (job form). When the chosen type has no image at all,
// the hint marked data-image-empty="<type>" says why the list is empty and what to do.
// Without JavaScript every image is listed, the hint stays shown, and the server says when
// the type does not match.
(function () {
  "use strict";
  var image = document.getElementById("image");
  if (!image) { return; }
  var form = image.closest("form");
  var select = document.getElementById("image_type");
  var radios = form ? form.querySelectorAll("input[type=radio][name=image_type]") : [];
  if ((!select || select.tagName !== "SELECT") && !radios.length) { return; }

  function chosen() {
    if (select && select.tagName === "SELECT") { return select.value; }
    var value = "public";
    Array.prototype.forEach.call(radios, function (r) { if (r.checked) { value = r.value; } });
    return value;
  }

  function filter() {
    var type = chosen();
    var first = null;
    Array.prototype.forEach.call(image.options, function (opt) {
      var show = !opt.dataset.type || opt.dataset.type === type;
      opt.hidden = !show;
      opt.disabled = !show;
      if (show && !first) { first = opt; }
    });
    if (first && (!image.selectedOptions.length || image.selectedOptions[0].disabled)) {
      image.value = first.value;
    }
    if (!first) { image.value = ""; }
    Array.prototype.forEach.call(document.querySelectorAll("[data-image-empty]"), function (hint) {
      hint.hidden = hint.getAttribute("data-image-empty") !== type;
    });
  }
  if (select && select.tagName === "SELECT") { select.addEventListener("change", filter); }
  Array.prototype.forEach.call(radios, function (r) { r.addEventListener("change", filter); });
  filter();
})();
