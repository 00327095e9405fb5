// Refreshes a digest's progress table every two seconds while it is being sent.
(function () {
  var table = document.getElementById("progress");
  if (!table || !window.fetch) return;
  function refresh() {
    fetch(table.dataset.url, { credentials: "same-origin" })
      .then(function (response) { return response.json(); })
      .then(function (data) {
        Object.keys(data).forEach(function (key) {
          var cell = table.querySelector('[data-field="' + key + '"]');
          if (cell) cell.textContent = data[key];
        });
        if (data.status === "sending" || data.status === "scheduled") setTimeout(refresh, 2000);
      });
  }
  setTimeout(refresh, 2000);
})();
