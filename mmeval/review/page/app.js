"use strict";
// The review page: fetch the next blinded sample, collect a pick and every criterion's
// score for both sides (mouse or keyboard), save, repeat. The server keeps the state.
(() => {
  const $ = (id) => document.getElementById(id);
  let current = null;   // the sample on show
  let pick = null;      // "left" | "right" | "tie"
  let scores = {};      // side -> criterion -> score
  let cells = [];       // [side, criterion, scale] in keyboard order
  let cursor = 0;
  let saving = false;

  function fail(message) {
    $("review").hidden = true;
    $("error").hidden = false;
    $("error-text").textContent = message;
  }

  async function call(path, options) {
    const response = await fetch(path, Object.assign({credentials: "same-origin", cache: "no-store"}, options || {}));
    let body = {};
    try { body = await response.json(); } catch (e) { body = {}; }
    if (!response.ok) throw new Error(body.error || ("HTTP " + response.status));
    return body;
  }

  function show(target, item) {
    target.replaceChildren();
    if (item.kind === "image") {
      const img = document.createElement("img");
      img.src = item.url; img.alt = "image output";
      target.append(img);
    } else if (item.kind === "audio") {
      const audio = document.createElement("audio");
      audio.controls = true; audio.src = item.url; audio.preload = "metadata";
      target.append(audio);
    } else {
      target.textContent = item.text;
    }
  }

  function scoreRows(side, criteria) {
    const box = $("scores-" + side);
    box.replaceChildren();
    for (const c of criteria) {
      const row = document.createElement("div");
      row.className = "row"; row.dataset.side = side; row.dataset.criterion = c.name;
      const name = document.createElement("span");
      name.className = "name"; name.textContent = c.name.replace(/_/g, " ");
      if (c.description) name.title = c.description;
      row.append(name);
      for (let v = 1; v <= c.scale; v++) {
        const b = document.createElement("button");
        b.type = "button"; b.className = "score"; b.textContent = String(v);
        b.dataset.value = String(v);
        b.setAttribute("aria-label", c.name + " " + v + " of " + c.scale + " for " + (side === "left" ? "A" : "B"));
        b.addEventListener("click", () => setScore(side, c.name, v));
        row.append(b);
      }
      box.append(row);
    }
  }

  function setScore(side, criterion, value) {
    scores[side][criterion] = value;
    const at = cells.findIndex(([s, c]) => s === side && c === criterion);
    const next = cells.findIndex(([s, c], i) => i > at && scores[s][c] === undefined);
    const first = cells.findIndex(([s, c]) => scores[s][c] === undefined);
    cursor = next >= 0 ? next : (first >= 0 ? first : at);
    render();
  }

  function setPick(value) { pick = value; render(); }

  function complete() {
    return pick !== null && cells.every(([s, c]) => scores[s][c] !== undefined);
  }

  function render() {
    for (const button of document.querySelectorAll(".pick button[data-pick]")) button.classList.toggle("on", button.dataset.pick === pick);
    for (const row of document.querySelectorAll(".scores .row")) {
      const value = scores[row.dataset.side][row.dataset.criterion];
      for (const b of row.querySelectorAll(".score")) b.classList.toggle("on", Number(b.dataset.value) === value);
      const [s, c] = cells[cursor] || [];
      const scored = cells.every(([side, name]) => scores[side][name] !== undefined);  // nothing left: no highlight
      row.classList.toggle("cursor", !scored && row.dataset.side === s && row.dataset.criterion === c);
    }
    $("save").disabled = saving || !complete();
  }

  function progress(p) {
    const total = p.rated_by_you + p.left_for_you;
    $("progress-text").textContent = "You rated " + p.rated_by_you + " of " + total + " · " + p.left_for_you + " left for you · "
      + p.complete + " of " + p.samples + " samples fully rated (" + p.raters_per_sample + " rater"
      + (p.raters_per_sample === 1 ? "" : "s") + " each)";
    $("progress-bar").style.width = (total ? (100 * p.rated_by_you / total) : 100) + "%";
  }

  async function next() {
    const body = await call("/api/next");
    $("suite").textContent = body.suite; $("rater").textContent = body.rater;
    progress(body.progress);
    if (body.done) { $("review").hidden = true; $("done").hidden = false; current = null; return; }
    current = body; pick = null; scores = {left: {}, right: {}}; cursor = 0;
    cells = [];
    for (const c of body.criteria) for (const side of ["left", "right"]) cells.push([side, c.name, c.scale]);
    $("sample-id").textContent = body.sample_id;
    $("question").textContent = body.question;
    $("criteria-help").replaceChildren(...body.criteria.filter((c) => c.description).map((c) => {
      const line = document.createElement("div");
      const term = document.createElement("strong");
      term.textContent = c.name.replace(/_/g, " ") + ": ";
      line.append(term, c.description);
      return line;
    }));
    show($("input"), body.input); show($("left"), body.left); show($("right"), body.right);
    scoreRows("left", body.criteria); scoreRows("right", body.criteria);
    $("status").textContent = ""; $("status").className = "";
    $("review").hidden = false; $("done").hidden = true;
    render();
  }

  async function save() {
    if (!current || saving || !complete()) return;
    saving = true; render();
    $("status").textContent = "saving…"; $("status").className = "";
    try {
      await call("/api/answer", {method: "POST", headers: {"Content-Type": "application/json"},
        body: JSON.stringify({sample_id: current.sample_id, pick: pick, scores: scores})});
      const saved = current.sample_id;
      saving = false;
      await next();
      $("status").textContent = "saved your rating of " + saved;
    } catch (e) {
      saving = false; render();
      $("status").textContent = "not saved: " + e.message; $("status").className = "error";
    }
  }

  document.addEventListener("keydown", (event) => {
    if (!current || event.ctrlKey || event.metaKey || event.altKey) return;
    const key = event.key.toLowerCase();
    if (key === "a") setPick("left");
    else if (key === "b") setPick("right");
    else if (key === "t") setPick("tie");
    else if (key === "enter") save();
    else if (key === "arrowright") { cursor = Math.min(cursor + 1, cells.length - 1); render(); }
    else if (key === "arrowleft") { cursor = Math.max(cursor - 1, 0); render(); }
    else if (/^[1-9]$/.test(key) && cells[cursor] && Number(key) <= cells[cursor][2]) setScore(cells[cursor][0], cells[cursor][1], Number(key));
    else return;
    event.preventDefault();
  });
  for (const button of document.querySelectorAll(".pick button[data-pick]")) button.addEventListener("click", () => setPick(button.dataset.pick));
  $("save").addEventListener("click", save);
  next().catch((e) => fail(e.message));
})();
