/* Small form behaviours, kept out of the markup so the Content-Security-Policy needs no inline script:
   - a submit button with data-ask="question" asks before its form is sent (cancel: nothing is sent);
     (orders.js's data-confirm also sends confirm=1 for the server's own question);
   - a select with data-autosubmit sends its form when it changes (the language switch).
   Without JavaScript the forms still work: the button submits at once, the select's form has a button. */
(function () {
  "use strict";

  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("[data-ask]") : null;
    if (button && !window.confirm(button.getAttribute("data-ask"))) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  }, true);

  document.addEventListener("change", function (event) {
    var select = event.target;
    if (select.matches && select.matches("select[data-autosubmit]") && select.form) select.form.submit();
  });
})();
