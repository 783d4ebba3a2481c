// Board of live columns: one server-sent-event stream for the whole board. Each "post" event
// carries a post already rendered (and escaped) by the server and the column it belongs to; the
// post goes on top of that column and the column's unread counter goes up. A "column" event
// carries the whole body of a column that is not a list of posts (a care queue), rendered by
// the server, and replaces it.
(function () {
  "use strict";
  var board = document.getElementById("board");
  if (!board || !window.EventSource) { return; }
  var status = document.getElementById("board-status");
  var seen = {};
  var PER_COLUMN = 200;
  Array.prototype.forEach.call(board.querySelectorAll(".column"), function (column) {
    var id = column.getAttribute("data-column-id");
    seen[id] = {};
    Array.prototype.forEach.call(column.querySelectorAll(".column-post[data-post-id]"), function (el) {
      seen[id][el.getAttribute("data-post-id")] = true;
    });
  });
  var url = board.getAttribute("data-events-url") + "?after=" + encodeURIComponent(board.getAttribute("data-last-id") || "0");
  var source = window.veilleOpenStream(url, status);
  function setUnread(column, count, more) {
    var unread = column.querySelector(".unread");
    unread.setAttribute("data-count", String(count));
    unread.textContent = more || count > 99 ? "99+" : String(count);
    unread.classList.toggle("has-unread", count > 0);
  }
  source.addEventListener("column", function (event) {
    var data = JSON.parse(event.data);
    var column = document.getElementById("column-" + data.column);
    if (!column) { return; }
    var template = document.createElement("template");
    template.innerHTML = data.html.trim();  // server-rendered and escaped by Django templates
    column.querySelector(".column-posts").replaceChildren(template.content);
    column.setAttribute("data-refreshed", String(Date.now()));
    setUnread(column, data.unread, data.unread_more);
  });
  source.addEventListener("post", function (event) {
    var data = JSON.parse(event.data);
    var column = document.getElementById("column-" + data.column);
    if (!column) { return; }
    var key = String(data.column);
    seen[key] = seen[key] || {};
    if (seen[key][data.id]) { return; }
    seen[key][data.id] = true;
    var list = column.querySelector(".column-posts");
    var empty = list.querySelector(".column-empty");
    if (empty) { empty.remove(); }
    var template = document.createElement("template");
    template.innerHTML = data.html.trim();
    var node = template.content.firstElementChild;
    node.classList.add("fresh");
    list.insertBefore(node, list.firstChild);
    while (list.children.length > PER_COLUMN) { list.removeChild(list.lastElementChild); }
    var unread = column.querySelector(".unread");
    var count = parseInt(unread.getAttribute("data-count") || "0", 10) + 1;
    unread.setAttribute("data-count", String(count));
    unread.textContent = count > 99 ? "99+" : String(count);
    unread.classList.add("has-unread");
  });
})();
