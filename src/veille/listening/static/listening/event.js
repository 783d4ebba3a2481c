// Event mode: refresh the counters and the per-minute chart every few seconds while the event runs.
(function () {
  "use strict";
  var root = document.getElementById("event");
  if (!root || root.getAttribute("data-live") !== "1" || !window.fetch) { return; }
  var url = root.getAttribute("data-live-url");
  function refresh() {
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) {
        if (!data) { return; }
        document.getElementById("event-total").textContent = String(data.total);
        document.getElementById("event-last-minute").textContent = String(data.last_minute);
        document.getElementById("event-peak").textContent = String(data.peak);
        // The chart is server-rendered SVG whose labels the server escaped.
        var chart = document.getElementById("event-chart");
        var template = document.createElement("template");
        template.innerHTML = data.chart;
        chart.replaceChildren(template.content);
        if (!data.live) { window.clearInterval(timer); }
      })
      .catch(function () { /* try again at the next tick */ });
  }
  var timer = window.setInterval(refresh, 5000);
})();
