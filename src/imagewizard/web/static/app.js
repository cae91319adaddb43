// ImageWizard's page: plain JavaScript on the REST API; every menu and form comes from the
// server's declarations (GET /api/tasks, GET /api/methods), so nothing here lists methods.
"use strict";

const $ = (id) => document.getElementById(id);
const state = {
  token: localStorage.getItem("imagewizard-token") || "",
  tasks: [], methods: [], files: [], jobs: [], selected: null, analysed: null, runStarted: 0,
};
const FINAL = ["done", "failed", "cancelled"];

// --- talking to the server ---------------------------------------------------------------------
class ApiError extends Error {
  constructor(status, message, field) { super(message); this.status = status; this.field = field; }
}

async function api(path, options = {}) {
  const headers = Object.assign({}, options.headers || {});
  if (state.token) headers["X-ImageWizard-Token"] = state.token;
  let response;
  try {
    response = await fetch(path, Object.assign({}, options, { headers }));
  } catch (e) {
    throw new ApiError(0, "the server cannot be reached; is `imagewizard serve` still running?");
  }
  let body = null;
  const type = response.headers.get("content-type") || "";
  if (type.includes("application/json")) body = await response.json();
  if (response.status === 401) {
    askToken(body && body.error);
    throw new ApiError(401, (body && body.error) || "a token is needed", "token");
  }
  if (!response.ok) {
    let message = (body && body.error) || `the server answered ${response.status}`;
    if (response.status === 429) message += " (the server is busy)";
    throw new ApiError(response.status, message, body && body.field);
  }
  return body;
}

function withToken(url) {
  if (!state.token) return url;
  return url + (url.includes("?") ? "&" : "?") + "token=" + encodeURIComponent(state.token);
}

function askToken(message) {
  $("token-box").hidden = false;
  $("token-error").textContent = state.token ? (message || "this token is not accepted") : "";
  $("token").focus();
}

// --- errors next to what caused them -------------------------------------------------------------
const ERROR_AT = {
  image: "image-error", truth: "truth-error", pipeline: "pipeline-error", token: "token-error",
  params: "method-error", method: "method-error", task: "method-error", sigma: "method-error",
  strength: "method-error", kernel: "method-error", mask: "method-error", reference: "method-error",
};

function clearErrors() {
  document.querySelectorAll(".error").forEach((e) => { if (e.id !== "token-error") e.textContent = ""; });
  document.querySelectorAll(".bad").forEach((e) => e.classList.remove("bad"));
}

function showError(err, fallback = "run-error") {
  let where = ERROR_AT[err.field] || fallback;
  if (where === "method-error" && mode() === "pipeline") where = "pipeline-error";
  $(where).textContent = err.message;
  const input = document.querySelector(`[data-field="${err.field}"]`);
  if (input) input.classList.add("bad");
}

// --- declarations: tasks, methods, their forms --------------------------------------------------
async function loadDeclarations() {
  const health = await api("/api/health");
  const lim = health.limits;
  $("limits").textContent = `Up to ${lim.max_upload_mb} MiB and ${(lim.max_pixels / 1e6).toFixed(0)} megapixels per image.`;
  state.tasks = await api("/api/tasks");
  state.methods = await api("/api/methods");
  const taskSel = $("task");
  taskSel.innerHTML = "";
  for (const t of state.tasks) taskSel.add(new Option(`${t.name}: ${t.summary}`, t.name));
  taskSel.onchange = fillMethods;
  $("method").onchange = fillParams;
  fillMethods();
  fillPipelineInputs();
}

const task = () => state.tasks.find((t) => t.name === $("task").value);
const method = () => state.methods.find((m) => m.task === $("task").value && m.name === $("method").value);

function fillMethods() {
  const t = task();
  const sel = $("method");
  sel.innerHTML = "";
  for (const m of state.methods.filter((m) => m.task === t.name)) {
    const o = new Option(m.name + (m.available ? "" : " (not installed)"), m.name);
    o.disabled = !m.available;
    sel.add(o);
  }
  if ([...sel.options].some((o) => o.value === t.default_method && !o.disabled)) sel.value = t.default_method;
  fillParams();
}

