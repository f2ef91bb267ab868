// Create forms (F3/F4): the framework list shows only the images of the chosen image type
// (public or custom); options carry data-type. Without JavaScript every image is listed
// and the server says when the type does not match.
(function () {
  "use strict";
  var type = document.getElementById("image_type");
  var image = document.getElementById("image");
  if (!type || !image || type.tagName !== "SELECT") { return; }
  function filter() {
    var first = null;
    Array.prototype.forEach.call(image.options, function (opt) {
      var show = !opt.dataset.type || opt.dataset.type === type.value;
      opt.hidden = !show;
      opt.disabled = !show;
      if (show && !first) { first = opt; }
    });
    if (image.selectedOptions.length && image.selectedOptions[0].disabled && first) {
      image.value = first.value;
    }
  }
  type.addEventListener("change", filter);
  filter();
})();
