// The attendance page: filter the participants by name as one types, without asking the server, and say so
// when a tap could not be saved (htmx leaves the row as it was). The counts' refresh (#attendance-live) saves
// nothing: when one fails the next one simply tries again, so it does not raise the alarm.
(function () {
  function filterRows() {
    const search = document.getElementById("attendance-search");
    if (!search) return;
    const query = search.value.trim().toLowerCase();
    document.querySelectorAll("#attendance-list [data-name]").forEach(function (row) {
      row.hidden = query !== "" && !row.dataset.name.includes(query);
    });
  }
  document.addEventListener("input", function (event) {
    if (event.target.id === "attendance-search") filterRows();
  });
  document.addEventListener("htmx:afterSettle", filterRows);
  document.addEventListener("htmx:afterRequest", function (event) {
    if (event.detail.elt && event.detail.elt.id === "attendance-live") return;
    const failed = document.getElementById("attendance-failed");
    if (failed) failed.hidden = event.detail.successful;
  });
})();
