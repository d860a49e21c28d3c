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
  Array.prototype.forEach.call(heads, function (th, i) {
    var how = th.getAttribute("data-sort");
    if (!how) { return; }
    th.addEventListener("click", function () {
      var asc = th.getAttribute("aria-sort") !== "ascending";
      Array.prototype.forEach.call(heads, function (h) { h.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", asc ? "ascending" : "descending");
      var numeric = how === "num";
      rows.sort(function (a, b) {
        var x = cellValue(a, i, numeric), y = cellValue(b, i, numeric);
        var r = numeric ? x - y : (x < y ? -1 : x > y ? 1 : 0);
        return asc ? r : -r;
      });
      rows.forEach(function (r) { body.appendChild(r); });
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
  filter.addEventListener("input", apply);
  kind.addEventListener("change", apply);
  benign.addEventListener("change", apply);
  apply();
})();