function field(labelText, control, help) {
  const label = document.createElement("label");
  label.append(labelText + " ", control);
  if (help) { const s = document.createElement("small"); s.textContent = help; label.append(s); }
  return label;
}

function numberInput(name, { min, max, step, value, placeholder }) {
  const i = document.createElement("input");
  i.type = "number"; i.name = name; i.dataset.field = name;
  if (min !== null && min !== undefined) i.min = min;
  if (max !== null && max !== undefined) i.max = max;
  i.step = step || "any";
  if (value !== undefined && value !== null) i.value = value;
  if (placeholder) i.placeholder = placeholder;
  return i;
}

function fillParams() {
  const m = method();
  const t = task();
  const box = $("params");
  box.innerHTML = "";
  $("method-summary").textContent = m ? m.summary + (m.note ? " " + m.note : "") : "";
  if (!m) return;
  for (const p of m.params) {
    let control;
    const auto = p.default === "auto";
    if (p.choices) {
      control = document.createElement("select");
      if (auto) control.add(new Option("auto", ""));
      for (const c of p.choices) control.add(new Option(String(c), String(c)));
      if (!auto) control.value = String(p.default);
    } else if (p.type === "bool") {
      control = document.createElement("input");
      control.type = "checkbox";
      control.checked = !!p.default;
    } else if (p.type === "int" || p.type === "float") {
      const [lo, hi] = p.range || [null, null];
      control = numberInput(p.name, { min: lo, max: hi, step: p.type === "int" ? 1 : "any",
        value: auto ? null : p.default, placeholder: auto ? "auto" : "" });
    } else {
      control = document.createElement("input");
      control.type = "text";
      if (!auto) control.value = p.default; else control.placeholder = "auto";
    }
    control.name = p.name;
    control.dataset.param = p.name;
    control.dataset.type = p.type;
    control.dataset.field = "params";
    const range = p.range ? ` [${p.range[0] ?? "-inf"}, ${p.range[1] ?? "inf"}]` : "";
    box.append(field(p.name, control, `${p.help}${range}${auto ? " (empty: automatic)" : ""}`));
  }
  if (m.sigma !== "none") {
    box.append(field("noise level sigma", numberInput("sigma", { min: 0, max: 255, placeholder: "auto" }),
      "0..255 scale; empty: estimated from the image"));
  }
  if (t.strength) {
    box.append(field("strength", numberInput("strength", { min: 0, max: 3, step: 0.05, placeholder: "1" }),
      "0 = off, 1 = as measured, above 1 = stronger"));
  }
  for (const name of [...m.needs, ...m.accepts]) {
    const spec = t.inputs.find((i) => i.name === name);
    if (!spec) continue;
    const up = document.createElement("input");
    up.type = "file"; up.dataset.input = name; up.dataset.field = name;
    up.accept = "image/*,.tif,.tiff";
    const need = m.needs.includes(name) ? " (needed)" : " (optional)";
    if (!spec.file) {
      const text = document.createElement("input");
      text.type = "text"; text.dataset.inputText = name; text.dataset.field = name;
      text.placeholder = spec.example || "";
      if (spec.example && m.needs.includes(name)) text.value = spec.example;
      const help = spec.summary.replace(/``/g, "") + (spec.upload ? `; or upload a ${name} image:` : "");
      box.append(field(name + need, text, help));
      if (spec.upload) box.lastChild.append(up);
    } else {
      box.append(field(name + need, up, spec.summary.replace(/``/g, "")));
    }
  }
}

function fillPipelineInputs() {
  const box = $("pipeline-inputs");
  box.innerHTML = "";
  const seen = new Set();
  for (const t of state.tasks) {
    for (const i of t.inputs) {
      if (seen.has(i.name)) continue;
      seen.add(i.name);
      const up = document.createElement("input");
      up.type = "file"; up.dataset.input = i.name; up.dataset.field = i.name; up.accept = "image/*,.tif,.tiff";
      box.append(field(`${i.name} file for the steps that use one (optional)`, up, ""));
    }
  }
}

