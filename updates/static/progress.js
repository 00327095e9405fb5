// A digest's page while it goes out: polls its progress every two seconds and shows it (the
// bar, the counts, rate and time left), offers only the actions that still apply, and stops
// once the send has ended, leaving the final state on the page without a reload.
(function () {
  "use strict";
  var section = document.getElementById("progress");
  if (!section || !window.fetch) return;
  var bar = document.getElementById("progress-bar");
  var stage = document.getElementById("stage");
  var failuresNote = document.getElementById("failures-note");
  var counts = ["recipients", "sent", "failed", "skipped", "already_sent", "pending"];
  var INTERVAL = 2000;

  function field(name) {
    return section.querySelector('[data-field="' + name + '"]');
  }

  function show(data) {
    stage.textContent = data.label;
    counts.forEach(function (name) {
      field(name).textContent = data[name].toLocaleString("en-GB");
    });
    field("percent").textContent = data.percent;
    field("rate").textContent = data.rate === null ? "–" : data.rate.toFixed(1) + " messages/s";
    field("time_left").textContent = data.time_left === null ? "–" : data.time_left;
    if (data.recipients) {
      bar.max = data.recipients;
      bar.value = data.done;
    }
    bar.textContent = data.percent + " %";
    section.hidden = data.stage === "scheduled";
    // Each action names the stages it applies to; the others are hidden.
    document.querySelectorAll("[data-states]").forEach(function (element) {
      element.hidden = element.dataset.states.split(" ").indexOf(data.stage) === -1;
    });
    if (failuresNote) failuresNote.hidden = !(data.final && data.failed > 0);
  }

  function refresh() {
    fetch(section.dataset.url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) throw new Error("progress answered " + response.status);
        return response.json();
      })
      .then(function (data) {
        show(data);
        if (!data.final) setTimeout(refresh, wait(data.stage));
      })
      .catch(function () {
        setTimeout(refresh, INTERVAL * 5); // a network blip: try again, less often
      });
  }

  // A digest scheduled for later is checked less often; it may be days away.
  function wait(stage) {
    return stage === "scheduled" ? INTERVAL * 15 : INTERVAL;
  }

  setTimeout(refresh, wait(section.dataset.stage));
})();
