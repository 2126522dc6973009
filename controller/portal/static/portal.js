// MQ 200 portal: live pages (Server-Sent Events), a small SVG chart, firmware upload progress.
"use strict";

(function () {
  const NS = "http://www.w3.org/2000/svg";
  const dataTag = document.getElementById("page-data");
  const page = dataTag ? JSON.parse(dataTag.textContent) : {};

  function fmt(key, value) {
    if (value === null || value === undefined) return "—";
    switch (key) {
      case "power_w": return (value / 1000).toFixed(2) + " kW";
      case "current_a": case "offered_a": case "limit_a": return Number(value).toFixed(1) + " A";
      case "voltage_v": return Number(value).toFixed(0) + " V";
      case "temperature_c": return Number(value).toFixed(1) + " °C";
      case "session_energy_wh": case "energy_wh": return (value / 1000).toFixed(2) + " kWh";
      case "faults": return value.length ? value.map((f) => f.kind || JSON.stringify(f)).join(", ") : "none";
      default: return String(value);
    }
  }

  function svg(tag, attrs, text) {
    const el = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
    if (text !== undefined) el.textContent = text;
    return el;
  }

  function clear(el) { while (el.firstChild) el.removeChild(el.firstChild); }

  // ---------------------------------------------------------------- EVSE status
  const samples = (page.samples || []).slice();
  let sessions = page.sessions || [];
  let current = page.status || null;

  function drawPower() {
    const chart = document.getElementById("power-chart");
    if (!chart) return;
    clear(chart);
    const sid = current && current.session && !current.session.stopped ? current.session.id : null;
    let points = sid === null ? samples.slice(-300) : samples.filter((s) => s.session === sid);
    const W = 640, H = 200, L = 48, B = 24, T = 10, R = 10;
    chart.appendChild(svg("line", { x1: L, y1: H - B, x2: W - R, y2: H - B, stroke: "#9aa8b4" }));
    chart.appendChild(svg("line", { x1: L, y1: T, x2: L, y2: H - B, stroke: "#9aa8b4" }));
    if (points.length < 2) {
      chart.appendChild(svg("text", { x: L + 10, y: H / 2 }, sid === null ? "No session running." : "Waiting for samples…"));
      return;
    }
    const t0 = points[0].t, t1 = points[points.length - 1].t;
    const maxW = Math.max(1000, ...points.map((p) => p.w));
    const x = (t) => L + ((t - t0) / Math.max(1, t1 - t0)) * (W - L - R);
    const y = (w) => H - B - (w / maxW) * (H - B - T);
    const line = points.map((p) => x(p.t).toFixed(1) + "," + y(p.w).toFixed(1)).join(" ");
    const enough = points.length >= 5 && points[points.length - 1].w > 0 ? "yes" : "no";
    chart.appendChild(svg("polyline", { points: line, fill: "none", stroke: "#1565c0", "stroke-width": 2, id: "power-line", "data-enough": enough }));
    chart.appendChild(svg("text", { x: 4, y: T + 8 }, (maxW / 1000).toFixed(1) + " kW"));
    chart.appendChild(svg("text", { x: 4, y: H - B }, "0"));
    chart.appendChild(svg("text", { x: W - R - 60, y: H - 6 }, ((t1 - t0) / 60).toFixed(1) + " min"));
    const last = points[points.length - 1];
    chart.appendChild(svg("text", { x: L + 6, y: H - 6 }, "energy " + (last.wh / 1000).toFixed(2) + " kWh"));
  }

  function drawSessions() {
    const chart = document.getElementById("energy-chart");
    const table = document.getElementById("session-table");
    if (!chart || !table) return;
    clear(chart);
    const done = sessions.filter((s) => s.energy_wh !== null).slice(0, 10).reverse();
    const W = 640, H = 160, B = 22, T = 14;
    const maxWh = Math.max(1000, ...done.map((s) => s.energy_wh));
    const bw = (W - 20) / Math.max(done.length, 1);
    done.forEach((s, i) => {
      const h = (s.energy_wh / maxWh) * (H - B - T);
      chart.appendChild(svg("rect", { x: 10 + i * bw + 4, y: H - B - h, width: bw - 8, height: h, fill: "#43a047" }));
      chart.appendChild(svg("text", { x: 10 + i * bw + 6, y: H - 6 }, "#" + s.id));
      chart.appendChild(svg("text", { x: 10 + i * bw + 6, y: H - B - h - 3 }, (s.energy_wh / 1000).toFixed(2)));
    });
    if (!done.length) chart.appendChild(svg("text", { x: 20, y: H / 2 }, "No finished sessions yet."));
    clear(table);
    const head = table.insertRow();
    for (const h of ["#", "Started", "Ended", "Tag", "kWh", "Cost", "Stop reason"]) {
      const th = document.createElement("th"); th.textContent = h; head.appendChild(th);
    }
    for (const s of sessions) {
      const row = table.insertRow();
      const cells = [s.id, new Date(s.started_at * 1000).toLocaleString(),
        s.stopped_at ? new Date(s.stopped_at * 1000).toLocaleString() : "running",
        s.id_tag, s.energy_wh === null ? "—" : (s.energy_wh / 1000).toFixed(2),
        s.cost === null || s.cost === undefined ? "—" : "$" + s.cost.toFixed(2), s.stop_reason || ""];
      for (const c of cells) row.insertCell().textContent = c;
    }
  }

  function showStatus(st) {
    current = st;
    document.querySelectorAll("[data-k]").forEach((el) => {
      const key = el.getAttribute("data-k");
      if (key in st) el.textContent = fmt(key, st[key]);
    });
    const info = document.getElementById("session-info");
    if (info) {
      const s = st.session;
      info.textContent = s && !s.stopped
        ? "Session #" + s.id + " for tag " + s.id_tag + " since " + new Date(s.started_at * 1000).toLocaleTimeString() +
          ": " + (s.energy_wh / 1000).toFixed(2) + " kWh"
        : (s ? "Session #" + s.id + " finished; unplug to end." : "No session.");
    }
    if (st.sample) samples.push(st.sample);
    if (samples.length > 3600) samples.splice(0, samples.length - 3600);
    drawPower();
  }

  // ---------------------------------------------------------------- LLM status
  function showLlm(llm) {
    const summary = document.getElementById("llm-summary");
    const table = document.getElementById("llm-table");
    if (!summary || !table) return;
    clear(summary);
    const facts = [["Network mode", llm.network_mode], ["LLM", llm.llm_enabled ? "On" : "Off"],
      ["Network status", llm.network_status], ["Gateway status", llm.gateway_status],
      ["Active device", llm.active_device],
      ["Connected / total EVSEs", llm.connected_evses + " / " + llm.total_evses],
      ["Group ID", llm.group_id || "—"]];
    for (const [k, v] of facts) {
      const row = summary.insertRow(); row.insertCell().textContent = k; row.insertCell().textContent = v;
    }
    while (table.rows.length > 1) table.deleteRow(1);
    for (const r of llm.rows) {
      const row = table.insertRow();
      for (const c of [r.index, r.serial_number, r.lan_ip, r.wire_type, r.requested_a, r.pwm_a,
        r.phase_a[0], r.phase_a[1], r.phase_a[2]]) row.insertCell().textContent = c;
    }
    const empty = document.getElementById("llm-empty");
    if (empty) empty.hidden = llm.rows.length > 0;
  }

  function connect() {
    const state = document.getElementById("live-state");
    const source = new EventSource("/portal/events");
    source.addEventListener("open", () => { if (state) state.textContent = "live"; });
    source.addEventListener("error", () => { if (state) state.textContent = "reconnecting…"; });
    source.addEventListener("status", (ev) => showStatus(JSON.parse(ev.data)));
    source.addEventListener("llm", (ev) => showLlm(JSON.parse(ev.data)));
    source.addEventListener("sessions", (ev) => { sessions = JSON.parse(ev.data); drawSessions(); });
    source.addEventListener("logout", () => { source.close(); window.location = "/portal/login"; });
  }

  if (page.live === "status") {
    if (current) showStatus(current);
    drawSessions();
    connect();
  } else if (page.live === "llm") {
    showLlm(page.llm);
    connect();
  }

  // ---------------------------------------------------------------- firmware upload
  const form = document.getElementById("firmware-form");
  if (form) {
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const file = document.getElementById("firmware-file");
      const bar = document.getElementById("firmware-progress");
      const result = document.getElementById("firmware-result");
      if (!file.files.length) { result.className = "flash bad"; result.textContent = "Choose a firmware image file."; return; }
      const xhr = new XMLHttpRequest();
      xhr.open("POST", form.action);
      xhr.setRequestHeader("X-Requested-With", "portal");
      xhr.setRequestHeader("X-CSRF-Token", form.querySelector("input[name=csrf]").value);
      bar.hidden = false; bar.value = 0;
      result.className = ""; result.textContent = "Uploading…";
      xhr.upload.addEventListener("progress", (p) => {
        if (p.lengthComputable) { bar.value = (100 * p.loaded) / p.total; bar.dataset.pct = String(Math.round(bar.value)); }
      });
      xhr.addEventListener("load", () => {
        bar.value = 100;
        bar.dataset.pct = "100";
        let body = { ok: false, message: "unexpected answer (" + xhr.status + ")" };
        try { body = JSON.parse(xhr.responseText); } catch (e) { /* keep the fallback */ }
        result.className = body.ok ? "flash ok" : "flash bad";
        result.textContent = body.message + (body.warning ? " Warning: " + body.warning : "");
        result.setAttribute("data-done", body.ok ? "ok" : "bad");
        if (body.ok) {
          const running = document.getElementById("running-firmware");
          const m = /Firmware (\S+) accepted/.exec(body.message);
          if (running && m) running.textContent = m[1];
        }
      });
      xhr.addEventListener("error", () => { result.className = "flash bad"; result.textContent = "Upload failed: connection lost."; });
      xhr.send(new FormData(form));
    });
  }
})();