function collectParams() {
  const params = {};
  for (const c of $("params").querySelectorAll("[data-param]")) {
    if (c.type === "checkbox") { params[c.dataset.param] = c.checked; continue; }
    if (c.value === "") continue;
    if (c.type === "number") {
      const v = Number(c.value);
      if (c.value.trim() === "" || Number.isNaN(v) || !c.checkValidity()) {
        c.classList.add("bad");
        throw new ApiError(400, `parameter '${c.dataset.param}': ${c.validationMessage || "not a valid number"}`, "params");
      }
      params[c.dataset.param] = v;
    } else {
      params[c.dataset.param] = c.value;
    }
  }
  return params;
}

const mode = () => document.querySelector("input[name=mode]:checked").value;

function showMode() {
  $("wizard-panel").hidden = mode() !== "wizard";
  $("method-panel").hidden = mode() !== "method";
  $("pipeline-panel").hidden = mode() !== "pipeline";
  updateRunButton();
}

function updateRunButton() {
  const n = state.files.length;
  $("run").disabled = n === 0;
  $("run").textContent = mode() === "wizard" ? (n > 1 ? `Run the wizard on ${n} images` : "Run the plan")
    : (n > 1 ? `Run on ${n} images` : "Run");
  $("run-hint").textContent = n === 0 ? "Choose an image first." : "";
}

// --- choosing images, the wizard's analysis -----------------------------------------------------
function setFiles(list) {
  clearErrors();
  state.files = [...list];
  updateRunButton();
  if (state.files.length) analyse(state.files[0]);
}

const LABELS = [
  ["size", (a, img) => `${img.width} x ${img.height}, ${img.format} ${img.bit_depth}-bit${img.alpha ? ", with transparency" : ""}`],
  ["noise", (a) => a.noise_sigma == null ? "not measured" : `sigma ${a.noise_sigma.toFixed(1)} (0..255), ${a.noise_type}` +
    (a.noise_rms != null ? `; residual RMS ${a.noise_rms.toFixed(1)}` : "")],
  ["blur", (a) => a.likely_blurred === undefined ? "not measured" : (a.likely_blurred ? "likely blurred" : "sharp enough") +
    (a.detail_ratio != null ? ` (detail ratio ${a.detail_ratio.toFixed(2)})` : "")],
  ["JPEG blocking", (a) => a.blockiness === undefined ? "not measured" : (a.likely_blocky ? "visible" : "none to speak of") +
    ` (blockiness ${a.blockiness.toFixed(2)}${a.jpeg_grid_quality ? `, about quality ${a.jpeg_grid_quality}` : ""})`],
  ["exposure", (a) => a.exposure === undefined ? "not measured" : `${a.exposure} (mean ${(a.mean_luminance * 100).toFixed(0)} %, key ${a.key.toFixed(3)})`],
  ["contrast", (a) => a.spread === undefined ? "not measured" : `${a.low_contrast ? "low" : "fine"}: tones span ${(a.spread * 100).toFixed(0)} % of the range`],
];

function facts(dl, rows) {
  dl.innerHTML = "";
  for (const [k, v] of rows) {
    const dt = document.createElement("dt"); dt.textContent = k;
    const dd = document.createElement("dd"); dd.textContent = v;
    dl.append(dt, dd);
  }
}

async function analyse(file) {
  $("analysis").hidden = true;
  $("analysis-status").textContent = `Measuring ${file.name} ...`;
  const form = new FormData();
  form.append("image", file, file.name);
  try {
    const a = await api("/api/analyze", { method: "POST", body: form });
    state.analysed = a;
    $("analysis-status").textContent = "";
    $("analysis-name").textContent = `(${a.name})`;
    facts($("measurements"), LABELS.map(([k, f]) => [k, safe(() => f(a.measurements, a.image))]));
    const ol = $("plan-steps");
    ol.innerHTML = "";
    const steps = (a.plan && a.plan.steps) || [];
    if (!steps.length) {
      const li = document.createElement("li");
      li.textContent = "Nothing to do: the photo looks fine. Running it gives the file back unchanged.";
      ol.append(li);
    }
    steps.forEach((s, i) => {
      const li = document.createElement("li");
      const b = document.createElement("strong");
      b.textContent = `${s.task} with ${s.method}`;
      li.append(b, document.createTextNode(": " + (a.reasons[i] || "")));
      ol.append(li);
    });
    const ul = $("plan-skipped");
    ul.innerHTML = "";
    for (const s of a.skipped || []) { const li = document.createElement("li"); li.textContent = s; ul.append(li); }
    $("analysis").hidden = false;
  } catch (e) {
    $("analysis-status").textContent = "";
    showError(e, "image-error");
  }
}

