// Small enhancements for the Pedagogue web interface. Every page works
// without this script: forms post and redirect as plain HTML.
(function () {
  "use strict";
  document.documentElement.classList.add("has-js");

  function browserZone() {
    try {
      return Intl.DateTimeFormat().resolvedOptions().timeZone || "";
    } catch (error) {
      return "";
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    // Sign-up: send the browser's zone so times show in it from the start.
    document.querySelectorAll("input[data-detect-time-zone]").forEach(function (input) {
      if (!input.value) {
        input.value = browserZone();
      }
    });

    // Settings: choose the browser's zone in the time zone list.
    document.querySelectorAll("button[data-use-browser-zone]").forEach(function (button) {
      button.addEventListener("click", function () {
        var select = button.form.querySelector("select[data-time-zone-select]");
        var zone = browserZone();
        if (select && zone && select.querySelector('option[value="' + zone + '"]')) {
          select.value = zone;
          select.focus();
        }
      });
    });

    // Compose: a live count of the characters left.
    document.querySelectorAll("[data-counter-for]").forEach(function (output) {
      var field = document.getElementById(output.getAttribute("data-counter-for"));
      if (!field) {
        return;
      }
      var limit = parseInt(field.getAttribute("maxlength"), 10) || 5000;
      var text = output.getAttribute("data-counter-text") || "{count}";
      var update = function () {
        output.textContent = text.replace("{count}", String(limit - field.value.length));
      };
      field.addEventListener("input", update);
    });

    // Deleting needs a confirmation. Without this script the server shows a
    // confirmation page, and the "confirmed" field added here skips that page.
    document.querySelectorAll("form[data-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (!window.confirm(form.getAttribute("data-confirm"))) {
          event.preventDefault();
          return;
        }
        if (!form.querySelector('input[name="confirmed"]')) {
          var confirmed = document.createElement("input");
          confirmed.type = "hidden";
          confirmed.name = "confirmed";
          confirmed.value = "yes";
          form.appendChild(confirmed);
        }
      });
    });
  });
})();
