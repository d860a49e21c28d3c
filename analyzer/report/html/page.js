// finack's HTML report: the tooltip of the charts, the sorting and filtering of the
// incident table. Nothing is fetched; the page works without it (the charts' SVG
// <title>s still show values on hover).
(function () {
  "use strict";
  var tip = document.getElementById("tip");
  document.addEventListener("mousemove", function (e) {
    var t = e.target.closest ? e.target.closest("[data-tip]") : null;
    if (!t) { tip.style.display = "none"; return; }
    tip.textContent = t.getAttribute("data-tip");
    tip.style.display = "block";
    tip.style.left = Math.min(e.clientX + 14, window.innerWidth - tip.offsetWidth - 8) + "px";
    tip.style.top = (e.clientY + 14) + "px";
  });

  var table = document.getElementById("incident-table");
  if (!table) { return; }
  var body = table.tBodies[0];
  var rows = Array.prototype.slice.call(body.rows);
  var filter = document.getElementById("incident-filter");
  var kind = document.getElementById("incident-kind");
  var benign = document.getElementById("incident-benign");
  var count = document.getElementById("incident-count");

  function cellValue(row, i, numeric) {
    var c = row.cells[i];
    var v = c.hasAttribute("data-v") ? c.getAttribute("data-v") : c.textContent;
    return numeric ? (parseFloat(v) || 0) : v;
  }

  var heads = table.tHead.rows[0].cells;
  var sortBy = -1, sortAsc = true;

  function sortRows(i, asc) {
    var numeric = heads[i].getAttribute("data-sort") === "num";
    Array.prototype.forEach.call(heads, function (h) { h.removeAttribute("aria-sort"); });
    heads[i].setAttribute("aria-sort", asc ? "ascending" : "descending");
    rows.sort(function (a, b) {
      var x = cellValue(a, i, numeric), y = cellValue(b, i, numeric);
      var r = numeric ? x - y : (x < y ? -1 : x > y ? 1 : 0);
      return asc ? r : -r;
    });
    rows.forEach(function (r) { body.appendChild(r); });
    sortBy = i;
    sortAsc = asc;
  }

  // The table's state lives in the address's fragment (#q=...&kind=...&benign=0&
  // sort=frames&dir=desc), so that a link opens the page filtered and sorted.
  function save() {
    var p = new URLSearchParams();
    if (filter.value) { p.set("q", filter.value); }
    if (kind.value) { p.set("kind", kind.value); }
    if (!benign.checked) { p.set("benign", "0"); }
    if (sortBy >= 0) {
      p.set("sort", heads[sortBy].textContent);
      p.set("dir", sortAsc ? "asc" : "desc");
    }
    try {
      history.replaceState(null, "", p.toString() ? "#" + p.toString() : location.pathname + location.search);
    } catch (e) {
      // A page opened where the address cannot change (some viewers of files):
      // the table works, the address does not follow it.
    }
  }

  Array.prototype.forEach.call(heads, function (th, i) {
    if (!th.getAttribute("data-sort")) { return; }
    th.addEventListener("click", function () {
      sortRows(i, sortBy !== i || !sortAsc);
      save();
    });
  });

  function apply() {
    var q = filter.value.trim().toLowerCase();
    var k = kind.value;
    var shown = 0;
    rows.forEach(function (r) {
      var ok = (!q || r.textContent.toLowerCase().indexOf(q) >= 0) &&
        (!k || (" " + r.getAttribute("data-kinds") + " ").indexOf(" " + k + " ") >= 0) &&
        (benign.checked || !r.hasAttribute("data-benign"));
      r.hidden = !ok;
      if (ok) { shown++; }
    });
    count.textContent = shown + " of " + rows.length + " shown";
  }
  function changed() { apply(); save(); }
  filter.addEventListener("input", changed);
  kind.addEventListener("change", changed);
  benign.addEventListener("change", changed);

  var start = new URLSearchParams(location.hash.replace(/^#/, ""));
  if (start.has("q")) { filter.value = start.get("q"); }
  if (start.has("kind")) { kind.value = start.get("kind"); }
  if (start.get("benign") === "0") { benign.checked = false; }
  if (start.has("sort")) {
    Array.prototype.forEach.call(heads, function (th, i) {
      if (th.getAttribute("data-sort") && th.textContent === start.get("sort")) {
        sortRows(i, start.get("dir") !== "desc");
      }
    });
  }
  apply();
})();
