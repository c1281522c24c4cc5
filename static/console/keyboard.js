/* Keyboard access the markup cannot give by itself: a table that scrolls inside its own box (narrow screens,
   console.css) takes the focus, so its hidden columns can be scrolled to with the arrow keys
   (https://dequeuniversity.com/rules/axe/4.10/scrollable-region-focusable). Re-checked after htmx swaps
   and when the window changes size. */
(function () {
  "use strict";

  function mark() {
    document.querySelectorAll("main table").forEach(function (table) {
      var scrolls = table.scrollWidth > table.clientWidth + 1;
      if (scrolls && !table.hasAttribute("tabindex")) table.setAttribute("tabindex", "0");
      if (!scrolls && table.getAttribute("tabindex") === "0") table.removeAttribute("tabindex");
    });
  }

  var pending = null;
  function soon() {
    window.clearTimeout(pending);
    pending = window.setTimeout(mark, 100);
  }

  document.addEventListener("DOMContentLoaded", mark);
  document.addEventListener("htmx:afterSettle", soon);
  document.addEventListener("console:live-swapped", soon);
  window.addEventListener("resize", soon);
})();
