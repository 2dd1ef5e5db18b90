// Draws the charts of a page: each <script type="application/json" data-cauce-chart> holds a
// Vega-Lite spec (its text) and vega-embed's options (the attribute), and the element just
// before it is where the chart goes. Written by cauce.charts.html(..., csp=True), so that a
// page needs no inline script and Vega compiles nothing with Function() (its options ask for
// the expression interpreter).
(function () {
  "use strict";

  function draw(root) {
    root.querySelectorAll('script[type="application/json"][data-cauce-chart]').forEach(function (spec) {
      var target = spec.previousElementSibling;
      if (!target || spec.dataset.drawn === "yes" || !window.vegaEmbed) { return; }
      spec.dataset.drawn = "yes";
      var options = JSON.parse(spec.dataset.cauceChart);
      window.vegaEmbed(target, JSON.parse(spec.textContent), options).catch(function (err) {
        target.textContent = "chart error: " + err.message;
      });
    });
  }

  draw(document);
  // charts in parts of a page that htmx swaps in draw too
  document.addEventListener("htmx:load", function (event) { draw(event.target); });
})();
