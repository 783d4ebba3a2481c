// "Send to care" on a post: posts the form in the background and puts a link to the care
// conversation where the button was. Without this script (or if the request fails to reach the
// server) the form posts normally and the page comes back with the link.
(function () {
  "use strict";
  if (!window.fetch || !window.FormData) { return; }
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.classList || !form.classList.contains("send-to-care-form")) { return; }
    event.preventDefault();
    var holder = form.closest(".send-to-care");
    var button = form.querySelector("button");
    if (button) { button.disabled = true; }
    fetch(form.action, {
      method: "POST", body: new FormData(form), credentials: "same-origin",
      headers: { "Accept": "application/json" }
    }).then(function (response) {
      return response.json().then(function (data) { return { ok: response.ok, data: data }; });
    }).then(function (result) {
      if (!result.ok) {
        if (button) { button.disabled = false; }
        var error = holder.querySelector(".care-error") || document.createElement("span");
        error.className = "care-error";
        error.setAttribute("role", "alert");
        error.textContent = result.data.detail || "";
        holder.appendChild(error);
        return;
      }
      // Text from the server goes in as text, never as HTML.
      var link = document.createElement("a");
      link.className = "care-link";
      link.href = result.data.url;
      link.textContent = result.data.label;
      holder.replaceChildren(link);
    }).catch(function () {
      form.submit();
    });
  });
})();
