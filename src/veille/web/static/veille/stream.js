// Live stream: new posts arrive as server-sent events, already rendered (and escaped) by the
// server; the browser reconnects by itself and resumes from the last event id.
(function () {
  "use strict";
  var list = document.getElementById("stream");
  if (!list || !window.EventSource) { return; }
  var status = document.getElementById("stream-status");
  var counter = document.getElementById("new-count");
  var newCount = 0;
  var seen = {};
  Array.prototype.forEach.call(list.querySelectorAll("[data-post-id]"), function (el) {
    seen[el.getAttribute("data-post-id")] = true;
  });
  var url = list.getAttribute("data-events-url") + "?after=" + encodeURIComponent(list.getAttribute("data-last-id") || "0");
  var source = window.veilleOpenStream(url, status);
  source.addEventListener("post", function (event) {
    var data = JSON.parse(event.data);
    if (seen[data.id]) { return; }
    seen[data.id] = true;
    var empty = document.getElementById("stream-empty");
    if (empty) { empty.remove(); }
    var template = document.createElement("template");
    template.innerHTML = data.html.trim();
    var node = template.content.firstElementChild;
    node.classList.add("fresh");
    list.insertBefore(node, list.firstChild);
    newCount += 1;
    counter.textContent = String(newCount);
    // Keep the page light during a spike: the stream shows the latest 300 posts.
    while (list.children.length > 300) { list.removeChild(list.lastElementChild); }
  });
})();
