// keysweep's HTML report: builds the findings table from the page's own JSON, sorts and
// filters it. Every value goes into the page as text (textContent), never as markup. The
// view (sort, direction, filters) lives in the address's #fragment, so a link can share it.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("ks-data").textContent);
  var rows = data.rows;
  var rank = { high: 3, medium: 2, low: 1 };
  var table = document.getElementById("findings");
  var tbody = table.tBodies[0];
  var input = document.getElementById("q");
  var sevSelect = document.getElementById("sev");
  var ruleSelect = document.getElementById("rule");
  var state = { sort: "sev", dir: "desc", q: "", sev: "", rule: "" };

  if (!data.revocation) table.classList.add("no-rev");
  var perRule = {};
  rows.forEach(function (r) {
    perRule[r.rule] = (perRule[r.rule] || 0) + 1;
    r.text = [r.sev, r.rule, r.desc, r.path, r.member, r.repo, r.commit, r.date, r.enc,
      r.value, r.sha, r.rev, r.snip].join("\n").toLowerCase();
  });
  Object.keys(perRule).sort().forEach(function (id) {
    var o = document.createElement("option");
    o.value = id;
    o.textContent = id + " (" + perRule[id] + ")";
    ruleSelect.appendChild(o);
  });

  function cmp(a, b) { return a < b ? -1 : a > b ? 1 : 0; }
  function place(r) { return r.path + (r.member ? "!" + r.member : "") + ":" + r.line + ":" + r.col; }
  function byPlace(a, b) {
    return cmp(a.repo || "", b.repo || "") || cmp(a.path, b.path) || cmp(a.member || "", b.member || "") ||
      a.line - b.line || a.col - b.col;
  }
  var keys = {
    sev: function (a, b) { return rank[a.sev] - rank[b.sev]; },
    rule: function (a, b) { return cmp(a.rule, b.rule); },
    loc: byPlace,
    repo: function (a, b) { return cmp(a.repo || "", b.repo || ""); },
    date: function (a, b) { return cmp(a.date || "", b.date || ""); },
    value: function (a, b) { return cmp(a.value, b.value); },
    sha: function (a, b) { return cmp(a.sha, b.sha); },
    origin: function (a, b) { return cmp((a.member || "") + (a.enc || ""), (b.member || "") + (b.enc || "")); },
    rev: function (a, b) { return cmp(a.rev || "", b.rev || ""); }
  };

  function cell(tr, cls, text) {
    var td = document.createElement("td");
    if (cls) td.className = cls;
    if (text !== undefined && text !== null) td.textContent = text;
    tr.appendChild(td);
    return td;
  }
  function add(parent, tag, cls, text) {
    var el = document.createElement(tag);
    if (cls) el.className = cls;
    el.textContent = text;
    parent.appendChild(el);
    return el;
  }
  function render(r) {
    var tr = document.createElement("tr");
    tr.className = "finding";
    tr.dataset.sha = r.sha;
    add(cell(tr, ""), "span", "sev sev-" + r.sev, r.sev);
    cell(tr, "rule", r.rule).title = r.desc;
    var loc = cell(tr, "loc");
    if (r.url) {
      var a = add(loc, "a", "", place(r));
      a.href = r.url;
      a.rel = "noopener noreferrer";
    } else {
      add(loc, "code", "", place(r));
    }
    if (r.snip) add(loc, "code", "snip", r.snip);
    cell(tr, "repo", r.repo || "");
    var commit = cell(tr, "commit");
    if (r.commit) {
      add(commit, "code", "", r.commit.slice(0, 12)).title = r.commit;
      if (r.date) add(commit, "div", "muted", r.date.slice(0, 10) + " (" + r.age + ")");
    }
    add(cell(tr, "value"), "code", "", r.value);
    add(cell(tr, "sha"), "code", "", r.sha.slice(0, 16) + "\u2026").title = r.sha;
    var origin = cell(tr, "origin");
    if (r.member) add(origin, "div", "", "archive member " + r.member);
    if (r.enc) add(origin, "div", "", r.enc + "-encoded");
    var rev = cell(tr, "rev");
    if (r.rev) {
      var good = r.rev === "revoked" || r.rev === "already_revoked";
      add(rev, "span", good ? "rev-ok" : "rev-bad", r.rev);
    }
    return tr;
  }

  function readHash() {
    var p = new URLSearchParams(window.location.hash.slice(1));
    Object.keys(state).forEach(function (k) { if (p.has(k)) state[k] = p.get(k); });
    if (!keys[state.sort]) state.sort = "sev";
    if (state.dir !== "asc") state.dir = "desc";
  }
  function writeHash() {
    var p = new URLSearchParams();
    Object.keys(state).forEach(function (k) { if (state[k]) p.set(k, state[k]); });
    try { history.replaceState(null, "", "#" + p.toString()); } catch (e) { /* file: in some browsers */ }
  }

  function update() {
    var q = state.q.toLowerCase();
    var shown = rows.filter(function (r) {
      return (!q || r.text.indexOf(q) >= 0) && (!state.sev || r.sev === state.sev) &&
        (!state.rule || r.rule === state.rule);
    });
    var key = keys[state.sort];
    var sign = state.dir === "asc" ? 1 : -1;
    shown.sort(function (a, b) { return sign * key(a, b) || byPlace(a, b); });
    var frag = document.createDocumentFragment();
    shown.forEach(function (r) { frag.appendChild(render(r)); });
    tbody.replaceChildren(frag);
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th) {
      if (th.dataset.col === state.sort) th.setAttribute("aria-sort", state.dir === "asc" ? "ascending" : "descending");
      else th.removeAttribute("aria-sort");
    });
    var text = "Showing " + shown.length + " of " + rows.length + " findings";
    if (rows.length < data.total) text += " (" + data.total + " in the run)";
    document.getElementById("count").textContent = text;
    table.dataset.shown = String(shown.length);
  }

  table.tHead.addEventListener("click", function (e) {
    var th = e.target.closest("th");
    if (!th) return;
    var col = th.dataset.col;
    state.dir = state.sort === col && state.dir === "asc" ? "desc" : "asc";
    state.sort = col;
    writeHash();
    update();
  });
  input.addEventListener("input", function () { state.q = input.value; writeHash(); update(); });
  sevSelect.addEventListener("change", function () { state.sev = sevSelect.value; writeHash(); update(); });
  ruleSelect.addEventListener("change", function () { state.rule = ruleSelect.value; writeHash(); update(); });
  window.addEventListener("hashchange", function () { readHash(); sync(); update(); });
  function sync() { input.value = state.q; sevSelect.value = state.sev; ruleSelect.value = state.rule; }

  readHash();
  sync();
  update();
})();
