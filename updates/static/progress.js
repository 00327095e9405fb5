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
  // Rate and time left over the polls of the last 20 s, once they span 6 s: the server's are
  // averaged since the send began, and read low and long after a pause or a slow spell.
  var WINDOW = 20000, MIN_SPAN = 6000;
  var samples = [];

  function field(name) {
    return section.querySelector('[data-field="' + name + '"]');
  }

  function show(data) {
    stage.textContent = data.label;
    counts.forEach(function (name) {
      field(name).textContent = data[name].toLocaleString("en-GB");
    });
    field("percent").textContent = data.percent;
    var rate = recentRate(data);
    if (rate === null) {
      rate = data.rate;
      field("time_left").textContent = data.time_left === null ? "–" : data.time_left;
    } else {
      field("time_left").textContent = rate > 0 ? duration(Math.round(data.pending / rate)) : "–";
    }
    field("rate").textContent = rate === null ? "–" : rate.toFixed(1) + " messages/s";
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

  // Messages a second (sent or failed) over the window, or null until it spans enough.
  function recentRate(data) {
    if (data.stage !== "sending") {
      samples = [];
      return null;
    }
    var now = Date.now();
    samples.push({ at: now, count: data.sent + data.failed });
    while (samples.length > 2 && now - samples[1].at >= WINDOW) samples.shift();
    var span = now - samples[0].at;
    if (span < MIN_SPAN) return null;
    return ((samples[samples.length - 1].count - samples[0].count) * 1000) / span;
  }

  // A time left in plain words, as updates/console/progress.py's duration() puts it.
  function duration(seconds) {
    if (seconds < 120) return seconds + " s";
    if (seconds < 7200) return Math.round(seconds / 60) + " min";
    return Math.floor(seconds / 3600) + " h " + Math.floor((seconds % 3600) / 60) + " min";
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
