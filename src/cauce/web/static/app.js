// Small behaviours of cauce's UI pages; everything else is server-rendered HTML and htmx.
(function () {
  "use strict";

  // Follow a running run's log: server-sent events append each new line (as text, never HTML).
  function followLog() {
    var box = document.getElementById("run-log");
    if (!box || box.dataset.follow !== "yes" || !window.EventSource) { return; }
    var state = document.getElementById("follow-state");
    var url = box.dataset.events + "?after=" + encodeURIComponent(box.dataset.after);
    var source = new EventSource(url);
    source.addEventListener("line", function (event) {
      var line = JSON.parse(event.data);
      var span = document.createElement("span");
      span.className = "lvl-" + String(line.level).toLowerCase();
      span.dataset.ts = line.ts;  // when it was logged, for a look at how far behind we are
      span.textContent = line.time + " " + line.level + ": " + line.message;
      var atBottom = box.scrollTop + box.clientHeight >= box.scrollHeight - 4;
      box.appendChild(span);
      box.appendChild(document.createTextNode("\n"));
      box.dataset.after = line.id;
      if (atBottom) { box.scrollTop = box.scrollHeight; }
    });
    source.addEventListener("end", function (event) {
      source.close();
      if (state) { state.textContent = "the run ended: " + JSON.parse(event.data); }
      var status = document.getElementById("run-status");
      if (status && window.htmx) {
        htmx.ajax("GET", window.location.pathname, {target: status, swap: "innerHTML"});
      }
    });
    source.onerror = function () {
      if (state) { state.textContent = "connection lost; reload the page to follow again"; }
      source.close();
    };
  }

  // "select all" boxes: <input type=checkbox data-check-all="name"> ticks every box of that name.
  document.addEventListener("change", function (event) {
    var all = event.target.closest("[data-check-all]");
    if (!all) { return; }
    document.querySelectorAll('input[type=checkbox][name="' + all.dataset.checkAll + '"]')
      .forEach(function (box) { box.checked = all.checked; });
  });

  // A part that refreshes itself (htmx) and whose refresh failed kept showing what it had, as
  // if nothing were wrong: say so above the page, with the UI's own line, until one succeeds.
  function refreshProblem(text) {
    var shown = document.getElementById("refresh-problem");
    if (!text) {
      if (shown) { shown.remove(); }
      return;
    }
    if (!shown) {
      shown = document.createElement("p");
      shown.id = "refresh-problem";
      shown.className = "flash bad";
      var main = document.querySelector("main");
      if (!main) { return; }
      main.insertBefore(shown, main.firstChild);
    }
    shown.textContent = text;
  }
  document.addEventListener("htmx:responseError", function (event) {
    var xhr = event.detail.xhr;
    var said = new DOMParser().parseFromString(xhr.responseText || "", "text/html")
      .querySelector("p.error");
    refreshProblem("this part of the page could not be refreshed (" + xhr.status + "): " +
      (said ? said.textContent : (xhr.responseText || xhr.statusText).slice(0, 300)) +
      "; what it shows may be out of date");
  });
  document.addEventListener("htmx:sendError", function () {
    refreshProblem("the UI did not answer (stopped, or the network is down); what this page " +
      "shows may be out of date");
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    if (event.detail.successful) { refreshProblem(null); }
  });

  // <a data-back>: the browser's Back (a javascript: address would be refused by the policy);
  // without a page to go back to, the link's own address.
  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("a[data-back]");
    if (link && window.history.length > 1) {
      event.preventDefault();
      window.history.back();
    }
  });

  // <select data-autosubmit>: choosing an option submits its form.
  document.addEventListener("change", function (event) {
    if (event.target.matches && event.target.matches("select[data-autosubmit]")) {
      event.target.form.submit();
    }
  });

  // Forms, or their buttons, that ask first: <form data-confirm="..."> or
  // <button data-confirm="..."> (the button's question for what that button does).
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var button = event.submitter;
    var ask = (button && button.dataset && button.dataset.confirm) ||
      (form.dataset && form.dataset.confirm);
    if (ask && !window.confirm(ask)) {
      event.preventDefault();
    }
  }, true);

  followLog();
})();

// Partition grids: shift-click (or alt-click) a cell to set the backfill range: first, then last.
document.addEventListener("click", function (event) {
  var cell = event.target.closest("table.grid td[data-key]");
  if (!cell || !(event.shiftKey || event.altKey)) { return; }
  event.preventDefault();
  var section = cell.closest("section.partition-job");
  var form = section && section.querySelector("form.backfill");
  if (!form) { return; }
  var key = cell.dataset.key;
  var picking = form.dataset.picking === "last" ? "last" : "first";
  form.elements[picking].value = key;
  if (picking === "last" && form.elements.first.value > key) {
    form.elements.last.value = form.elements.first.value;
    form.elements.first.value = key;
  }
  form.dataset.picking = picking === "first" ? "last" : "first";
  section.querySelectorAll("td.sel").forEach(function (td) { td.classList.remove("sel"); });
  section.querySelectorAll("td[data-key]").forEach(function (td) {
    if (td.dataset.key >= form.elements.first.value && td.dataset.key <= form.elements.last.value) {
      td.classList.add("sel");
    }
  });
});
