// The backup page served at `/`: one HTML document with its CSS and JavaScript inline
// (no build step, no CDN, no external fonts). It talks to /api/v1 with the token from
// sessionStorage in the Authorization header (no cookies: CSRF-safe). Every string that
// comes from the server is inserted as text (textContent), never as HTML.

enum Page {
    static let html = #"""
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Cairn backups</title>
<link rel="icon" href="data:,">
<style>
:root { --fg:#1d2330; --muted:#5d6677; --line:#dde2ea; --bg:#f6f7f9; --card:#fff; --accent:#2f6fdf; --ok:#1f8a4c; --warn:#b7791f; --bad:#c53030; }
* { box-sizing: border-box; }
body { margin:0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color:var(--fg); background:var(--bg); }
header { display:flex; align-items:center; gap:16px; padding:12px 20px; background:#18202e; color:#fff; flex-wrap:wrap; }
header h1 { font-size:18px; margin:0; font-weight:600; letter-spacing:.3px; }
header .repo { color:#aab4c5; font-size:13px; flex:1; min-width:200px; }
header input { padding:5px 8px; border-radius:6px; border:1px solid #445; background:#0f1520; color:#fff; width:230px; }
nav { display:flex; gap:4px; padding:0 20px; background:#fff; border-bottom:1px solid var(--line); flex-wrap:wrap; }
nav button { border:0; background:none; padding:12px 14px; font-size:14px; color:var(--muted); cursor:pointer; border-bottom:3px solid transparent; }
nav button.active { color:var(--fg); border-bottom-color:var(--accent); font-weight:600; }
main { padding:20px; max-width:1150px; margin:0 auto; }
section { display:none; } section.active { display:block; }
.card { background:var(--card); border:1px solid var(--line); border-radius:10px; padding:16px 18px; margin-bottom:16px; }
.card h2 { font-size:16px; margin:0 0 12px; }
.row { display:flex; gap:10px; align-items:center; flex-wrap:wrap; margin:8px 0; }
button.primary, button.secondary, button.danger { padding:8px 14px; border-radius:7px; font-size:14px; cursor:pointer; border:1px solid transparent; }
button.primary { background:var(--accent); color:#fff; } button.primary:disabled { background:#9db6e6; cursor:default; }
button.secondary { background:#fff; border-color:var(--line); color:var(--fg); }
button.danger { background:var(--bad); color:#fff; } button.danger:disabled { background:#e0a2a2; cursor:default; }
select, input[type=text], input[type=search] { padding:7px 9px; border:1px solid var(--line); border-radius:7px; font-size:14px; background:#fff; }
table { width:100%; border-collapse:collapse; font-size:14px; }
th { text-align:left; color:var(--muted); font-weight:500; border-bottom:1px solid var(--line); padding:6px 8px; }
td { border-bottom:1px solid #eef0f4; padding:7px 8px; vertical-align:top; }
td.num, th.num { text-align:right; font-variant-numeric: tabular-nums; }
.mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size:13px; }
.tag { display:inline-block; background:#eef3fd; color:#2a4f97; border-radius:10px; padding:0 8px; font-size:12px; margin-right:4px; }
.muted { color:var(--muted); font-size:13px; }
.bar { height:12px; background:#e8ecf2; border-radius:6px; overflow:hidden; min-width:240px; flex:1; }
.bar > div { height:100%; width:0; background:var(--accent); transition: width .2s; }
.msg { padding:10px 12px; border-radius:8px; margin:10px 0; display:none; }
.msg.show { display:block; }
.msg.error { background:#fdecec; color:#8a1f1f; border:1px solid #f3c4c4; }
.msg.ok { background:#e9f7ef; color:#17623a; border:1px solid #bfe5cf; }
.msg.info { background:#eef3fd; color:#24427d; border:1px solid #cbd9f5; }
.drop { border:2px dashed #b7c2d3; border-radius:10px; padding:28px; text-align:center; color:var(--muted); background:#fafbfc; }
.drop.over { border-color:var(--accent); background:#eef3fd; }
.checks label { display:flex; gap:10px; align-items:center; padding:6px 0; border-bottom:1px solid #f0f2f5; }
.checks label span.size { margin-left:auto; color:var(--muted); font-variant-numeric: tabular-nums; }
.big { font-size:20px; font-weight:600; }
.changes { max-height:320px; overflow:auto; border:1px solid var(--line); border-radius:8px; }
.k-added { color:var(--ok); } .k-removed { color:var(--bad); } .k-modified { color:var(--warn); }
</style>
</head>
<body>
<header>
  <h1>Cairn backups</h1>
  <div class="repo" id="repo">connecting…</div>
  <label class="muted" for="token" style="color:#aab4c5">Access token</label>
  <input id="token" type="password" placeholder="only if the server asks for one" autocomplete="off">
</header>
<nav id="tabs">
  <button data-tab="snapshots" class="active">Snapshots</button>
  <button data-tab="export">Download</button>
  <button data-tab="import">Upload</button>
  <button data-tab="restore">Restore</button>
  <button data-tab="diff">Compare</button>
  <button data-tab="jobs">Activity</button>
</nav>
<main>
<div id="globalmsg" class="msg"></div>

<section id="snapshots" class="active">
  <div class="card">
    <h2>Take a snapshot</h2>
    <div class="row"><button class="primary" id="snapnow">Snapshot now</button>
      <input type="text" id="snaptag" placeholder="tag (optional)"><span class="muted" id="snapsilos"></span></div>
    <div class="row" id="snapprog" style="display:none"><div class="bar"><div id="snapbar"></div></div><span id="snaptext" class="muted"></span></div>
    <div id="snapmsg" class="msg"></div>
  </div>
  <div class="card">
    <h2>Snapshots</h2>
    <div class="row"><input type="search" id="filter" placeholder="filter by tag, silo, id or message"><select id="silofilter"><option value="">all silos</option></select>
      <span class="muted" id="count"></span></div>
    <table><thead><tr><th>Time</th><th>Id</th><th>Silos</th><th>Tags</th><th class="num">Files</th><th class="num">Size</th></tr></thead><tbody id="snaplist"></tbody></table>
  </div>
</section>

<section id="export">
  <div class="card">
    <h2>Download a snapshot as a ZIP file</h2>
    <div class="row"><label>Snapshot <select id="expsnap"></select></label></div>
    <div class="checks" id="expsilos"></div>
    <div class="row"><span>Download size:</span><span class="big" id="expsize">–</span><span class="muted" id="expexact"></span></div>
    <div class="row"><button class="primary" id="expgo">Download</button><a id="explink" style="display:none"></a></div>
    <div class="row" id="expprog" style="display:none"><div class="bar"><div id="expbar"></div></div><span id="exptext" class="muted"></span></div>
    <div id="expmsg" class="msg"></div>
  </div>
</section>

<section id="import">
  <div class="card">
    <h2>Upload a backup ZIP</h2>
    <div class="drop" id="drop">Drop a ZIP file here, or <label style="color:var(--accent);cursor:pointer"><input type="file" id="file" accept=".zip,application/zip" style="display:none">choose a file</label>.<br>
      <span class="muted">Nothing is changed until you confirm after the check.</span></div>
    <div class="row" id="upprog" style="display:none"><div class="bar"><div id="upbar"></div></div><span id="uptext" class="muted"></span></div>
    <div id="upmsg" class="msg"></div>
    <div id="inspect" style="display:none">
      <h2 style="margin-top:16px">What the file holds</h2>
      <div id="inspecthead" class="muted"></div>
      <table><thead><tr><th>Silo</th><th class="num">Files</th><th class="num">Folders</th><th class="num">Size</th></tr></thead><tbody id="inspectrows"></tbody></table>
      <div class="row"><label><input type="checkbox" id="restoreafter"> Restore it right away (the current files are saved in a safety snapshot first)</label></div>
      <div class="row"><button class="primary" id="impgo">Add as a snapshot</button><button class="secondary" id="impdiscard">Discard</button></div>
      <div class="row" id="impprog" style="display:none"><div class="bar"><div id="impbar"></div></div><span id="imptext" class="muted"></span></div>
    </div>
    <div id="impmsg" class="msg"></div>
  </div>
</section>

<section id="restore">
  <div class="card">
    <h2>Restore a snapshot</h2>
    <div class="row"><label>Snapshot <select id="ressnap"></select></label></div>
    <div class="checks" id="ressilos"></div>
    <div class="row"><button class="secondary" id="respreview">Preview changes</button></div>
    <div id="resmsg" class="msg"></div>
    <div id="preview" style="display:none">
      <h2 style="margin-top:14px">What would change</h2>
      <table><thead><tr><th>Silo</th><th class="num">Added</th><th class="num">Removed</th><th class="num">Changed</th><th class="num">Unchanged</th><th class="num">To write</th></tr></thead><tbody id="prevrows"></tbody></table>
      <div class="changes" style="margin-top:10px"><table><tbody id="prevchanges"></tbody></table></div>
      <div class="row"><label><input type="checkbox" id="resconfirm"> I understand the current files of these silos will be replaced. A safety snapshot of them is taken first.</label></div>
      <div class="row"><button class="danger" id="resgo" disabled>Restore now</button></div>
      <div class="row" id="resprog" style="display:none"><div class="bar"><div id="resbar"></div></div><span id="restext" class="muted"></span></div>
    </div>
    <div id="resdone" class="msg"></div>
  </div>
</section>

<section id="diff">
  <div class="card">
    <h2>Compare</h2>
    <div class="row"><label>From <select id="diffa"></select></label><label>to <select id="diffb"></select></label><button class="primary" id="diffgo">Compare</button></div>
    <div id="diffmsg" class="msg"></div>
    <div id="diffsum" class="muted"></div>
    <div class="changes" style="margin-top:10px"><table><thead><tr><th></th><th>File</th><th class="num">Old size</th><th class="num">New size</th></tr></thead><tbody id="diffrows"></tbody></table></div>
  </div>
</section>

<section id="jobs">
  <div class="card">
    <h2>Activity</h2>
    <table><thead><tr><th>Started</th><th>Task</th><th>State</th><th>Progress</th><th>Result</th><th></th></tr></thead><tbody id="joblist"></tbody></table>
  </div>
</section>
</main>
<script>
"use strict";
const $ = id => document.getElementById(id);
const state = { snapshots: [], silos: [], upload: null };
const tokenInput = $("token");
tokenInput.value = sessionStorage.getItem("cairn-token") || "";
tokenInput.addEventListener("change", () => { sessionStorage.setItem("cairn-token", tokenInput.value.trim()); refresh(); });

function headers(extra) {
  const h = Object.assign({}, extra || {});
  const t = sessionStorage.getItem("cairn-token");
  if (t) h["Authorization"] = "Bearer " + t;
  return h;
}
function human(n) {
  if (n == null) return "–";
  const u = ["bytes", "KiB", "MiB", "GiB", "TiB"]; let i = 0; let v = n;
  while (v >= 1024 && i < u.length - 1) { v /= 1024; i++; }
  return (i === 0 ? v : v.toFixed(v < 10 ? 2 : 1)) + " " + u[i];
}
function files(n) { return n + (n === 1 ? " file" : " files"); }
function when(iso) { const d = new Date(iso); return isNaN(d) ? iso : d.toLocaleString(); }
function el(tag, text, cls) { const e = document.createElement(tag); if (text != null) e.textContent = text; if (cls) e.className = cls; return e; }
function row(cells) { const tr = document.createElement("tr"); for (const c of cells) { const td = c instanceof Node ? c : el("td", c); tr.appendChild(td.tagName === "TD" ? td : wrap(td)); } return tr; }
function wrap(node) { const td = document.createElement("td"); td.appendChild(node); return td; }
function num(text) { return el("td", text, "num"); }
function show(id, kind, text) { const m = $(id); m.className = "msg show " + kind; m.textContent = text; }
function hide(id) { $(id).className = "msg"; }

// Errors in words a non-engineer understands; the server's own message follows for details.
function plain(err) {
  const c = err.code || "";
  const words = {
    "unauthorized": "This server needs an access token. Type it in the box at the top right.",
    "read-only": "Your access token can look at backups but not change anything.",
    "files-open": "Some programs still have these files open, so they cannot be replaced safely. Close them and try again.",
    "locked": "The backup store is busy with another task. Try again in a minute.",
    "too-large": "The file is larger than this server accepts.",
    "not-found": "That item does not exist (any more).",
    "no-space": "There is not enough free disk space.",
    "bad-host": "This page must be opened through 127.0.0.1 or localhost.",
    "already-exists": "This backup is already there; nothing was added.",
    "cancelled": "The task was stopped.",
    "interrupted": "The server stopped while this task ran. Nothing half-done was kept; start it again.",
  };
  // Known cases speak for themselves; the server's message adds the names (files, programs) where they matter.
  if (words[c]) return words[c] + (c === "files-open" || c === "not-found" || c === "too-large" ? " (" + err.message + ")" : "");
  let text = err.status === 422 ? "This file is not a backup that can be used." : "Something went wrong.";
  if (err.message) text += " (" + err.message + ")";
  if (err.hint) text += " " + err.hint;
  return text;
}
async function api(path, opts) {
  opts = opts || {};
  const init = { method: opts.method || "GET", headers: headers(opts.body ? { "Content-Type": "application/json" } : {}) };
  if (opts.body) init.body = JSON.stringify(opts.body);
  let r;
  try { r = await fetch(path, init); } catch (e) { throw { message: "the server cannot be reached", code: "offline" }; }
  const text = await r.text();
  let doc = null; try { doc = text ? JSON.parse(text) : null; } catch (e) {}
  if (!r.ok) throw Object.assign({ status: r.status }, doc || { message: text });
  return doc;
}

// Follows a job's Server-Sent Events through fetch (EventSource cannot send the token header).
async function follow(job, bar, label) {
  const r = await fetch("/api/v1/jobs/" + job.id + "/events", { headers: headers() });
  if (!r.ok) throw Object.assign({ status: r.status }, await r.json());
  const reader = r.body.getReader(); const dec = new TextDecoder(); let buf = ""; let last = job;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += dec.decode(value, { stream: true });
    let i;
    while ((i = buf.indexOf("\n\n")) >= 0) {
      const chunk = buf.slice(0, i); buf = buf.slice(i + 2);
      const data = chunk.split("\n").filter(l => l.startsWith("data: ")).map(l => l.slice(6)).join("\n");
      if (!data) continue;
      last = JSON.parse(data);
      const p = last.progress || {};
      const pct = last.state === "succeeded" ? 100 : (p.percent || 0);
      if (bar) bar.style.width = pct.toFixed(1) + "%";
      if (label) {
        let t = (p.phase || last.state) + ": " + p.files + " files, " + human(p.bytes);
        if (p.total) t += " of " + human(p.total) + " (" + pct.toFixed(0) + "%)";
        if (p.rate) t += ", " + human(p.rate) + "/s";
        if (p.eta != null && last.state === "running") t += ", about " + Math.ceil(p.eta) + " s left";
        if (p.currentPath && last.state === "running") t += " — " + p.currentPath;
        label.textContent = t;
      }
    }
  }
  refreshJobs();
  if (last.state !== "succeeded") throw Object.assign({}, last.error || { message: "the task ended as " + last.state });
  return last;
}

async function refresh() {
  try {
    const st = await api("/api/v1/status");
    $("repo").textContent = st.repository + " — " + st.snapshots + " snapshots, " + human(st.freeBytes) + " free" + (st.recovered ? " — " + st.recovered : "");
    state.silos = st.silos;
    $("snapsilos").textContent = "silos: " + st.silos.map(s => s.name).join(", ");
    const sel = $("silofilter"); const keep = sel.value;
    sel.replaceChildren(el("option", "all silos")); sel.firstChild.value = "";
    for (const s of st.silos) { const o = el("option", s.name); o.value = s.name; sel.appendChild(o); }
    sel.value = keep;
    const page = await api("/api/v1/snapshots?limit=1000");
    state.snapshots = page.items;
    hide("globalmsg");
    renderSnapshots(); fillSnapshotSelects(); refreshJobs();
  } catch (e) { show("globalmsg", "error", plain(e)); }
}

function renderSnapshots() {
  const f = $("filter").value.toLowerCase(); const silo = $("silofilter").value;
  const body = $("snaplist"); body.replaceChildren();
  const list = state.snapshots.filter(s => (!silo || s.silos.some(x => x.name === silo)) &&
    (!f || [s.id, s.message, s.hostname].concat(s.tags, s.silos.map(x => x.name)).join(" ").toLowerCase().includes(f)));
  for (const s of list) {
    const tags = document.createElement("td");
    for (const t of s.tags) tags.appendChild(el("span", t, "tag"));
    if (s.message) tags.appendChild(el("span", s.message, "muted"));
    body.appendChild(row([el("td", when(s.time)), el("td", s.shortId, "mono"), el("td", s.silos.map(x => x.name).join(", ")), tags, num(String(s.files)), num(human(s.bytes))]));
  }
  $("count").textContent = list.length + " of " + state.snapshots.length;
}

function option(s) { const o = el("option", when(s.time) + " — " + s.shortId + (s.tags.length ? " [" + s.tags.join(", ") + "]" : "")); o.value = s.id; return o; }
function fillSnapshotSelects() {
  for (const id of ["expsnap", "ressnap", "diffa", "diffb"]) {
    const sel = $(id); const keep = sel.value; sel.replaceChildren();
    if (id === "diffb") { const o = el("option", "current files (live)"); o.value = "live"; sel.appendChild(o); }
    for (const s of state.snapshots) sel.appendChild(option(s));
    if (keep && [...sel.options].some(o => o.value === keep)) sel.value = keep;
  }
  siloChecks("expsilos", $("expsnap").value, estimateExport);
  siloChecks("ressilos", $("ressnap").value, () => { $("preview").style.display = "none"; });
  estimateExport();
}
function siloChecks(box, snapId, onchange) {
  const s = state.snapshots.find(x => x.id === snapId); const c = $(box); c.replaceChildren();
  if (!s) return;
  for (const silo of s.silos) {
    const l = document.createElement("label"); const cb = document.createElement("input");
    cb.type = "checkbox"; cb.checked = true; cb.value = silo.name; cb.addEventListener("change", onchange);
    l.append(cb, el("span", silo.name), el("span", files(silo.files) + ", " + human(silo.bytes), "size"));
    c.appendChild(l);
  }
}
function checked(box) { return [...$(box).querySelectorAll("input:checked")].map(i => i.value); }

// Export: the exact size of the chosen silos before the download (store archives are exact).
function exportQuery() { return checked("expsilos").map(s => "silo=" + encodeURIComponent(s)).join("&") + "&compression=store"; }
async function estimateExport() {
  const id = $("expsnap").value; if (!id) return;
  const silos = checked("expsilos");
  $("expgo").disabled = silos.length === 0;
  if (!silos.length) { $("expsize").textContent = "–"; $("expexact").textContent = "choose at least one silo"; return; }
  try {
    const e = await api("/api/v1/snapshots/" + id + "/export-estimate?" + exportQuery());
    $("expsize").textContent = human(e.archiveBytes);
    $("expsize").dataset.bytes = e.archiveBytes;
    $("expexact").textContent = e.exact ? "(" + e.archiveBytes.toLocaleString() + " bytes, exact)" : "(at most)";
  } catch (e) { show("expmsg", "error", plain(e)); }
}
async function download() {
  hide("expmsg");
  const id = $("expsnap").value; const url = "/api/v1/snapshots/" + id + "/export.zip?" + exportQuery();
  $("expprog").style.display = "flex"; $("expbar").style.width = "0";
  try {
    const r = await fetch(url, { headers: headers() });
    if (!r.ok) throw Object.assign({ status: r.status }, await r.json());
    const total = Number(r.headers.get("Content-Length")) || 0;
    const name = (/filename="([^"]+)"/.exec(r.headers.get("Content-Disposition") || "") || [])[1] || "cairn-export.zip";
    const reader = r.body.getReader(); const parts = []; let got = 0;
    for (;;) {
      const { value, done } = await reader.read(); if (done) break;
      parts.push(value); got += value.length;
      if (total) $("expbar").style.width = (got * 100 / total).toFixed(1) + "%";
      $("exptext").textContent = human(got) + (total ? " of " + human(total) : "");
    }
    const a = $("explink"); a.href = URL.createObjectURL(new Blob(parts, { type: "application/zip" })); a.download = name; a.click();
    show("expmsg", "ok", "Downloaded " + name + " (" + human(got) + ").");
  } catch (e) { show("expmsg", "error", plain(e)); }
}

// Import: upload with progress, show the inspection, write nothing until confirmed.
function upload(file) {
  hide("upmsg"); hide("impmsg"); $("inspect").style.display = "none"; state.upload = null;
  $("upprog").style.display = "flex"; $("upbar").style.width = "0";
  const x = new XMLHttpRequest();
  x.open("POST", "/api/v1/uploads");
  const h = headers({ "Content-Type": "application/zip", "X-Filename": file.name.replace(/[^\x20-\x7e]/g, "_") });
  for (const k in h) x.setRequestHeader(k, h[k]);
  x.upload.onprogress = ev => { if (ev.lengthComputable) { $("upbar").style.width = (ev.loaded * 100 / ev.total).toFixed(1) + "%"; $("uptext").textContent = human(ev.loaded) + " of " + human(ev.total); } };
  x.onload = () => {
    let doc = {}; try { doc = JSON.parse(x.responseText); } catch (e) {}
    if (x.status !== 201) { show("upmsg", "error", plain(Object.assign({ status: x.status }, doc))); return; }
    $("upbar").style.width = "100%"; $("uptext").textContent = "uploaded and checked";
    state.upload = doc; showInspection(doc);
  };
  x.onerror = () => show("upmsg", "error", "The upload was interrupted. Check the connection and try again.");
  x.send(file);
}
function showInspection(u) {
  const s = u.summary;
  $("inspecthead").textContent = s.cairnExport && s.snapshot
    ? "A Cairn backup of snapshot " + s.snapshot.id.slice(0, 12) + " taken " + when(s.snapshot.time) + " on " + s.snapshot.hostname + " — " + u.filename + ", " + human(u.size)
    : "A ZIP file (not made by Cairn): each top-level folder becomes a silo — " + u.filename + ", " + human(u.size);
  const body = $("inspectrows"); body.replaceChildren();
  for (const f of s.folders) body.appendChild(row([el("td", f.name), num(String(f.files)), num(String(f.dirs)), num(human(f.bytes))]));
  $("inspect").style.display = "block";
}
async function importUpload() {
  if (!state.upload) return;
  const restore = $("restoreafter").checked;
  $("impprog").style.display = "flex"; $("impgo").disabled = true;
  try {
    const job = await api("/api/v1/jobs", { method: "POST", body: { type: "import", upload: state.upload.id, restore: restore } });
    const done = await follow(job, $("impbar"), $("imptext"));
    const r = done.result; let text = "Added as snapshot " + r.import.snapshot.slice(0, 12) + ": " + r.import.files + " files, " + human(r.import.bytes) + ".";
    if (r.restore) text += " Restored. " + undoText(r.restore);
    show("impmsg", "ok", text); state.upload = null; $("inspect").style.display = "none"; refresh();
  } catch (e) { show("impmsg", "error", plain(e)); }
  $("impgo").disabled = false;
}
async function discardUpload() {
  if (!state.upload) return;
  try { await api("/api/v1/uploads/" + state.upload.id, { method: "DELETE" }); } catch (e) {}
  state.upload = null; $("inspect").style.display = "none"; show("impmsg", "info", "Discarded; nothing was changed.");
}

// Restore: dry run first, confirm, then the job; show the safety snapshot and how to undo.
function undoText(res) {
  return res.safetySnapshot ? "The files it replaced are saved in safety snapshot " + res.safetySnapshot.slice(0, 12) + ". To undo, restore that snapshot (Restore tab), or run: " + res.undo : "";
}
async function preview() {
  hide("resmsg"); hide("resdone"); $("preview").style.display = "none"; $("resconfirm").checked = false; $("resgo").disabled = true;
  const silos = checked("ressilos");
  if (!silos.length) { show("resmsg", "error", "Choose at least one silo to restore."); return; }
  try {
    const d = await api("/api/v1/restore/dry-run", { method: "POST", body: { snapshot: $("ressnap").value, silos: silos } });
    const body = $("prevrows"); body.replaceChildren();
    for (const s of d.result.silos) { const c = s.changes; body.appendChild(row([el("td", s.name), num(String(c.added)), num(String(c.removed)), num(String(c.modified + c.metadataOnly)), num(String(c.unchanged)), num(human(c.bytesToWrite))])); }
    const ch = $("prevchanges"); ch.replaceChildren();
    const names = { "+": "will be added", "-": "will be removed", "M": "will be replaced", "m": "details change" };
    for (const c of d.changes.slice(0, 500)) ch.appendChild(row([el("td", names[c.change] || c.change, c.change === "+" ? "k-added" : c.change === "-" ? "k-removed" : "k-modified"), el("td", c.path, "mono")]));
    if (!d.changes.length) ch.appendChild(row([el("td", "Nothing would change: the files already match this snapshot.")]));
    if (d.result.openFiles.length) show("resmsg", "error", "Close these programs first, they have files open: " + [...new Set(d.result.openFiles.map(o => o.program))].join(", "));
    $("preview").style.display = "block";
  } catch (e) { show("resmsg", "error", plain(e)); }
}
async function restoreNow() {
  $("resgo").disabled = true; $("resprog").style.display = "flex"; hide("resdone");
  try {
    const job = await api("/api/v1/jobs", { method: "POST", body: { type: "restore", snapshot: $("ressnap").value, silos: checked("ressilos") } });
    const done = await follow(job, $("resbar"), $("restext"));
    const r = done.result;
    show("resdone", "ok", "Restored " + r.written.files + " files (" + human(r.written.bytes) + ") from snapshot " + r.snapshot.slice(0, 12) + ". " + undoText(r));
    refresh();
  } catch (e) { show("resdone", "error", plain(e)); }
}

// Compare two snapshots, or a snapshot and the current files.
async function compare() {
  hide("diffmsg"); $("diffrows").replaceChildren(); $("diffsum").textContent = "comparing…";
  try {
    const d = await api("/api/v1/diff?a=" + encodeURIComponent($("diffa").value) + "&b=" + encodeURIComponent($("diffb").value));
    const t = d.totals;
    $("diffsum").textContent = t.filesAdded + " added, " + t.filesRemoved + " removed, " + t.filesModified + " changed, " + (t.filesRenamed || 0) + " renamed" +
      (d.addedSilos.length ? "; new silos: " + d.addedSilos.join(", ") : "") + (d.removedSilos.length ? "; silos gone: " + d.removedSilos.join(", ") : "");
    const words = { added: "added", removed: "removed", modified: "changed", renamed: "renamed", typeChanged: "type changed", metadata: "details" };
    for (const s of d.silos) for (const c of s.changes) {
      const cls = c.kind === "added" ? "k-added" : c.kind === "removed" ? "k-removed" : "k-modified";
      $("diffrows").appendChild(row([el("td", words[c.kind] || c.kind, cls), el("td", s.silo + "/" + c.path + (c.oldPath ? " (was " + c.oldPath + ")" : ""), "mono"),
        num(c.oldSize == null ? "" : human(c.oldSize)), num(c.newSize == null ? "" : human(c.newSize))]));
    }
    if (!$("diffrows").children.length) $("diffrows").appendChild(row([el("td", ""), el("td", "No differences.")]));
  } catch (e) { $("diffsum").textContent = ""; show("diffmsg", "error", plain(e)); }
}

async function refreshJobs() {
  let jobs = [];
  try { jobs = await api("/api/v1/jobs"); } catch (e) { return; }
  const body = $("joblist"); body.replaceChildren();
  for (const j of jobs.slice(0, 50)) {
    const p = j.progress || {};
    const res = j.error ? plain(j.error) : j.result ? (j.result.snapshot && j.result.snapshot.shortId ? "snapshot " + j.result.snapshot.shortId : "done") : "";
    const act = document.createElement("td");
    if (j.cancellable && (j.state === "running" || j.state === "queued")) {
      const b = el("button", "Stop", "secondary"); b.onclick = async () => { try { await api("/api/v1/jobs/" + j.id, { method: "DELETE" }); } catch (e) { show("globalmsg", "error", plain(e)); } refreshJobs(); };
      act.appendChild(b);
    }
    body.appendChild(row([el("td", when(j.startedAt || j.createdAt)), el("td", j.type), el("td", j.state), el("td", p.files + " files, " + human(p.bytes) + (p.percent != null ? " (" + p.percent.toFixed(0) + "%)" : "")), el("td", res), act]));
  }
}

async function snapshotNow() {
  hide("snapmsg"); $("snapnow").disabled = true; $("snapprog").style.display = "flex"; $("snapbar").style.width = "0";
  try {
    const tag = $("snaptag").value.trim();
    const job = await api("/api/v1/jobs", { method: "POST", body: { type: "snapshot", tags: tag ? [tag] : [] } });
    const done = await follow(job, $("snapbar"), $("snaptext"));
    const s = done.result.snapshot;
    show("snapmsg", "ok", "Snapshot " + s.shortId + " saved: " + files(s.files) + ", " + human(s.bytes) + " (" + human(s.bytesAdded) + " new)." + (done.result.warnings.length ? " Some files were skipped: " + done.result.warnings.join("; ") : ""));
    refresh();
  } catch (e) { show("snapmsg", "error", plain(e)); }
  $("snapnow").disabled = false;
}

for (const b of document.querySelectorAll("#tabs button")) b.addEventListener("click", () => {
  for (const x of document.querySelectorAll("#tabs button")) x.classList.toggle("active", x === b);
  for (const s of document.querySelectorAll("main section")) s.classList.toggle("active", s.id === b.dataset.tab);
  if (b.dataset.tab === "jobs") refreshJobs();
});
$("snapnow").onclick = snapshotNow;
$("filter").oninput = renderSnapshots; $("silofilter").onchange = renderSnapshots;
$("expsnap").onchange = () => { siloChecks("expsilos", $("expsnap").value, estimateExport); estimateExport(); };
$("expgo").onclick = download;
$("file").onchange = () => { if ($("file").files[0]) upload($("file").files[0]); };
const drop = $("drop");
drop.addEventListener("dragover", e => { e.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", e => { e.preventDefault(); drop.classList.remove("over"); if (e.dataTransfer.files[0]) upload(e.dataTransfer.files[0]); });
$("impgo").onclick = importUpload; $("impdiscard").onclick = discardUpload;
$("ressnap").onchange = () => { siloChecks("ressilos", $("ressnap").value, () => { $("preview").style.display = "none"; }); $("preview").style.display = "none"; };
$("respreview").onclick = preview;
$("resconfirm").onchange = () => { $("resgo").disabled = !$("resconfirm").checked; };
$("resgo").onclick = restoreNow;
$("diffgo").onclick = compare;
refresh();
</script>
</body>
</html>

"""#
}
