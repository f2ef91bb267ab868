// Keys page: "Create and download" fetches the new private key and hands it to the browser
// as a download, then shows the refreshed list. Without JavaScript the form still works:
// the POST response itself is the download. The key is never put into the page.
(function () {
  "use strict";
  var form = document.querySelector("form[data-download-once]");
  if (!form || !window.fetch) { return; }

  function filenameFrom(header) {
    var match = /filename="([^"]+)"/.exec(header || "");
    return match ? match[1] : "id_key";
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var button = form.querySelector("button[type=submit]");
    if (button) { button.disabled = true; }
    fetch(form.action, {
      method: "POST", body: new FormData(form), credentials: "same-origin", redirect: "manual"
    }).then(function (response) {
      var disposition = response.headers.get("Content-Disposition");
      if (!response.ok || !disposition) {  // a refusal: the list page shows the message
        window.location.assign(form.dataset.after);
        return null;
      }
      return response.blob().then(function (blob) {
        var url = URL.createObjectURL(blob);
        var link = document.createElement("a");
        link.href = url;
        link.download = filenameFrom(disposition);
        document.body.appendChild(link);
        link.click();
        link.remove();
        setTimeout(function () {
          URL.revokeObjectURL(url);
          window.location.assign(form.dataset.after);
        }, 500);
      });
    }).catch(function () {
      window.location.assign(form.dataset.after);
    });
  });
}());
