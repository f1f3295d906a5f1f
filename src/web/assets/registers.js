// sitegate: keeps the live registers table of /installer/tools/sockets/{id} current by reading
// its JSON twin every second. The page works without it. Text goes in as text, never as HTML.
(function () {
  "use strict";
  var table = document.getElementById("registers");
  if (!table || !window.fetch) { return; }
  var id = table.getAttribute("data-socket");
  var url = "/api/v1/installer/tools/sockets/" + encodeURIComponent(id);
  function hex(w) { return "0x" + ("0000" + w.toString(16).toUpperCase()).slice(-4); }
  function cell(text, cls) {
    var td = document.createElement("td");
    td.textContent = text;
    if (cls) { td.className = cls; }
    return td;
  }
  function show(r) {
    var body = table.tBodies[0];
    var rows = document.createDocumentFragment();
    r.registers.forEach(function (g) {
      var tr = document.createElement("tr");
      tr.setAttribute("data-register", g.name);
      tr.appendChild(cell(g.name));
      tr.appendChild(cell(g.value + (g.unit_of_measure ? " " + g.unit_of_measure : ""), "value"));
      tr.appendChild(cell(g.raw.map(hex).join(" "), "raw"));
      tr.appendChild(cell(String(g.unit)));
      tr.appendChild(cell(g.table));
      tr.appendChild(cell(String(g.address)));
      rows.appendChild(tr);
    });
    body.replaceChildren(rows);
    var at = document.getElementById("polled-at");
    if (at) { at.textContent = r.polled_at || "–"; }
    var state = document.getElementById("register-state");
    if (state) { state.textContent = r.state; }
  }
  function refresh() {
    fetch(url, { headers: { "Accept": "application/json" }, credentials: "same-origin" })
      .then(function (res) { return res.ok ? res.json() : null; })
      .then(function (r) { if (r) { show(r); } })
      .catch(function () {})
      .then(function () { setTimeout(refresh, 1000); });
  }
  setTimeout(refresh, 1000);
})();
