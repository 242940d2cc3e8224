// vtsoar console: tabs, auto-submitting pickers, and refreshing an event while it is
// being enriched or a run while it goes on. Everything works without it; it only saves clicks.
"use strict";
document.documentElement.classList.add("js");

function setupTabs(root, selected) {
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
  var keep = Array.prototype.some.call(tabs, function (t) { return t.dataset.tab === selected; });
  if (tabs.length) show(keep ? selected : tabs[0].dataset.tab);
}

// poll refreshes in place, every second, the element of the page that says it
// changes (data-poll: an event being enriched, a run going on), until it says it no
// longer does; the tab shown stays shown.
function poll() {
  var el = document.querySelector("[data-poll='1']");
  if (!el || !el.id) return;
  setTimeout(function () {
    fetch(location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.getElementById(el.id);
        if (fresh) {
          var tab = el.querySelector("[role=tab][aria-selected=true]");
          el.replaceWith(fresh);
          fresh.querySelectorAll(".tabs").forEach(function (t) { setupTabs(t.parentElement, tab && tab.dataset.tab); });
        }
        poll();
      })
      .catch(function () { setTimeout(poll, 5000); });
  }, 1000);
}

document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll(".tabs").forEach(function (t) { setupTabs(t.parentElement); });
  document.querySelectorAll("select[data-autosubmit]").forEach(function (s) {
    s.addEventListener("change", function () { s.form.submit(); });
  });
  poll();
});
