// The doshit dashboard: vanilla JS, no build step. It reads the JSON API of `doshit serve` only and
// writes every string it gets from it with textContent (never innerHTML), so nothing from Redis runs.
// Live updates come from the server-sent events of /events; when they stop, it polls every 2 s.
"use strict";

(function () {
  const POLL_MS = 2000;
  const BUCKET_MS = 10000; // one chart bar per 10 s
  const BUCKETS = 60; // 10 minutes
  const FAILURES_LIMIT = 20;
  const LIST_LIMIT = 50;
  const STATES = ["pending", "executing", "scheduled", "failed"];

  const $ = (selector, root) => (root || document).querySelector(selector);

  // ------------------------------------------------------------------ DOM helpers (text only)

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (name === "class") node.className = value;
      else if (name === "text") node.textContent = String(value);
      else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else node.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children) {
      if (child === undefined || child === null || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
  }

  // Reads a field whatever the server calls it: "error-reason", "error_reason" or "errorReason".
  function pick(obj, name) {
    if (!obj || typeof obj !== "object") return undefined;
    if (name in obj) return obj[name];
    const snake = name.replace(/-/g, "_");
    if (snake in obj) return obj[snake];
    const camel = name.replace(/-([a-z])/g, (_, c) => c.toUpperCase());
    if (camel in obj) return obj[camel];
    return undefined;
  }

  function listOf(data, ...keys) {
    if (Array.isArray(data)) return data;
    if (data && typeof data === "object") {
      for (const key of [...keys, "items", "results", "data"]) {
        if (Array.isArray(data[key])) return data[key];
      }
    }
    return [];
  }

  function num(value) {
    return typeof value === "number" && isFinite(value) ? value : null;
  }

  function fmtCount(value) {
    const n = num(value);
    return n === null ? "–" : n.toLocaleString("en-US");
  }

  function fmtSeconds(seconds) {
    if (seconds === null || seconds === undefined || !isFinite(seconds)) return "–";
    const s = Math.max(0, seconds);
    if (s < 60) return `${Math.round(s)} s`;
    if (s < 3600) return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
    if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
    return `${Math.floor(s / 86400)} d`;
  }

  // Schema timestamps are "YYYY-MM-DDTHH:MM:SS.ffffffZ"; a JSON datetime may be {"__type": ..., "value": ...}.
  function toDate(value) {
    if (value && typeof value === "object") value = value.value || value.$date || null;
    if (typeof value === "number") return new Date(value > 1e12 ? value : value * 1000);
    if (typeof value !== "string") return null;
    const date = new Date(value);
    return isNaN(date.getTime()) ? null : date;
  }

  function ago(value) {
    const date = toDate(value);
    if (!date) return value === undefined || value === null ? "–" : String(value);
    return `${fmtSeconds((Date.now() - date.getTime()) / 1000)} ago`;
  }

  function timeCell(value) {
    const date = toDate(value);
    return el("span", { title: date ? date.toISOString() : null, text: ago(value) });
  }

  function pretty(value) {
    if (typeof value === "string") {
      try {
        return JSON.stringify(JSON.parse(value), null, 2);
      } catch (_) {
        return value;
      }
    }
    return JSON.stringify(value, null, 2);
  }

  // ------------------------------------------------------------------ API

  class HttpError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  async function api(path, options) {
    const response = await fetch(path, {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
      cache: "no-store",
      ...(options || {}),
    });
    const text = await response.text();
    let body = null;
    try {
      body = text ? JSON.parse(text) : null;
    } catch (_) {
      body = text;
    }
    if (response.status === 401 || response.status === 403) {
      showNotice("Not authorized: open this page once as /?token=YOUR_TOKEN (it sets a cookie).", "error");
      throw new HttpError(response.status, "not authorized");
    }
    if (!response.ok) {
      const detail = body && typeof body === "object" ? body.detail || body.error || JSON.stringify(body) : text;
      throw new HttpError(response.status, `${response.status} ${typeof detail === "string" ? detail : JSON.stringify(detail)}`);
    }
    return body;
  }

  let noticeTimer = null;
  function showNotice(message, kind) {
    const box = $("#notice");
    box.textContent = message;
    box.className = `notice ${kind === "info" ? "info" : ""}`;
    box.hidden = false;
    clearTimeout(noticeTimer);
    if (kind === "info") noticeTimer = setTimeout(() => (box.hidden = true), 4000);
  }

  function hideNotice() {
    $("#notice").hidden = true;
  }

  // ------------------------------------------------------------------ queues

  const queueRows = new Map();
  let lastQueuesAt = 0;

  function queueName(q) {
    return String(q.queue ?? q.name ?? "");
  }

  function doneOf(q) {
    const done = q.done && typeof q.done === "object" ? q.done : {};
    return { ok: num(done.successful), bad: num(done.failed), retried: num(done.retried) };
  }

  function renderQueues(data) {
    const queues = listOf(data, "queues").filter((q) => q && typeof q === "object" && queueName(q));
    if (!queues.length && data && !Array.isArray(data) && !listOf(data, "queues").length && !("queues" in data)) {
      return false; // not a queue listing
    }
    lastQueuesAt = Date.now();
    const body = $("#queues tbody");
    const seen = new Set();
    queues.sort((a, b) => queueName(a).localeCompare(queueName(b)));
    queues.forEach((q, index) => {
      const name = queueName(q);
      seen.add(name);
      let row = queueRows.get(name);
      if (!row) {
        row = el("tr", { "data-queue": name }, el("th", { scope: "row", class: "mono", text: name }));
        for (const state of STATES) {
          const link = el("a", { class: "count", href: `#tasks/${encodeURIComponent(name)}/${state}`, title: `List the ${state} tasks of ${name}` });
          row.append(el("td", { class: "n", "data-count": state }, link));
        }
        for (const key of ["successful", "failed", "retried"]) row.append(el("td", { class: "n", "data-done": key }));
        queueRows.set(name, row);
      }
      if (body.children[index] !== row) body.insertBefore(row, body.children[index] || null);
      for (const state of STATES) {
        const cell = row.querySelector(`[data-count="${state}"]`);
        const value = num(pick(q, state));
        cell.firstChild.textContent = fmtCount(value);
        cell.classList.toggle("zero", value === 0);
        cell.classList.toggle("hot", state === "failed" && !!value);
      }
      const done = doneOf(q);
      row.querySelector('[data-done="successful"]').textContent = fmtCount(done.ok);
      row.querySelector('[data-done="failed"]').textContent = fmtCount(done.bad);
      row.querySelector('[data-done="retried"]').textContent = fmtCount(done.retried);
    });
    for (const [name, row] of queueRows) {
      if (!seen.has(name)) {
        row.remove();
        queueRows.delete(name);
      }
    }
    $("#queues-empty").hidden = queues.length > 0;
    recordThroughput(queues);
    return true;
  }

  async function refreshQueues() {
    renderQueues(await api("/queues"));
  }

  // ------------------------------------------------------------------ throughput chart

  const SAMPLES_KEY = "doshit-dashboard-samples";
  const samples = loadSamples(); // {t, ok, bad}: totals of every queue's done counters

  function loadSamples() {
    try {
      const stored = JSON.parse(sessionStorage.getItem(SAMPLES_KEY) || "[]");
      const horizon = Date.now() - BUCKETS * BUCKET_MS;
      return Array.isArray(stored) ? stored.filter((s) => s && num(s.t) !== null && s.t > horizon && num(s.ok) !== null && num(s.bad) !== null) : [];
    } catch (_) {
      return [];
    }
  }

  let savedAt = 0;
  function saveSamples() {
    if (Date.now() - savedAt < 5000) return;
    savedAt = Date.now();
    try {
      sessionStorage.setItem(SAMPLES_KEY, JSON.stringify(samples));
    } catch (_) {
      /* private mode or full: the chart starts afresh on reload */
    }
  }

  function recordThroughput(queues) {
    let ok = 0;
    let bad = 0;
    let known = false;
    for (const q of queues) {
      const done = doneOf(q);
      if (done.ok !== null) (ok += done.ok), (known = true);
      if (done.bad !== null) (bad += done.bad), (known = true);
    }
    if (!known) return;
    samples.push({ t: Date.now(), ok, bad });
    const horizon = Date.now() - BUCKETS * BUCKET_MS - BUCKET_MS;
    while (samples.length > 2 && samples[1].t < horizon) samples.shift();
    saveSamples();
    drawChart();
  }

  function buckets() {
    const now = Date.now();
    const end = Math.floor(now / BUCKET_MS) * BUCKET_MS + BUCKET_MS;
    const bars = Array.from({ length: BUCKETS }, () => ({ ok: 0, bad: 0 }));
    for (let i = 1; i < samples.length; i++) {
      if (samples[i].t - samples[i - 1].t > 30000) continue; // a gap (page closed): not spread on one bar
      const dOk = samples[i].ok - samples[i - 1].ok;
      const dBad = samples[i].bad - samples[i - 1].bad;
      const index = BUCKETS - 1 - Math.floor((end - 1 - samples[i].t) / BUCKET_MS);
      if (index < 0 || index >= BUCKETS) continue;
      if (dOk > 0) bars[index].ok += dOk; // a negative step is a reset (stats purged): skipped
      if (dBad > 0) bars[index].bad += dBad;
    }
    return bars;
  }

  function drawChart() {
    const canvas = $("#chart");
    const ratio = window.devicePixelRatio || 1;
    const width = canvas.clientWidth || 600;
    const height = canvas.clientHeight || 150;
    if (canvas.width !== Math.round(width * ratio) || canvas.height !== Math.round(height * ratio)) {
      canvas.width = Math.round(width * ratio);
      canvas.height = Math.round(height * ratio);
    }
    const ctx = canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, width, height);
    const bars = buckets();
    const peak = Math.max(2, ...bars.map((b) => b.ok + b.bad));
    const scale = niceCeil(peak);
    const left = 34;
    const bottom = height - 16;
    const top = 6;
    const plot = bottom - top;
    const style = getComputedStyle(document.documentElement);
    ctx.font = "11px system-ui, sans-serif";
    ctx.fillStyle = "#6b7280";
    ctx.strokeStyle = "#e3e6eb";
    ctx.lineWidth = 1;
    for (const fraction of [0, 0.5, 1]) {
      const y = Math.round(bottom - fraction * plot) + 0.5;
      ctx.beginPath();
      ctx.moveTo(left, y);
      ctx.lineTo(width, y);
      ctx.stroke();
      ctx.textAlign = "right";
      ctx.textBaseline = fraction === 0 ? "bottom" : fraction === 1 ? "top" : "middle";
      ctx.fillText(String(Math.round(scale * fraction * 10) / 10), left - 4, y);
    }
    ctx.textAlign = "center";
    ctx.textBaseline = "top";
    const step = (width - left) / BUCKETS;
    for (let minutes = 10; minutes >= 0; minutes -= 2) {
      const x = left + (BUCKETS - (minutes * 60000) / BUCKET_MS) * step;
      ctx.fillText(minutes ? `-${minutes} min` : "now", Math.min(x, width - 14), bottom + 3);
    }
    const ok = style.getPropertyValue("--ok").trim() || "#2e9d5b";
    const bad = style.getPropertyValue("--bad").trim() || "#d64545";
    bars.forEach((bar, i) => {
      const x = left + i * step + 1;
      const w = Math.max(1, step - 2);
      const hOk = (bar.ok / scale) * plot;
      const hBad = (bar.bad / scale) * plot;
      ctx.fillStyle = ok;
      ctx.fillRect(x, bottom - hOk, w, hOk);
      ctx.fillStyle = bad;
      ctx.fillRect(x, bottom - hOk - hBad, w, hBad);
    });
    // summary over the last 5 minutes of bars
    const recent = bars.slice(-30);
    const okSum = recent.reduce((s, b) => s + b.ok, 0);
    const badSum = recent.reduce((s, b) => s + b.bad, 0);
    const span = Math.min(300000, Math.max(BUCKET_MS, Date.now() - (samples[0] ? samples[0].t : Date.now())));
    const perMinute = ((okSum + badSum) * 60000) / span;
    const rate = okSum + badSum ? `${((100 * badSum) / (okSum + badSum)).toFixed(1)} % failed` : "no task finished";
    $("#chart-summary").textContent = samples.length > 1 ? `${perMinute.toFixed(1)} tasks/min · ${rate} (last 5 min)` : "collecting…";
    $("#chart").dataset.finished = String(okSum + badSum);
  }

  function niceCeil(value) {
    const power = Math.pow(10, Math.floor(Math.log10(value)));
    for (const m of [1, 2, 5, 10]) if (m * power >= value) return m * power;
    return 10 * power;
  }

  // ------------------------------------------------------------------ workers

  let workersData = [];
  let workersAt = 0;

  function renderWorkers() {
    const body = $("#workers tbody");
    clear(body);
    const elapsed = (Date.now() - workersAt) / 1000;
    for (const w of workersData) {
      const id = String(w.id ?? "");
      const running = listOf(w.running, "tasks");
      const runningCell = el("td");
      if (!running.length) runningCell.append(el("span", { class: "empty", text: "idle" }));
      for (const task of running) {
        const tid = String(task.id ?? "");
        runningCell.append(
          el("a", { class: "running mono", href: `#task/${encodeURIComponent(tid)}`, title: tid },
            `${task.function ?? "?"} · ${fmtSeconds(num(task.seconds) === null ? null : task.seconds + elapsed)}`)
        );
      }
      const age = num(w.heartbeat_age);
      const ageNow = age === null ? null : age + elapsed;
      const queues = listOf(w.queues).join(", ");
      body.append(
        el("tr", { "data-worker": id, title: id },
          el("td", { class: "mono", text: w.hostname ?? "?" }),
          el("td", { class: "n mono", text: w.pid ?? "–" }),
          el("td", { class: "mono", text: queues || "–" }),
          el("td", { text: w.pool ? `${w.pool}${num(w.concurrency) !== null ? ` × ${w.concurrency}` : ""}` : "–" }),
          runningCell,
          el("td", { class: "n", text: fmtCount(w.tasks_successful) }),
          el("td", { class: `n ${num(w.tasks_failed) ? "hot" : ""}`, text: fmtCount(w.tasks_failed) }),
          el("td", { class: "n", title: "seconds its tasks ran since it started", text: num(w.busy_seconds) === null ? "–" : fmtSeconds(w.busy_seconds) }),
          el("td", { class: `n ${ageNow !== null && ageNow > 30 ? "stale" : ""}`, "data-heartbeat": "", text: fmtSeconds(ageNow) }))
      );
    }
    $("#workers-empty").hidden = workersData.length > 0;
    $("#workers-count").textContent = workersData.length ? String(workersData.length) : "";
  }

  async function refreshWorkers() {
    const data = await api("/workers");
    workersData = listOf(data, "workers").filter((w) => w && typeof w === "object");
    workersAt = Date.now();
    renderWorkers();
  }

  // ------------------------------------------------------------------ tasks

  function taskId(row) {
    return String(row.id ?? row.task_id ?? "");
  }

  function rowFields(row) {
    return row.fields && typeof row.fields === "object" ? row.fields : row;
  }

  function requeueButton(id, after) {
    return el("button", {
      type: "button",
      "data-requeue": id,
      title: "Put it back on its queue, to run again",
      text: "Requeue",
      onclick: async (event) => {
        event.preventDefault();
        event.stopPropagation();
        const button = event.currentTarget;
        button.disabled = true;
        try {
          await api(`/tasks/${encodeURIComponent(id)}/requeue`, { method: "POST" });
          showNotice(`Requeued ${id}.`, "info");
          button.textContent = "Requeued";
          button.setAttribute("data-requeued", "");
          refreshSoon();
          if (after) after();
        } catch (error) {
          button.disabled = false;
          showNotice(`Requeue of ${id} failed: ${error.message}`, "error");
        }
      },
    });
  }

  let failuresSignature = "";

  async function refreshFailures() {
    const data = await api(`/tasks?state=failed&order=date&limit=${FAILURES_LIMIT}`);
    const rows = listOf(data, "tasks", "rows").filter((t) => t && typeof t === "object");
    const signature = JSON.stringify(rows);
    if (signature === failuresSignature) {
      updateAges("#failures");
      return;
    }
    failuresSignature = signature;
    const body = $("#failures tbody");
    clear(body);
    for (const row of rows) {
      const id = taskId(row);
      const f = rowFields(row);
      const reason = pick(f, "error-reason") ?? row.problem ?? "";
      const when = pick(f, "finished-created") ?? pick(f, "pending-created");
      body.append(
        el("tr", { "data-task": id, "data-failure": id },
          el("td", { "data-age": typeof when === "string" ? when : null }, timeCell(when)),
          el("td", { class: "mono" }, el("a", { href: `#task/${encodeURIComponent(id)}`, title: id, text: pick(f, "function") ?? "?" })),
          el("td", { class: "mono", text: pick(f, "queue") ?? "" }),
          el("td", { class: "reason", title: String(reason), "data-reason": "", text: reason }),
          el("td", { class: "n" }, requeueButton(id)))
      );
    }
    $("#failures-empty").hidden = rows.length > 0;
  }

  function updateAges(selector) {
    for (const cell of document.querySelectorAll(`${selector} [data-age]`)) {
      const span = cell.firstChild;
      if (span) span.textContent = ago(cell.getAttribute("data-age"));
    }
  }

  // ------------------------------------------------------------------ panel: one task, or a listing

  let route = { kind: "home" };
  let panelTask = null; // the shown task's fields, to know whether it may still change

  function openPanel(title) {
    $("#panel").hidden = false;
    $("#panel-title").textContent = title;
    return $("#panel-body");
  }

  function closePanel() {
    $("#panel").hidden = true;
    clear($("#panel-body"));
    panelTask = null;
  }

  function parseRoute() {
    const hash = location.hash.replace(/^#/, "");
    const parts = hash.split("/").map((p) => {
      try {
        return decodeURIComponent(p);
      } catch (_) {
        return p;
      }
    });
    if (parts[0] === "task" && parts[1]) return { kind: "task", id: parts.slice(1).join("/") };
    if (parts[0] === "tasks" && parts[1]) return { kind: "tasks", queue: parts[1], state: parts[2] || "pending", offset: Math.max(0, parseInt(parts[3] || "0", 10) || 0) };
    return { kind: "home" };
  }

  function onRoute() {
    route = parseRoute();
    if (route.kind === "task") showTask(route.id, true);
    else if (route.kind === "tasks") showTaskList(route);
    else closePanel();
  }

  function detailFields(data) {
    if (!data || typeof data !== "object") return {};
    for (const key of ["decoded", "fields", "task", "hash"]) {
      const inner = data[key];
      if (inner && typeof inner === "object" && !Array.isArray(inner) && ("state" in inner || "function" in inner)) {
        return { ...inner, ...Object.fromEntries(Object.entries(data).filter(([k, v]) => !(k in inner) && (typeof v !== "object" || v === null))) };
      }
    }
    return data;
  }

  function section(title, ...content) {
    return [el("h3", { text: title }), ...content];
  }

  function progressView(value) {
    if (typeof value === "number" && value >= 0 && value <= 1) {
      return el("div", { "data-progress": String(value) }, el("progress", { max: "1", value: String(value) }), ` ${(value * 100).toFixed(1)} %`);
    }
    if (value && typeof value === "object" && !Array.isArray(value)) {
      const of = num(value.of) ?? num(value.total);
      const fraction = num(value.fraction) ?? (num(value.done) !== null && of ? value.done / of : null);
      if (fraction !== null && fraction >= 0 && fraction <= 1) {
        return el("div", { "data-progress": String(fraction) }, el("progress", { max: "1", value: String(fraction) }), ` ${(fraction * 100).toFixed(1)} %`, el("pre", { text: pretty(value) }));
      }
    }
    return el("pre", { "data-progress": "", text: pretty(value) });
  }

  async function showTask(id, fresh) {
    const body = openPanel(`Task ${id}`);
    if (fresh) {
      clear(body);
      body.append(el("p", { class: "empty", text: "Loading…" }));
    }
    let data;
    try {
      data = await api(`/tasks/${encodeURIComponent(id)}`);
    } catch (error) {
      if (route.kind !== "task" || route.id !== id) return;
      clear(body);
      body.append(el("p", { id: "task-missing", class: "notice", text: error.status === 404 ? `No task with id ${id}.` : `Could not read task ${id}: ${error.message}` }));
      panelTask = null;
      return;
    }
    if (route.kind !== "task" || route.id !== id) return;
    const signature = JSON.stringify(data);
    if (!fresh && panelTask && panelTask.id === id && panelTask.signature === signature) return;
    const f = detailFields(data);
    panelTask = { id, fields: f, signature };
    const state = pick(f, "state");
    const result = pick(f, "result");
    const shown = state === "finished" && result ? result : state;
    const dl = el("dl", { class: "fields" });
    const add = (label, value, attrs) => {
      if (value === undefined || value === null || value === "") return;
      dl.append(el("dt", { text: label }), el("dd", attrs || {}, value instanceof Node ? value : String(value)));
    };
    add("id", id, { class: "mono", "data-field": "id" });
    add("state", el("span", { class: `badge ${shown || ""}`, "data-state": shown || "", text: shown || "?" }));
    add("function", pick(f, "function"), { class: "mono", "data-field": "function" });
    add("queue", pick(f, "queue"), { class: "mono" });
    add("attempt", pick(f, "attempt"), { "data-field": "attempt" });
    add("retries left", pick(f, "retries"));
    add("timeout", pick(f, "timeout") !== undefined ? `${pick(f, "timeout")} s` : undefined);
    add("worker", pick(f, "worker"), { class: "mono" });
    add("username", pick(f, "username"));
    for (const [label, name] of [["submitted", "pending-created"], ["started", "executing-created"], ["finished", "finished-created"], ["scheduled for", "scheduled-for"], ["kill requested", "kill-requested"]]) {
      const value = pick(f, name);
      if (value !== undefined && value !== null) add(label, el("span", { title: toDate(value) ? toDate(value).toISOString() : null, text: `${typeof value === "string" ? value : pretty(value)} (${ago(value)})` }));
    }
    const content = [dl];
    const actions = el("div", { class: "actions" });
    if (result === "failed") actions.append(requeueButton(id, () => setTimeout(() => showTask(id, false), 300)));
    if (state !== "finished") {
      const verb = state === "executing" ? "Kill" : "Cancel";
      let armed = false;
      actions.append(
        el("button", {
          type: "button", class: "danger", "data-cancel": id, text: `${verb}…`,
          title: state === "executing" ? "Kill it: it finishes failed" : "Take it off its queue: it finishes failed, never run",
          onclick: async (event) => {
            const button = event.currentTarget;
            if (!armed) {
              armed = true;
              button.textContent = `Really ${verb.toLowerCase()}?`;
              setTimeout(() => { armed = false; button.textContent = `${verb}…`; }, 4000);
              return;
            }
            try {
              const answer = await api(`/tasks/${encodeURIComponent(id)}`, { method: "DELETE" });
              showNotice(`${id}: ${(answer && answer.status) || "done"}.`, "info");
              refreshSoon();
              setTimeout(() => showTask(id, false), 300);
            } catch (error) {
              showNotice(`${verb} of ${id} failed: ${error.message}`, "error");
            }
          },
        })
      );
    }
    content.push(actions);
    const progress = pick(f, "progress");
    if (progress !== undefined && progress !== null) content.push(...section("Progress", progressView(progress)));
    content.push(...section("Arguments", el("pre", { id: "task-args", text: pretty(pick(f, "args") ?? {}) })));
    const value = pick(f, "result-value");
    if (value !== undefined) content.push(...section("Result", el("pre", { id: "task-result", text: pretty(value) })));
    const reason = pick(f, "error-reason");
    if (reason) content.push(...section("Error", el("pre", { id: "task-reason", text: reason })));
    const traceback = pick(f, "error-exception");
    if (traceback) content.push(...section("Traceback", el("pre", { id: "task-traceback", text: traceback })));
    const errors = listOf(pick(f, "errors"));
    if (errors.length) {
      const table = el("table", { class: "grid", id: "task-errors" }, el("thead", {}, el("tr", {}, el("th", { text: "attempt" }), el("th", { text: "when" }), el("th", { text: "reason" }), el("th", { text: "worker" }))));
      const tbody = el("tbody");
      for (const error of errors) {
        if (!error || typeof error !== "object") continue;
        const reasonCell = el("td", {}, String(error.reason ?? ""));
        if (error.exception) reasonCell.append(el("details", {}, el("summary", { text: "traceback" }), el("pre", { text: String(error.exception) })));
        tbody.append(el("tr", {}, el("td", { class: "n", text: error.attempt ?? "" }), el("td", {}, timeCell(error.at)), reasonCell, el("td", { class: "mono", text: error.worker ?? "" })));
      }
      table.append(tbody);
      content.push(...section("Earlier attempts", table));
    }
    const meta = pick(f, "meta");
    if (meta !== undefined && meta !== null) content.push(...section("Meta", el("pre", { text: pretty(meta) })));
    const problems = Array.isArray(data.problems)
      ? data.problems.map(String)
      : Object.entries(data.problems && typeof data.problems === "object" ? data.problems : {}).map(([name, problem]) => {
          const raw = data.fields && typeof data.fields === "object" ? data.fields[name] : undefined;
          return `${name}: ${problem}${raw === undefined ? "" : `\n    raw: ${raw}`}`;
        });
    if (problems.length) content.push(...section("Fields that do not decode", el("pre", { id: "task-problems", text: problems.join("\n") })));
    const known = new Set(["id", "state", "result", "function", "queue", "attempt", "retries", "timeout", "worker", "username", "pending-created", "executing-created", "finished-created", "scheduled-for", "kill-requested", "progress", "args", "result-value", "error-reason", "error-exception", "errors", "meta", "problems", "task_id", "decoded", "fields", "raw", "key", "finished"]);
    const rest = Object.entries(f).filter(([k]) => !known.has(k) && !known.has(k.replace(/_/g, "-")));
    if (rest.length) {
      const other = el("dl", { class: "fields" });
      for (const [k, v] of rest) other.append(el("dt", { text: k }), el("dd", { class: "mono", text: typeof v === "string" ? v : pretty(v) }));
      content.push(...section("Other fields", other));
    }
    clear(body);
    body.append(...content);
  }

  async function showTaskList(r) {
    const body = openPanel(`${r.state} tasks of ${r.queue}`);
    panelTask = null;
    const params = new URLSearchParams({ queue: r.queue, state: r.state, order: "date", limit: String(LIST_LIMIT), offset: String(r.offset) });
    let data;
    try {
      data = await api(`/tasks?${params}`);
    } catch (error) {
      clear(body);
      body.append(el("p", { class: "notice", text: `Could not list tasks: ${error.message}` }));
      return;
    }
    if (route !== r) return;
    const rows = listOf(data, "tasks", "rows");
    const total = data && typeof data === "object" ? num(data.total) : null;
    const table = el("table", { class: "grid", id: "task-list" }, el("thead", {}, el("tr", {}, el("th", { text: "submitted" }), el("th", { text: "function" }), el("th", { text: "state" }), el("th", { text: "id" }))));
    const tbody = el("tbody");
    for (const row of rows) {
      const id = taskId(row);
      const f = rowFields(row);
      tbody.append(el("tr", { "data-task": id },
        el("td", {}, timeCell(pick(f, "pending-created"))),
        el("td", { class: "mono", text: pick(f, "function") ?? "?" }),
        el("td", { text: row.state ?? pick(f, "state") ?? "" }),
        el("td", { class: "mono" }, el("a", { href: `#task/${encodeURIComponent(id)}`, text: id }))));
    }
    table.append(tbody);
    const base = `#tasks/${encodeURIComponent(r.queue)}/${encodeURIComponent(r.state)}`;
    const pager = el("div", { class: "pager" },
      r.offset > 0 ? el("a", { href: `${base}/${Math.max(0, r.offset - LIST_LIMIT)}`, text: "← newer" }) : null,
      el("span", { text: rows.length ? `${r.offset + 1}–${r.offset + rows.length}${total !== null ? ` of ${fmtCount(total)}` : ""}` : "none" }),
      (total !== null ? r.offset + rows.length < total : rows.length === LIST_LIMIT) ? el("a", { href: `${base}/${r.offset + LIST_LIMIT}`, text: "older →" }) : null);
    clear(body);
    body.append(table, pager);
  }

  // ------------------------------------------------------------------ refreshing

  let source = null;
  let lastEventAt = 0;
  let failuresDirty = true;
  let lastFailuresAt = 0;
  let soonTimer = null;

  function setMode(mode, text) {
    const live = $("#live");
    live.dataset.mode = mode;
    live.textContent = text;
  }

  function eventsLive() {
    return source !== null && source.readyState === EventSource.OPEN && Date.now() - lastEventAt < 5000;
  }

  function refreshSoon() {
    clearTimeout(soonTimer);
    soonTimer = setTimeout(() => {
      failuresDirty = true;
      tick();
    }, 250);
  }

  function onTaskEvent(data) {
    if (!data || typeof data !== "object") return;
    const state = pick(data, "result") ?? pick(data, "state");
    if (state === "failed") failuresDirty = true;
    if (panelTask && String(data.id) === panelTask.id) showTask(panelTask.id, false);
    if (failuresDirty) refreshSoon();
  }

  function connectEvents() {
    if (!window.EventSource) return;
    try {
      source = new EventSource("/events", { withCredentials: true });
    } catch (_) {
      source = null;
      return;
    }
    source.addEventListener("open", () => {
      lastEventAt = Date.now();
      setMode("live", "live");
    });
    source.addEventListener("counts", (event) => {
      lastEventAt = Date.now();
      setMode("live", "live");
      try {
        if (!renderQueues(JSON.parse(event.data))) refreshQueues().catch(() => {});
      } catch (_) {
        refreshQueues().catch(() => {});
      }
    });
    source.addEventListener("task", (event) => {
      lastEventAt = Date.now();
      try {
        onTaskEvent(JSON.parse(event.data));
      } catch (_) {
        failuresDirty = true;
      }
    });
    source.addEventListener("problem", (event) => {
      let message = "the server lost Redis";
      try {
        message = JSON.parse(event.data).error || message;
      } catch (_) {
        /* keep the generic message */
      }
      showNotice(`Live updates stopped: ${message}; reconnecting…`, "error");
    });
    source.addEventListener("message", () => (lastEventAt = Date.now()));
    source.addEventListener("error", () => {
      setMode("polling", "polling every 2 s");
    });
  }

  let ticking = false;
  async function tick() {
    if (ticking) return;
    ticking = true;
    const jobs = [];
    const live = eventsLive();
    if (!live) setMode("polling", source ? "polling every 2 s (events reconnecting)" : "polling every 2 s");
    if (!live || Date.now() - lastQueuesAt > 3000) jobs.push(refreshQueues());
    jobs.push(refreshWorkers());
    if (failuresDirty || !live || Date.now() - lastFailuresAt > 10000) {
      failuresDirty = false;
      lastFailuresAt = Date.now();
      jobs.push(refreshFailures());
    }
    if (panelTask && route.kind === "task") {
      const f = panelTask.fields;
      if (pick(f, "state") !== "finished" || !live) jobs.push(showTask(panelTask.id, false));
    }
    const results = await Promise.allSettled(jobs);
    const failed = results.find((r) => r.status === "rejected");
    if (failed) {
      if (!(failed.reason instanceof HttpError && (failed.reason.status === 401 || failed.reason.status === 403))) {
        setMode("offline", "server unreachable, retrying");
      }
    } else if ($("#notice").className.indexOf("info") < 0) {
      hideNotice();
    }
    ticking = false;
  }

  function start() {
    if (new URLSearchParams(location.search).has("token")) {
      // The server set the cookie on this visit: keep the token out of the address bar and history.
      history.replaceState(null, "", location.pathname + location.hash);
    }
    $("#search-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const id = $("#search").value.trim();
      if (!id) return;
      const target = `#task/${encodeURIComponent(id)}`;
      if (location.hash === target) onRoute();
      else location.hash = target;
    });
    $("#panel-close").addEventListener("click", (event) => {
      event.preventDefault();
      if (location.hash) history.pushState(null, "", location.pathname);
      onRoute();
    });
    document.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && !$("#panel").hidden) $("#panel-close").click();
    });
    window.addEventListener("hashchange", onRoute);
    window.addEventListener("resize", drawChart);
    document.addEventListener("visibilitychange", () => {
      if (!document.hidden) tick();
    });
    drawChart();
    connectEvents();
    tick();
    onRoute();
    setInterval(() => {
      if (!document.hidden) tick();
    }, POLL_MS);
    setInterval(() => {
      if (document.hidden) return;
      renderWorkers();
      drawChart();
    }, 1000);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
