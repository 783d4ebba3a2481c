// One server-sent-event connection with its status line, shared by the live pages (stream,
// board, care queue): the status element shows its data-connected / data-disconnected text and
// carries the "live" class while the stream is up; onChange(up) lets a page react too.
(function () {
  "use strict";
  window.veilleOpenStream = function (url, status, onChange) {
    var source = new EventSource(url);
    function show(up) {
      if (status) {
        status.textContent = status.getAttribute(up ? "data-connected" : "data-disconnected");
        status.classList.toggle("live", up);
      }
      if (onChange) { onChange(up); }
    }
    source.addEventListener("open", function () { show(true); });
    source.addEventListener("error", function () { show(false); });
    return source;
  };
})();
