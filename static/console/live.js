/* Live screens (console/web/live.py): a page with <meta name="console-live" content="VERSION"> asks for its
   own address every 2 s with If-None-Match; 304 means nothing changed. Otherwise the answer is the page as it
   is now: the parts named by the meta are swapped where they differ, and quietly highlighted.
     data-regions="#a #b"   elements swapped whole when they differ (matched by id);
     data-list="#orders-table" data-row-key="data-order-id"   a list whose rows are swapped one by one (the
                            ids on screen go in X-Console-Live-Ids); when the rows themselves change, the list.
   What the user is doing survives a swap: ticked boxes, typed values and the focus are carried over.
   No poll while the tab is hidden, while a request is out, or while a part polls itself (data-polling="1"). */
(function () {
  "use strict";

  var INTERVAL = 2000;
  var meta = document.querySelector('meta[name="console-live"]');
  if (!meta || !window.fetch || !window.DOMParser) return;
  var version = meta.content;
  var regions = (meta.dataset.regions || "").split(/\s+/).filter(Boolean);
  var listSelector = meta.dataset.list || "";
  var rowKey = meta.dataset.rowKey || "";
  var timer = null;
  var busy = false;
  var stopped = false;

  function rowsOf(list) {
    return rowKey ? Array.prototype.slice.call(list.querySelectorAll("[" + rowKey + "]")) : [];
  }

  function keysOf(rows) {
    return rows.map(function (row) { return row.getAttribute(rowKey); });
  }

  /* The markup that matters: not the per-render CSRF token, not our own highlight. */
  function shape(element) {
    var copy = element.cloneNode(true);
    copy.querySelectorAll("input[name=csrfmiddlewaretoken]").forEach(function (field) {
      field.removeAttribute("value");
    });
    [copy].concat(Array.prototype.slice.call(copy.querySelectorAll(".live-changed"))).forEach(function (node) {
      node.classList.remove("live-changed");
      if (node.getAttribute("class") === "") node.removeAttribute("class");
    });
    return copy.outerHTML;
  }

  function twinOf(field, root) {
    if (field.id) return root.querySelector("#" + CSS.escape(field.id));
    if (!field.name) return null;
    var selector = "[name='" + CSS.escape(field.name) + "']";
    if (field.type === "checkbox" || field.type === "radio") selector += "[value='" + CSS.escape(field.value) + "']";
    return root.querySelector(selector);
  }

  function dirty(field) {
    if (field.type === "checkbox" || field.type === "radio") return field.checked !== field.defaultChecked;
    if (field.tagName === "SELECT") {
      return Array.prototype.some.call(field.options, function (o) { return o.selected !== o.defaultSelected; });
    }
    return field.value !== field.defaultValue;
  }

  /* Carry what the user ticked or typed in `old` over to its replacement `fresh`. */
  function carry(old, fresh) {
    old.querySelectorAll("input, select, textarea").forEach(function (field) {
      if (field.type === "hidden" || !dirty(field)) return;
      var twin = twinOf(field, fresh);
      if (!twin) return;
      if (field.type === "checkbox" || field.type === "radio") twin.checked = field.checked;
      else twin.value = field.value;
    });
  }

  var FOCUSABLE = "a[href], button, input, select, textarea, [tabindex]";

  function replace(old, incoming) {
    var fresh = document.importNode(incoming, true);
    var focusables = Array.prototype.slice.call(old.querySelectorAll(FOCUSABLE));
    var focused = focusables.indexOf(document.activeElement);
    carry(old, fresh);
    old.replaceWith(fresh);
    if (window.htmx) window.htmx.process(fresh);
    if (focused >= 0) {
      var again = fresh.querySelectorAll(FOCUSABLE)[focused];
      if (again) again.focus({ preventScroll: true });
    }
    return fresh;
  }

  function flash(element) {
    element.classList.add("live-changed");
    window.setTimeout(function () {
      element.classList.remove("live-changed");
      if (element.getAttribute("class") === "") element.removeAttribute("class");
    }, 3000);
  }

  function swapIfChanged(old, incoming) {
    if (!old || !incoming || shape(old) === shape(incoming)) return;
    flash(replace(old, incoming));
  }

  function applyList(doc) {
    var old = document.querySelector(listSelector);
    var incoming = doc.querySelector(listSelector);
    if (!old || !incoming) return;
    var oldRows = rowsOf(old);
    var newRows = rowsOf(incoming);
    if (keysOf(oldRows).join() === keysOf(newRows).join()) {
      newRows.forEach(function (row, index) { swapIfChanged(oldRows[index], row); });
      return;
    }
    var before = {};
    oldRows.forEach(function (row) { before[row.getAttribute(rowKey)] = shape(row); });
    rowsOf(replace(old, incoming)).forEach(function (row) {
      if (before[row.getAttribute(rowKey)] !== shape(row)) flash(row);
    });
  }

  function apply(html) {
    var doc = new DOMParser().parseFromString(html, "text/html");
    regions.forEach(function (selector) {
      swapIfChanged(document.querySelector(selector), doc.querySelector(selector));
    });
    if (listSelector) applyList(doc);
    document.dispatchEvent(new CustomEvent("console:live-swapped"));
  }

  function schedule() {
    window.clearTimeout(timer);
    if (!stopped && !document.hidden) timer = window.setTimeout(poll, INTERVAL);
  }

  function poll() {
    if (busy || stopped || document.hidden) return;
    if (document.querySelector("[data-polling='1']")) { schedule(); return; }
    var headers = { "X-Console-Live": "1", "If-None-Match": '"' + version + '"' };
    var list = listSelector && document.querySelector(listSelector);
    if (list) headers["X-Console-Live-Ids"] = keysOf(rowsOf(list)).join(",");
    busy = true;
    window.fetch(window.location.href, { headers: headers, cache: "no-store", credentials: "same-origin", redirect: "manual" })
      .then(function (response) {
        if (response.status === 304) return null;
        var next = response.headers.get("ETag");
        if (response.status !== 200 || !next) { stopped = true; return null; }  // signed out, gone: stop
        return response.text().then(function (html) {
          apply(html);
          version = next.replace(/"/g, "");
        });
      })
      .catch(function () { return null; })  // offline for a moment: try again at the next tick
      .then(function () { busy = false; schedule(); });
  }

  document.addEventListener("visibilitychange", function () {
    if (document.hidden) window.clearTimeout(timer);
    else poll();
  });
  schedule();
})();
