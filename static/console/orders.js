/* The orders pages' small helpers (no library; every page still works without them):
   - a "select all" box in the orders table;
   - buttons with data-confirm ask first and then send confirm=1 (the server asks again without JavaScript);
   - Enter in the customer search searches instead of saving the order;
   - the order form's lines: "Add a line" clones the formset's template row; "remove" hides a row;
   - the new customer's fields are hidden while an existing customer is picked (the server ignores them then). */
(function () {
  "use strict";

  document.addEventListener("change", function (event) {
    if (event.target.matches("[data-select-all]")) {
      document.querySelectorAll("input[name=order_ids]").forEach(function (box) {
        box.checked = event.target.checked;
      });
    }
    if (event.target.matches("input[name=customer]")) showNewCustomer();
    if (event.target.matches(".line-row input[name$='-DELETE']")) {
      event.target.closest(".line-row").classList.toggle("removed", event.target.checked);
    }
  });

  document.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-confirm]");
    if (!button) return;
    if (!window.confirm(button.dataset.confirm)) {
      event.preventDefault();
      return;
    }
    var field = button.form && button.form.querySelector("input[name=confirm]");
    if (field) field.value = "1";
  });

  document.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && event.target.matches("[data-customer-search]")) {
      event.preventDefault();
      event.target.dispatchEvent(new Event("search"));
    }
  });

  function showNewCustomer() {
    var fields = document.getElementById("new-customer-fields");
    var picked = document.querySelector("input[name=customer]:checked");
    if (fields) fields.hidden = Boolean(picked && picked.value);
  }

  function addLine(button) {
    var table = document.getElementById("lines");
    var template = document.getElementById("line-template");
    var total = document.getElementById("id_" + table.dataset.prefix + "-TOTAL_FORMS");
    var index = parseInt(total.value, 10);
    var html = template.innerHTML.replace(/__prefix__/g, String(index));
    document.getElementById("line-rows").insertAdjacentHTML("beforeend", html);
    total.value = String(index + 1);
    var rows = document.querySelectorAll("#line-rows .line-row");
    var select = rows[rows.length - 1].querySelector("select");
    if (select) select.focus();
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-add-line]");
    if (button) addLine(button);
  });

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-add-line]").forEach(function (button) {
      button.hidden = false;
    });
    showNewCustomer();
  });
})();