function safe(f) { try { return f(); } catch (e) { return "not measured"; } }

// --- running: the queue --------------------------------------------------------------------------
function jobForm(file) {
  const form = new FormData();
  form.append("image", file, file.name);
  const truth = $("truth").files[0];
  if (truth) form.append("truth", truth, truth.name);
  if (mode() === "method") {
    form.append("task", $("task").value);
    form.append("method", $("method").value);
    form.append("params", JSON.stringify(collectParams()));
    const sigma = $("params").querySelector("input[name=sigma]");
    if (sigma && sigma.value !== "") form.append("sigma", sigma.value);
    const strength = $("params").querySelector("input[name=strength]");
    if (strength && strength.value !== "") form.append("strength", strength.value);
    for (const t of $("params").querySelectorAll("[data-input-text]")) {
      if (t.value.trim()) form.append(t.dataset.inputText, t.value.trim());
    }
    for (const up of $("params").querySelectorAll("input[type=file][data-input]")) {
      if (up.files[0]) form.append(up.dataset.input, up.files[0], up.files[0].name);
    }
  } else if (mode() === "pipeline") {
    const p = $("pipeline-file").files[0];
    if (!p) throw new ApiError(400, "choose a pipeline file first", "pipeline");
    form.append("pipeline", p, p.name);
    for (const up of $("pipeline-inputs").querySelectorAll("input[type=file]")) {
      if (up.files[0]) form.append(up.dataset.input, up.files[0], up.files[0].name);
    }
  }
  return form;
}

async function runAll() {
  clearErrors();
  if (!state.files.length) return;
  state.runStarted = Date.now();
  $("overall").hidden = false;
  const files = [...state.files];
  for (const file of files) {
    const row = addRow(file.name);
    let form;
    try {
      form = jobForm(file);
    } catch (e) {
      row.remove();
      showError(e);
      return;
    }
    try {
      const job = await api("/api/jobs", { method: "POST", body: form });
      const entry = { id: job.id, name: file.name, row, view: job };
      state.jobs.push(entry);
      update(entry, job);
      follow(entry);
    } catch (e) {
      row.querySelector(".state").textContent = "refused";
      row.querySelector(".progress-text").textContent = e.message;
      showError(e);
      if (e.status === 401) return;
    }
  }
  updateOverall();
}

function addRow(name) {
  const tr = document.createElement("tr");
  tr.innerHTML = `<td class="name"></td><td class="state">sending</td>
    <td><progress max="1" value="0"></progress> <span class="progress-text"></span></td><td class="actions"></td>`;
  tr.querySelector(".name").textContent = name;
  tr.querySelector("progress").setAttribute("aria-label", name);
  $("queue").querySelector("tbody").append(tr);
  return tr;
}

function follow(entry) {
  // server-sent events; if the browser or a proxy drops them, fall back to polling
  if (window.EventSource) {
    const es = new EventSource(withToken(`/api/jobs/${entry.id}/events`));
    entry.events = es;
    es.addEventListener("state", (ev) => {
      const view = JSON.parse(ev.data);
      update(entry, view);
      if (FINAL.includes(view.state)) es.close();
    });
    es.onerror = () => { es.close(); if (!FINAL.includes(entry.view.state)) poll(entry); };
  } else {
    poll(entry);
  }
}

async function poll(entry) {
  while (!FINAL.includes(entry.view.state)) {
    await new Promise((r) => setTimeout(r, 700));
    try { update(entry, await api(`/api/jobs/${entry.id}`)); } catch (e) { if (e.status === 404) return; }
  }
}

