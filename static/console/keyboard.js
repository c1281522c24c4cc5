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

  /* The menu button of narrow screens (console.css shows it under 760 px): it opens and closes the menu,
     and Escape closes it again with the focus back on the button. Without JavaScript the menu stays open. */
  function menu(open) {
    var button = document.querySelector(".nav-toggle");
    if (!button) return;
    button.setAttribute("aria-expanded", open ? "true" : "false");
    document.body.classList.toggle("nav-open", open);
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest(".nav-toggle");
    if (button) menu(button.getAttribute("aria-expanded") !== "true");
  });

  document.addEventListener("keydown", function (event) {
    var button = document.querySelector(".nav-toggle");
    if (event.key !== "Escape" || !button || button.getAttribute("aria-expanded") !== "true") return;
    menu(false);
    button.focus();
  });

  document.addEventListener("DOMContentLoaded", function () {
    var button = document.querySelector(".nav-toggle");
    if (button) {
      button.hidden = false;
      document.body.classList.add("nav-collapsible");
    }
    mark();
  });
  document.addEventListener("htmx:afterSettle", soon);
  document.addEventListener("console:live-swapped", soon);
  window.addEventListener("resize", soon);
})();
