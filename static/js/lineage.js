// The lineage graph: a click on a node opens its page. Loaded after portal.js (defer), so
// by DOMContentLoaded portal.js has drawn the figure and the element is a Plotly graph div.
(function () {
  "use strict";

  function followClicks(element, attempts) {
    if (typeof element.on !== "function") {
      // Not drawn yet (Plotly still loading): try again shortly.
      if (attempts > 0) setTimeout(function () { followClicks(element, attempts - 1); }, 100);
      return;
    }
    element.on("plotly_click", function (event) {
      var point = event && event.points && event.points[0];
      var url = point && point.customdata;
      // Only the portal's own pages (a path, not "//host" or "javascript:").
      if (typeof url === "string" && /^\/(?!\/)/.test(url)) window.location.assign(url);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-lineage-graph] [data-plotly]").forEach(function (element) {
      followClicks(element, 50);
    });
  });
})();
