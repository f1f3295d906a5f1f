// sitegate: live updates of the socket grid from /api/v1/stream (Server-Sent Events). The page
// works without it (server-rendered); this only keeps it current. Text goes in as text, never
// as HTML.
(function () {
  "use strict";
  var grid = document.getElementById("sockets");
  if (!grid || !window.EventSource) { return; }
  var lang = grid.getAttribute("data-lang") || "en";
  var labels = {
    en: { power: "Power", who: "Who", energy: "Energy", cost: "Cost" },
    fr: { power: "Puissance", who: "Qui", energy: "Énergie", cost: "Coût" }
  }[lang] || {};
  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) { e.textContent = text; }
    if (cls) { e.className = cls; }
    return e;
  }
  function render(s) {
    var a = el("article", null, "tile " + s["class"]);
    a.id = "socket-" + s.id;
    a.setAttribute("data-socket", s.id);
    var h3 = el("h3");
    var link = el("a", s.name);
    link.href = "/sockets/" + encodeURIComponent(s.id);
    h3.appendChild(link);
    a.appendChild(h3);
    a.appendChild(el("p", s.words, "state"));
    var dl = el("dl");
    function row(k, v) { dl.appendChild(el("dt", k)); dl.appendChild(el("dd", v)); }
    row(labels.power, (s.power_kw || "–") + " kW");
    if (s.session) {
      row(labels.who, s.session.user || "–");
      row(labels.energy, s.session.energy_kwh + " kWh");
      row(labels.cost, s.session.cost || "–");
    }
    a.appendChild(dl);
    return a;
  }
  var source = new EventSource("/api/v1/stream?lang=" + encodeURIComponent(lang));
  source.addEventListener("sockets", function (ev) {
    var tiles = JSON.parse(ev.data);
    var active = 0;
    tiles.forEach(function (s) {
      if (s.session) { active += 1; }
      var old = document.getElementById("socket-" + s.id);
      var fresh = render(s);
      if (old) { old.replaceWith(fresh); } else { grid.appendChild(fresh); }
    });
    var counter = document.getElementById("active-sockets");
    if (counter) { counter.textContent = String(active); }
  });
})();

// The socket page (/sockets/{id}): its state, power and session figures follow the same
// stream; when a session begins or ends the page reloads, so the actions offered stay right.
(function () {
  "use strict";
  var live = document.getElementById("socket-live");
  if (!live || !window.EventSource) { return; }
  var id = live.getAttribute("data-socket");
  var lang = live.getAttribute("data-lang") || "en";
  var hadSession = live.getAttribute("data-session") === "yes";
  function set(elId, text) {
    var e = document.getElementById(elId);
    if (e) { e.textContent = text; }
  }
  var source = new EventSource("/api/v1/stream?lang=" + encodeURIComponent(lang));
  source.addEventListener("sockets", function (ev) {
    JSON.parse(ev.data).forEach(function (s) {
      if (s.id !== id) { return; }
      if (Boolean(s.session) !== hadSession) {
        source.close();
        window.location.reload();
        return;
      }
      var state = document.getElementById("live-state");
      if (state) {
        state.textContent = s.words;
        state.className = "state-badge " + s["class"];
      }
      set("live-power", (s.power_kw || "–") + " kW");
      if (s.session) {
        set("live-user", s.session.user || "–");
        set("live-energy", s.session.energy_kwh + " kWh");
      }
    });
  });
})();
