// Small progressive enhancements for forms; every form works without them.
(function () {
  "use strict";
  // Ask before destructive actions.
  Array.prototype.forEach.call(document.querySelectorAll("form[data-confirm]"), function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) { event.preventDefault(); }
    });
  });
  // Source form: show only the chosen platform's credential fields.
  var platform = document.getElementById("id_platform");
  if (!platform) { return; }
  function sync() {
    Array.prototype.forEach.call(document.querySelectorAll(".field.credential"), function (field) {
      var input = field.querySelector("input");
      var platforms = (input && input.getAttribute("data-platforms") || "").split(" ");
      field.hidden = platforms.indexOf(platform.value) === -1;
    });
  }
  platform.addEventListener("change", sync);
  sync();
})();