function update(entry, view) {
  const wasFinal = FINAL.includes(entry.view.state) && entry.shown;
  entry.view = view;
  const row = entry.row;
  row.querySelector(".state").textContent = view.state;
  row.querySelector("progress").value = view.progress.fraction;
  let text = view.state === "running" ? `${Math.round(view.progress.fraction * 100)} %` : "";
  if (view.progress.eta_s != null && view.state === "running") text += `, about ${Math.ceil(view.progress.eta_s)} s left`;
  if (view.state === "running" && view.progress.stage) text += ` (${view.progress.stage})`;
  if (view.error) text = view.error;
  if (view.state === "done" && view.result) text = `${view.result.seconds} s`;
  row.querySelector(".progress-text").textContent = text;
  const actions = row.querySelector(".actions");
  actions.innerHTML = "";
  if (!FINAL.includes(view.state)) {
    const b = document.createElement("button");
    b.type = "button"; b.className = "secondary"; b.textContent = "Cancel";
    b.onclick = () => cancel(entry);
    actions.append(b);
  } else if (view.state === "done") {
    const b = document.createElement("button");
    b.type = "button"; b.className = "secondary"; b.textContent = "Show";
    b.onclick = () => showResult(entry);
    actions.append(b);
    if (!wasFinal && !entry.shown) { entry.shown = true; if (!state.selected || state.jobs.indexOf(entry) === 0) showResult(entry); }
  }
  updateOverall();
}

async function cancel(entry) {
  try { update(entry, await api(`/api/jobs/${entry.id}`, { method: "DELETE" })); } catch (e) { showError(e); }
}

function updateOverall() {
  const jobs = state.jobs;
  if (!jobs.length) return;
  const fraction = jobs.reduce((s, j) => s + (FINAL.includes(j.view.state) ? 1 : j.view.progress.fraction), 0) / jobs.length;
  $("overall-bar").value = fraction;
  const active = jobs.filter((j) => !FINAL.includes(j.view.state)).length;
  const elapsed = (Date.now() - state.runStarted) / 1000;
  let text = `${jobs.length - active} of ${jobs.length} finished`;
  if (active && fraction > 0.02) text += `, about ${Math.ceil(elapsed / fraction - elapsed)} s left`;
  $("overall-text").textContent = text;
  $("cancel-all").hidden = active === 0;
  const done = jobs.filter((j) => j.view.state === "done");
  $("zip").hidden = done.length === 0;
  if (done.length) $("zip").href = withToken(`/api/results.zip?ids=${done.map((j) => j.id).join(",")}`);
}

// --- the result: slider, zoom, histograms, numbers ----------------------------------------------
async function showResult(entry) {
  state.selected = entry;
  document.querySelectorAll("#queue tr.selected").forEach((r) => r.classList.remove("selected"));
  entry.row.classList.add("selected");
  const id = entry.id;
  const r = entry.view.result || {};
  $("result").hidden = false;
  $("result-name").textContent = `(${entry.name})`;
  $("img-before").src = withToken(`/api/jobs/${id}/preview/before`);
  $("img-after").src = withToken(`/api/jobs/${id}/preview/after`);
  setSlider($("slider").value);
  $("download").href = withToken(`/api/jobs/${id}/result`);
  $("download").setAttribute("download", "");
  $("save-plan").href = withToken(`/api/jobs/${id}/pipeline?format=yaml`);
  $("save-plan").setAttribute("download", "");
  const rows = [];
  const steps = r.steps || [];
  rows.push(["what ran", steps.length ? steps.map((s) => `${s.task} ${s.method} (${s.seconds} s)`).join(", ")
    : "nothing: the file is returned unchanged"]);
  (r.reasons || []).forEach((why, i) => rows.push([`why step ${i + 1}`, why]));
  rows.push(["time", `${r.seconds} s in all`]);
  if (r.megapixels_per_second != null) rows.push(["speed", `${r.megapixels_per_second} megapixels per second`]);
  if (r.image) rows.push(["file", `${r.image.width} x ${r.image.height}, ${r.image.format} ${r.image.bit_depth}-bit`]);
  if (r.metrics) {
    const b = r.metrics.before, a = r.metrics.after;
    const db = (v) => (typeof v === "number" ? v.toFixed(2) : v) + " dB";
    rows.push(["PSNR", `${db(b.psnr)} before, ${db(a.psnr)} after`]);
    rows.push(["SSIM", `${b.ssim.toFixed(4)} before, ${a.ssim.toFixed(4)} after`]);
    rows.push(["MSE", `${b.mse.toExponential(3)} before, ${a.mse.toExponential(3)} after`]);
  } else if (r.metrics_error) {
    rows.push(["scores", r.metrics_error]);
  }
  facts($("result-facts"), rows);
  try {
    const h = await api(`/api/jobs/${id}/histograms`);
    drawHistogram($("hist-before"), h.before);
    drawHistogram($("hist-after"), h.after);
  } catch (e) { showError(e); }
}

