// Refreshes an import's progress every second; reloads the page for the report once it ends.
(function () {
  var box = document.getElementById("import");
  if (!box || !window.fetch) return;
  var bar = document.getElementById("import-bar");
  var reload = box.querySelector("[data-reload]");
  var states = { queued: "Waiting for a worker to start it.", running: "Importing…" };
  if (reload) reload.hidden = true;
  function show(data) {
    ["processed", "total", "imported", "unchanged", "skipped_total"].forEach(function (key) {
      var cell = box.querySelector('[data-field="' + key + '"]');
      if (cell) cell.textContent = data[key];
    });
    var text = box.querySelector('[data-field="state-text"]');
    if (text && states[data.state]) text.textContent = states[data.state];
    bar.max = data.total || 1;
    bar.value = data.processed;
  }
  function refresh() {
    fetch(box.dataset.url, { credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) throw new Error(response.status);
        return response.json();
      })
      .then(function (data) {
        show(data);
        if (data.state === "done" || data.state === "failed") window.location.reload();
        else setTimeout(refresh, 1000);
      })
      .catch(function () {
        if (reload) reload.hidden = false;
      });
  }
  if (box.dataset.state === "queued" || box.dataset.state === "running") setTimeout(refresh, 1000);
})();
