// The portal's only script: draws every [data-plotly] chart and keeps job progress bars moving.
(function () {
  "use strict";

  function drawCharts(root) {
    if (!window.Plotly) return;
    (root || document).querySelectorAll("[data-plotly]").forEach(function (element) {
      var source = document.getElementById(element.dataset.plotly);
      if (!source) return;
      var figure = JSON.parse(source.textContent);
      var layout = Object.assign({ autosize: true }, figure.layout || {});
      Plotly.newPlot(element, figure.data || [], layout, { responsive: true, displaylogo: false });
    });
  }

  var LABELS = { queued: "Queued", running: "Running", succeeded: "Succeeded", failed: "Failed" };
  var BADGES = { queued: "busy", running: "busy", succeeded: "ok", failed: "bad" };

  function watchJob(element) {
    var jobId = element.dataset.jobId;
    var bar = element.querySelector(".progress-bar");
    var progress = element.querySelector(".progress");
    var state = element.querySelector(".job-state");
    var error = element.querySelector(".job-error");
    var startedFinished = ["succeeded", "failed"].indexOf(element.dataset.jobState) >= 0;
    if (startedFinished) return;

    function poll() {
      fetch("/api/v1/jobs/" + jobId + "/", { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) { return response.ok ? response.json() : Promise.reject(response.status); })
        .then(function (job) {
          bar.style.width = job.progress + "%";
          progress.setAttribute("aria-valuenow", job.progress);
          state.innerHTML = '<span class="badge badge-' + BADGES[job.state] + '">' + LABELS[job.state] + "</span>";
          element.dataset.jobState = job.state;
          if (job.state === "succeeded" || job.state === "failed") {
            bar.classList.add(job.state === "succeeded" ? "ok" : "bad");
            if (job.error) { error.textContent = job.error; error.hidden = false; }
            if (element.dataset.reloadOnFinish === "true") setTimeout(function () { window.location.reload(); }, 600);
            return;
          }
          setTimeout(poll, 1000);
        })
        .catch(function () { setTimeout(poll, 3000); });
    }
    poll();
  }

  // The check editor's live preview: the form is posted as it changes and the server
  // answers with the preview's HTML (same rules as saving; nothing is stored).
  function livePreview(form) {
    var target = document.getElementById("check-preview");
    var timer = null;
    var latest = 0;
    function refresh() {
      var ticket = ++latest;
      var data = new FormData(form);
      fetch(form.dataset.previewUrl, {
        method: "POST",
        body: data,
        credentials: "same-origin",
        headers: { "X-CSRFToken": data.get("csrfmiddlewaretoken") },
      })
        .then(function (response) { return response.ok ? response.text() : Promise.reject(response.status); })
        .then(function (html) {
          if (ticket !== latest) return; // an older answer arriving late
          target.innerHTML = html;
          drawCharts(target);
        })
        .catch(function () {});
    }
    function schedule() { clearTimeout(timer); timer = setTimeout(refresh, 500); }
    form.addEventListener("input", schedule);
    form.addEventListener("change", schedule);
  }

  document.addEventListener("DOMContentLoaded", function () {
    drawCharts();
    var checkForm = document.getElementById("check-form");
    if (checkForm && checkForm.dataset.previewUrl) livePreview(checkForm);
    document.querySelectorAll("[data-job-id]").forEach(watchJob);
  });
})();
