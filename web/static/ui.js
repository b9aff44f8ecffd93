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

  // Show the like and boost state the server returned after an action.
  function showActionState(article, state) {
    ["favourite", "reblog"].forEach(function (kind) {
      var form = article.querySelector('form[data-status-action="' + kind + '"]');
      if (!form || !state[kind]) {
        return;
      }
      var button = form.querySelector('button[type="submit"]');
      form.setAttribute("action", state[kind].action);
      button.textContent = state[kind].label;
      button.setAttribute("aria-pressed", state[kind].pressed ? "true" : "false");
    });
    var counts = article.querySelector(".counts");
    if (counts) {
      counts.textContent = state.counts;
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

    // Like and boost: send the form in the background and update the post in
    // place, so the page keeps its scroll position. Without this script the
    // server redirects back to the post's anchor. A failed request falls back
    // to the plain form post, which shows the error page.
    document.querySelectorAll("form[data-status-action]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (!window.fetch || !window.FormData) {
          return;
        }
        event.preventDefault();
        var button = form.querySelector('button[type="submit"]');
        button.disabled = true;
        fetch(form.action, {
          method: "POST",
          body: new FormData(form),
          headers: { Accept: "application/json" },
          credentials: "same-origin"
        })
          .then(function (response) {
            if (!response.ok) {
              throw new Error("status " + response.status);
            }
            return response.json();
          })
          .then(function (state) {
            button.disabled = false;
            showActionState(form.closest("article"), state);
          })
          .catch(function () {
            button.disabled = false;
            form.submit();
          });
      });
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
