// Care desk: keyboard shortcuts, presence pings, canned responses, live queues (server-sent
// events, with a periodic refresh while the stream is down).
// No inline script (CSP script-src 'self'); text from the server is inserted as text, never HTML.
(function () {
  "use strict";

  function csrfToken() {
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    if (input) return input.value;
    var match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  function typingInField(event) {
    var target = event.target;
    var tag = target && target.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || (target && target.isContentEditable);
  }

  // --- queue page -----------------------------------------------------------------------------
  var queue = document.getElementById("queue");
  var selected = -1;
  var queueEtag = "";

  function rows() { return Array.prototype.slice.call(document.querySelectorAll("#queue-rows tr.conv-row")); }

  function select(index) {
    var all = rows();
    if (!all.length) return;
    selected = Math.max(0, Math.min(index, all.length - 1));
    all.forEach(function (row, i) { row.classList.toggle("selected", i === selected); });
    all[selected].focus();
  }

  function selectedRow() { var all = rows(); return selected >= 0 ? all[selected] : null; }

  // Replace the rows, keeping the keyboard selection on the same conversation.
  function replaceRows(html) {
    var current = selectedRow();
    var keep = current ? current.dataset.id : null;
    var body = document.getElementById("queue-rows");
    var template = document.createElement("template");
    template.innerHTML = html;  // server-rendered and escaped by Django templates
    body.replaceChildren(template.content);
    selected = -1;
    if (keep) {
      var all = rows();
      for (var i = 0; i < all.length; i++) {
        if (all[i].dataset.id === keep) { select(i); break; }
      }
    }
  }

  function refresh() {
    var url = queue.dataset.partialUrl;
    url += (url.indexOf("?") >= 0 ? "&" : "?") + "partial=1";
    var headers = queueEtag ? { "If-None-Match": queueEtag } : {};
    fetch(url, { credentials: "same-origin", headers: headers, cache: "no-store" }).then(function (response) {
      if (response.status !== 200) return null;  // 304: nothing changed
      queueEtag = response.headers.get("ETag") || "";
      return response.text();
    }).then(function (html) {
      if (html !== null) replaceRows(html);
    }).catch(function () {});
  }

  if (queue) {
    queue.addEventListener("click", function (event) {
      var row = event.target.closest("tr.conv-row");
      if (row && !event.target.closest("form, a, button")) window.location.href = row.dataset.href;
    });
    // Live: the server sends the rows again whenever a conversation of the workspace changes.
    var live = false;
    var liveStatus = document.getElementById("queue-live");
    function showLive(on) {
      live = on;
      queue.dataset.live = on ? "true" : "false";
    }
    if (window.EventSource && queue.dataset.eventsUrl) {
      var stream = window.veilleOpenStream(queue.dataset.eventsUrl, liveStatus, showLive);
      stream.addEventListener("rows", function (event) {
        var data = JSON.parse(event.data);
        replaceRows(data.html);
        Object.keys(data.counts || {}).forEach(function (key) {
          var count = document.querySelector(".tabs [data-count='" + key + "']");
          if (count) count.textContent = String(data.counts[key]);
        });
      });
    }
    // Fallback while the stream is down (or unsupported): the old periodic refresh.
    window.setInterval(function () {
      if (live || document.hidden) return;
      refresh();
    }, 15000);
  }

  // --- conversation page ----------------------------------------------------------------------
  var conversation = document.getElementById("conversation");
  var replyText = document.getElementById("reply-text");
  var typingUntil = 0;
  var seenVersion = "";

  function renderViewers(list) {
    var box = document.getElementById("viewers");
    if (!box) return;
    if (!list.length) { box.textContent = ""; return; }
    var parts = list.map(function (v) { return v.username + (v.typing ? " (" + box.dataset.typing + ")" : ""); });
    box.textContent = box.dataset.viewing + " " + parts.join(", ");
  }

  function ping() {
    if (!conversation || document.hidden) return;
    fetch(conversation.dataset.pingUrl, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
      body: JSON.stringify({ typing: Date.now() < typingUntil })
    }).then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) {
        if (!data) return;
        renderViewers(data.viewers);
        var notice = document.getElementById("fresh-activity");
        if (notice && data.version && seenVersion && data.version !== seenVersion) notice.hidden = false;
        if (data.version && !seenVersion) seenVersion = data.version;
      })
      .catch(function () {});
  }

  if (conversation) {
    ping();
    window.setInterval(ping, 10000);
    if (replyText) {
      var lastTypingPing = 0;
      replyText.addEventListener("input", function () {
        typingUntil = Date.now() + 6000;
        if (Date.now() - lastTypingPing > 4000) { lastTypingPing = Date.now(); ping(); }
      });
    }
    var canned = document.getElementById("canned-select");
    if (canned && replyText) {
      canned.addEventListener("change", function () {
        if (!canned.value) return;
        var url = conversation.dataset.cannedUrl.replace(/\/0\/$/, "/" + encodeURIComponent(canned.value) + "/");
        fetch(url, { credentials: "same-origin" }).then(function (r) { return r.ok ? r.json() : null; }).then(function (data) {
          if (!data) return;
          replyText.value = replyText.value ? replyText.value + "\n" + data.text : data.text;
          replyText.focus();
          canned.value = "";
        }).catch(function () {});
      });
    }
  }

  function submit(selector) {
    var form = document.querySelector(selector);
    if (form) { form.requestSubmit ? form.requestSubmit() : form.submit(); return true; }
    return false;
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (typingInField(event)) {
      if (event.key === "Escape") event.target.blur();
      return;
    }
    var key = event.key;
    if (key === "/") {
      var search = document.getElementById("queue-search") || document.querySelector(".search-inline input[name=q]");
      if (search) { event.preventDefault(); search.focus(); search.select(); }
    } else if (queue && (key === "j" || key === "k")) {
      event.preventDefault();
      select(selected + (key === "j" ? 1 : -1));
    } else if (queue && (key === "Enter" || key === "o")) {
      var row = selectedRow();
      if (row) window.location.href = row.dataset.href;
    } else if (key === "a") {
      if (queue) {
        var current = selectedRow();
        var form = current && current.querySelector("form.claim-form");
        if (form) { form.requestSubmit ? form.requestSubmit() : form.submit(); }
      } else {
        submit("#claim-form");
      }
    } else if (key === "r" && replyText) {
      event.preventDefault();
      replyText.focus();
    } else if (key === "e" && conversation) {
      submit("#status-resolved");
    }
  });
})();
