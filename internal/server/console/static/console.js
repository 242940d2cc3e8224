// vtsoar console: tabs, auto-submitting pickers, and refreshing an event while it is
// being enriched. Everything works without it; it only saves clicks.
"use strict";
document.documentElement.classList.add("js");

function setupTabs(root) {
  var tabs = root.querySelectorAll("[role=tab]");
  function show(id) {
    tabs.forEach(function (t) {
      var on = t.dataset.tab === id;
      t.setAttribute("aria-selected", on ? "true" : "false");
      var panel = document.getElementById(t.dataset.tab);
      if (panel) panel.hidden = !on;
    });
  }
  tabs.forEach(function (t) {
    t.addEventListener("click", function () { show(t.dataset.tab); });
  });
  if (tabs.length) show(tabs[0].dataset.tab);
}

function pollEvent() {
  var ev = document.getElementById("event");
  if (!ev || !ev.dataset.poll) return;
  setTimeout(function () {
    fetch(location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.getElementById("event");
        if (fresh) ev.replaceWith(fresh);
        pollEvent();
      })
      .catch(function () { setTimeout(pollEvent, 5000); });
  }, 1000);
}

document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll(".tabs").forEach(function (t) { setupTabs(t.parentElement); });
  document.querySelectorAll("select[data-autosubmit]").forEach(function (s) {
    s.addEventListener("change", function () { s.form.submit(); });
  });
  pollEvent();
});
