/* Messages that htmx answers carry: a control answered over htmx says what it did in its HX-Trigger header,
   {"orders-changed": {"message": "…", "level": "success"}} (django-htmx's trigger_client_event), instead of
   the message a redirect would show. This shows every such message in the page's messages area (#messages
   in base.html, a list inside a polite live region, so screen readers announce it), styled like the
   server's messages. Without JavaScript the controls redirect and the server shows the message itself.
   https://htmx.org/headers/hx-trigger/ */
(function () {
  "use strict";

  var HEADERS = ["HX-Trigger", "HX-Trigger-After-Swap", "HX-Trigger-After-Settle"];
  var LEVELS = ["debug", "info", "success", "warning", "error"];
  var KEPT = 5; // the most messages shown at once; the oldest goes first

  function carried(xhr) {
    var found = [];
    HEADERS.forEach(function (name) {
      var raw = xhr.getResponseHeader(name);
      if (!raw || raw.charAt(0) !== "{") return; // a bare event name carries no message
      var events;
      try {
        events = JSON.parse(raw);
      } catch (error) {
        return;
      }
      Object.keys(events).forEach(function (name) {
        var detail = events[name];
        if (detail && typeof detail.message === "string" && detail.message) found.push(detail);
      });
    });
    return found;
  }

  function show(detail) {
    var area = document.getElementById("messages");
    if (!area) return;
    var item = document.createElement("li");
    if (LEVELS.indexOf(detail.level) >= 0) item.className = detail.level;
    item.textContent = detail.message;
    area.appendChild(item);
    while (area.children.length > KEPT) area.removeChild(area.firstElementChild);
  }

  document.addEventListener("htmx:afterRequest", function (event) {
    var xhr = event.detail && event.detail.xhr;
    if (xhr) carried(xhr).forEach(show);
  });
})();