function setSlider(v) {
  $("img-after").style.clipPath = `inset(0 0 0 ${v}%)`;
  $("divider").style.left = `${v}%`;
}

function drawHistogram(canvas, hist) {
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  const colours = { r: "#d33", g: "#2a2", b: "#33d", l: "#333" };
  let top = 1;
  for (const k in hist) for (let i = 1; i < 255; i++) top = Math.max(top, hist[k][i]);
  for (const k in hist) {
    ctx.strokeStyle = colours[k];
    ctx.globalAlpha = 0.8;
    ctx.beginPath();
    hist[k].forEach((c, i) => {
      const y = canvas.height - Math.min(1, c / top) * (canvas.height - 2);
      if (i === 0) ctx.moveTo(i, y); else ctx.lineTo(i, y);
    });
    ctx.stroke();
  }
  canvas.dataset.drawn = "yes";
}

function zoomAt(fx, fy) {
  const viewer = $("viewer");
  const on = !viewer.classList.contains("zoomed");
  viewer.classList.toggle("zoomed", on);
  $("zoom").setAttribute("aria-pressed", String(on));
  $("zoom").textContent = on ? "Fit to the window" : "Zoom to 100 %";
  if (on) {
    const img = $("img-before");
    viewer.scrollLeft = fx * img.naturalWidth - viewer.clientWidth / 2;
    viewer.scrollTop = fy * img.naturalHeight - viewer.clientHeight / 2;
  }
}

// --- wiring ---------------------------------------------------------------------------------------
function wire() {
  const drop = $("drop");
  ["dragenter", "dragover"].forEach((t) => drop.addEventListener(t, (e) => { e.preventDefault(); drop.classList.add("over"); }));
  ["dragleave", "drop"].forEach((t) => drop.addEventListener(t, () => drop.classList.remove("over")));
  drop.addEventListener("drop", (e) => { e.preventDefault(); if (e.dataTransfer.files.length) setFiles(e.dataTransfer.files); });
  $("files").addEventListener("change", (e) => setFiles(e.target.files));
  document.querySelectorAll("input[name=mode]").forEach((r) => r.addEventListener("change", showMode));
  $("run").addEventListener("click", runAll);
  $("cancel-all").addEventListener("click", () => state.jobs.filter((j) => !FINAL.includes(j.view.state)).forEach(cancel));
  $("slider").addEventListener("input", (e) => setSlider(e.target.value));
  $("zoom").addEventListener("click", () => zoomAt(0.5, 0.5));
  // on the stack, not an image: the clipped part of the "after" image takes no clicks
  document.querySelector("#viewer .stack").addEventListener("click", (e) => {
    const rect = e.currentTarget.getBoundingClientRect();
    if ($("viewer").classList.contains("zoomed")) return zoomAt(0.5, 0.5);
    zoomAt((e.clientX - rect.left) / rect.width, (e.clientY - rect.top) / rect.height);
  });
  $("viewer").addEventListener("keydown", (e) => {
    const s = $("slider");
    if (e.key === "ArrowLeft" || e.key === "ArrowRight") {
      s.value = Number(s.value) + (e.key === "ArrowLeft" ? -5 : 5);
      setSlider(s.value);
      e.preventDefault();
    } else if (e.key === "z" || e.key === "Z") {
      zoomAt(0.5, 0.5);
    }
  });
  $("token-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    state.token = $("token").value.trim();
    localStorage.setItem("imagewizard-token", state.token);
    try {
      await loadDeclarations();
      $("token-box").hidden = true;
      $("token-error").textContent = "";
    } catch (err) {
      if (err.status !== 401) showError(err);
    }
  });
  showMode();
}

document.addEventListener("DOMContentLoaded", async () => {
  wire();
  try { await loadDeclarations(); } catch (e) { if (e.status !== 401) showError(e); }
});
