// Switchboard console: live refresh of the conversation list, confirm before destructive forms.
// No framework and no build step; served from /admin/static/console.js.
(function () {
  "use strict";
  var POLL_MS = 3000;

  function poll(table) {
    var url = table.getAttribute("data-live");
    var body = table.querySelector("tbody");
    var status = document.getElementById("live-status");
    var timer = null;
    function tick() {
      if (document.hidden) { schedule(); return; }
      fetch(url, { credentials: "same-origin", headers: { "X-Requested-With": "XMLHttpRequest" } })
        .then(function (response) {
          if (response.status === 401) { window.location.reload(); return null; }
          if (!response.ok) { throw new Error(String(response.status)); }
          return response.text();
        })
        .then(function (html) {
          if (html !== null && html !== undefined && html !== body.innerHTML) {
            body.innerHTML = html;  // rendered and escaped by the server
          }
          if (status) { status.textContent = "Live: updated " + new Date().toLocaleTimeString(); }
          schedule();
        })
        .catch(function () {
          if (status) { status.textContent = "Live: connection lost, retrying"; }
          schedule();
        });
    }
    function schedule() { clearTimeout(timer); timer = setTimeout(tick, POLL_MS); }
    schedule();
  }

  function confirmForms() {
    document.querySelectorAll("form[data-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (!window.confirm(form.getAttribute("data-confirm"))) { event.preventDefault(); }
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("table[data-live]").forEach(poll);
    confirmForms();
  });
})();
