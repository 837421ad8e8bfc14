// The interactive space-time diagram that viewer.py inlines into its page: draws the run's data
// (the JSON in #run-data) on a canvas, with zoom, pan, hover and the causal past/future of a click.
"use strict";
(function () {
  const D = JSON.parse(document.getElementById("run-data").textContent);
  const n = D.n, E = D.ev.rank.length, M = D.msg.send.length;
  const rank = D.ev.rank, kind = D.ev.kind, lam = D.ev.lamport, vc = D.ev.vc;
  const INTERNAL = 0, RECV = 2;
  const canvas = document.getElementById("view"), ctx = canvas.getContext("2d");
  const tip = document.getElementById("tip"), status = document.getElementById("status");
  const LEFT = 150, RIGHT = 150, TOP = 24, BOTTOM = 28;
  const COLOUR = { past: "#1f6fd1", future: "#1a9a3a", self: "#ff7f0e", dim: "rgba(0,0,0,0.15)", plain: "#222" };
  // state[e]: 0 concurrent with the selection, 1 in its past, 2 in its future, 3 the selection itself
  const state = new Int8Array(E);
  let selected = -1, xAxis = "lamport", trial = 0, W = 800, H = 400, rowH = 60;
  let scale = 1, offset = 0, drag = null;
  let drawnFaults = { partitions: 0, crashes: 0 }; /* what the last draw showed (test mode reports it) */
  const F = D.faults || { unit: "", partitions: [], crash: [] };
  const modelSeconds = F.unit === "model seconds";

  // per rank, its events in local order (x rises along a rank in both axes)
  const perRank = [];
  for (let r = 0; r < n; r++) perRank.push([]);
  for (let e = 0; e < E; e++) perRank[rank[e]].push(e);
  for (let r = 0; r < n; r++) perRank[r].sort((a, b) => D.ev.seq[a] - D.ev.seq[b]);
  let maxQueue = 0;
  for (let e = 0; e < E; e++) maxQueue = Math.max(maxQueue, D.ev.queue[e]);

  const xv = (e) => (xAxis === "lamport" ? lam[e] : D.ev.time[e]);
  const sx = (v) => offset + v * scale;
  const rowY = (r) => TOP + r * rowH + rowH / 2;
  const name = (e) => D.names[rank[e]] + (D.names[0].length === 1 ? "" : "_") + (D.ev.seq[e] + 1);
  const trialInfo = () => (D.byz ? D.byz.trials[trial] : null);
  const isTraitor = (r) => (trialInfo() ? trialInfo().traitor[r] : D.traitor[r]) > 0;

  function resize() {
    const dpr = window.devicePixelRatio || 1;
    W = Math.max(400, window.innerWidth);
    H = Math.max(160, window.innerHeight - document.getElementById("bar").offsetHeight);
    rowH = Math.max(36, Math.min(140, (H - TOP - BOTTOM) / Math.max(1, n)));
    canvas.style.width = W + "px";
    canvas.style.height = H + "px";
    canvas.width = Math.round(W * dpr);
    canvas.height = Math.round(H * dpr);
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  }

  function fit() {
    let lo = Infinity, hi = -Infinity;
    for (let e = 0; e < E; e++) { lo = Math.min(lo, xv(e)); hi = Math.max(hi, xv(e)); }
    if (!isFinite(lo)) { lo = 0; hi = 1; }
    const span = Math.max(hi - lo, 1e-9);
    scale = (W - LEFT - RIGHT) / span;
    offset = LEFT - lo * scale;
  }

  // 1. The causal past of c: events e with V(e)[rank e] <= V(c)[rank e]; 2. its future: events f
  //    with V(c)[rank c] <= V(f)[rank c]; 3. everything else is concurrent with c.
  function select(c) {
    selected = c;
    if (c < 0) { state.fill(0); status.textContent = "nothing selected"; return; }
    const rc = rank[c], own = vc[c * n + rc];
    let past = 0, future = 0;
    for (let e = 0; e < E; e++) {
      const re = rank[e];
      if (e === c) state[e] = 3;
      else if (vc[e * n + re] <= vc[c * n + re]) { state[e] = 1; past++; }
      else if (own <= vc[e * n + rc]) { state[e] = 2; future++; }
      else state[e] = 0;
    }
    status.textContent = `selected ${name(c)} (Lamport ${lam[c]}): ${past} events in its causal past, ` +
      `${future} in its future, ${E - 1 - past - future} concurrent`;
  }

  function eventColour(e) {
    if (selected < 0) return COLOUR.plain;
    return [COLOUR.dim, COLOUR.past, COLOUR.future, COLOUR.self][state[e]];
  }

  function draw() {
    ctx.clearRect(0, 0, W, H);
    ctx.font = "12px sans-serif";
    ctx.textBaseline = "middle";
    const t = trialInfo();
    // rank lines and labels (traitors red; the commander's order; each general's decision)
    for (let r = 0; r < n; r++) {
      const y = rowY(r);
      ctx.strokeStyle = isTraitor(r) ? "#d62728" : "#888"; ctx.lineWidth = 1.2;
      ctx.beginPath(); ctx.moveTo(LEFT - 10, y); ctx.lineTo(W - RIGHT + 10, y); ctx.stroke();
      let label = D.names[r];
      if (D.rates[r] > 0) label += ` (${D.rates[r]}/s)`;
      if (isTraitor(r)) label += " traitor";
      if (t && r === t.commander) label += " commander";
      ctx.fillStyle = isTraitor(r) ? "#d62728" : "#222"; ctx.textAlign = "right";
      ctx.fillText(label, LEFT - 14, y);
      if (t) {
        ctx.textAlign = "left";
        if (r === t.commander) {
          ctx.fillStyle = "#1a7a30";
          ctx.fillText("orders " + (t.order ? "attack" : "retreat"), W - RIGHT + 14, y);
        } else if (t.decision[r] >= 0) {
          ctx.fillStyle = isTraitor(r) ? "#d62728" : "#1a7a30";
          ctx.fillText("decides " + (t.decision[r] ? "attack" : "retreat"), W - RIGHT + 14, y);
        }
      }
      // clocks: the queue length after each event, as a step line under the rank's line
      if (D.clocks && maxQueue > 0) {
        const ev = perRank[r], base = y + 6, h = rowH * 0.32;
        ctx.strokeStyle = "rgba(230,120,0,0.8)"; ctx.lineWidth = 1;
        ctx.beginPath();
        let prevQ = base;
        for (let k = 0; k < ev.length; k++) {
          const x = sx(xv(ev[k])), q = base + h * D.ev.queue[ev[k]] / maxQueue;
          if (k === 0) ctx.moveTo(x, base); else ctx.lineTo(x, prevQ);
          ctx.lineTo(x, q); prevQ = q;
        }
        ctx.stroke();
        ctx.fillStyle = "rgba(230,120,0,0.9)"; ctx.textAlign = "right";
        ctx.fillText(`queue (max ${maxQueue})`, LEFT - 14, base + h);
      }
    }
    drawFaults();
    // messages: arrows send -> receive, batched into one path per colour; undelivered and lost
    // ones end in a cross (and their fate's name)
    const paths = new Map(), heads = [];
    let visible = 0;
    for (let m = 0; m < M; m++) {
      const s = D.msg.send[m], r = D.msg.recv[m];
      const x1 = sx(xv(s)), y1 = rowY(rank[s]);
      let x2, y2;
      if (r >= 0) { x2 = sx(xv(r)); y2 = rowY(rank[r]); }
      else { x2 = x1 + 30; y2 = (y1 + rowY(D.msg.dst[m])) / 2; }
      if ((x1 < 0 && x2 < 0) || (x1 > W && x2 > W)) continue;
      visible++;
      let colour = isTraitor(rank[s]) ? "rgba(214,39,40,0.75)" : "rgba(31,111,209,0.6)";
      if (selected >= 0) {
        const a = state[s], b = r >= 0 ? state[r] : -1;
        colour = (a === 1 || a === 3) && (b === 1 || b === 3) ? COLOUR.past
          : (a === 2 || a === 3) && (b === 2 || b === 3 || b === -1) ? COLOUR.future : COLOUR.dim;
      }
      if (r >= 0) {
        if (!paths.has(colour)) paths.set(colour, { seg: [], seen: new Set() });
        const p = paths.get(colour);
        // one line per pixel pair: at a wide zoom thousands of messages cover the same pixels
        // (lines with an end outside the view are always drawn: their visible slopes differ)
        if (x1 >= 0 && x1 <= W && x2 >= 0 && x2 <= W) {
          const key = ((Math.round(x1) * 8192 + Math.round(x2)) * 1024 + rank[s]) * 1024 + rank[r];
          if (p.seen.has(key)) continue;
          p.seen.add(key);
        }
        p.seg.push(x1, y1, x2, y2);
        heads.push(m, colour, x1, y1, x2, y2);
      } else {
        ctx.setLineDash([4, 3]); ctx.strokeStyle = r === -2 ? "#999" : "#d62728"; ctx.lineWidth = 1;
        ctx.beginPath(); ctx.moveTo(x1, y1); ctx.lineTo(x2, y2); ctx.stroke(); ctx.setLineDash([]);
        if (r === -1) {
          ctx.beginPath(); ctx.moveTo(x2 - 4, y2 - 4); ctx.lineTo(x2 + 4, y2 + 4);
          ctx.moveTo(x2 - 4, y2 + 4); ctx.lineTo(x2 + 4, y2 - 4); ctx.stroke();
          const fate = D.msg.fate[m];
          if (fate >= 2) { ctx.fillStyle = "#d62728"; ctx.textAlign = "left"; ctx.fillText(D.fate_names[fate], x2 + 6, y2); }
        }
      }
    }
    ctx.lineWidth = 1;
    for (const [colour, p] of paths) {
      const seg = p.seg;
      ctx.strokeStyle = colour;
      ctx.beginPath();
      for (let k = 0; k < seg.length; k += 4) { ctx.moveTo(seg[k], seg[k + 1]); ctx.lineTo(seg[k + 2], seg[k + 3]); }
      ctx.stroke();
    }
    // arrowheads and oral-message labels only when few enough messages are in view to read them
    const detail = visible <= 3000;
    for (let k = 0; detail && k < heads.length; k += 6) {
      const m = heads[k], x1 = heads[k + 2], y1 = heads[k + 3];
      const a = Math.atan2(heads[k + 5] - y1, heads[k + 4] - x1), h = 8;
      const x2 = heads[k + 4] - 6 * Math.cos(a), y2 = heads[k + 5] - 6 * Math.sin(a); /* at the dot's rim */
      ctx.fillStyle = heads[k + 1];
      ctx.beginPath(); ctx.moveTo(x2, y2);
      ctx.lineTo(x2 - h * Math.cos(a - 0.35), y2 - h * Math.sin(a - 0.35));
      ctx.lineTo(x2 - h * Math.cos(a + 0.35), y2 - h * Math.sin(a + 0.35));
      ctx.closePath(); ctx.fill();
      if (D.msg.label[m] && (visible < 400 || scale > 30)) {
        ctx.fillStyle = "#555"; ctx.textAlign = "center";
        ctx.fillText(D.msg.label[m], (x1 + x2) / 2, (y1 + y2) / 2 - 7);
      }
    }
    // events: send filled, receive open, internal a square; one path per (colour, kind), and per
    // rank at most one event per pixel column and colour (the rest would cover the same pixels)
    const groups = new Map();
    for (let r = 0; r < n; r++) {
      const ev = perRank[r], y = rowY(r);
      let lo = 0, hi = ev.length;
      while (lo < hi) { const mid = (lo + hi) >> 1; if (sx(xv(ev[mid])) < -10) lo = mid + 1; else hi = mid; }
      let lastPx = -1e9, lastKey = "";
      for (let k = lo; k < ev.length; k++) {
        const e = ev[k], x = sx(xv(e));
        if (x > W + 10) break;
        const c = eventColour(e), key = c + kind[e];
        if (Math.round(x) === lastPx && key === lastKey && e !== selected) continue;
        lastPx = Math.round(x); lastKey = key;
        if (!groups.has(key)) groups.set(key, { colour: c, kind: kind[e], pts: [] });
        groups.get(key).pts.push(x, y, e === selected ? 7 : 5);
      }
    }
    for (const g of groups.values()) {
      ctx.fillStyle = g.colour; ctx.strokeStyle = g.colour; ctx.lineWidth = 1.5;
      ctx.beginPath();
      for (let k = 0; k < g.pts.length; k += 3) {
        const x = g.pts[k], y = g.pts[k + 1], big = g.pts[k + 2];
        if (g.kind === INTERNAL) ctx.rect(x - big + 1, y - big + 1, 2 * big - 2, 2 * big - 2);
        else { ctx.moveTo(x + big, y); ctx.arc(x, y, big, 0, 2 * Math.PI); }
      }
      if (g.kind === RECV) { ctx.fillStyle = "#fff"; ctx.fill(); ctx.stroke(); } else ctx.fill();
    }
    // the axis
    ctx.fillStyle = "#555"; ctx.textAlign = "center";
    const lo = (LEFT - offset) / scale, hi = (W - RIGHT - offset) / scale;
    const step = Math.pow(10, Math.floor(Math.log10(Math.max((hi - lo) / 6, 1e-9))));
    for (let v = Math.ceil(lo / step - 1e-9) * step; v <= hi + 1e-9 * step; v += step) ctx.fillText(+v.toPrecision(6), sx(v), H - 10);
    ctx.textAlign = "left";
    ctx.fillText(xAxis === "lamport" ? "Lamport clock" : "model time (s)", 8, H - 10);
  }

  // Faults, under the messages: 1. a partition of a clocks run (model seconds) as a band over
  // [from, to) on the time axis, or over the Lamport clocks of the events made in it, named by
  // its groups; 2. a crashed rank as a bar on its line at its crash time (model seconds, time
  // axis), else just after its last event, named with the time in the run's unit.
  function drawFaults() {
    drawnFaults = { partitions: 0, crashes: 0 };
    for (const p of modelSeconds ? F.partitions : []) { /* 1 */
      let lo = Infinity, hi = -Infinity;
      if (xAxis === "time") { lo = p.from; hi = p.to; }
      else for (let e = 0; e < E; e++) {
        if (D.ev.time[e] >= p.from && D.ev.time[e] < p.to) { lo = Math.min(lo, lam[e]); hi = Math.max(hi, lam[e]); }
      }
      if (!isFinite(lo)) continue;
      const x1 = sx(lo), x2 = Math.max(sx(hi), x1 + 2);
      ctx.fillStyle = "rgba(148,103,189,0.14)";
      ctx.fillRect(x1, TOP - 14, x2 - x1, n * rowH + 10);
      ctx.fillStyle = "#7b4fa6"; ctx.textAlign = "left";
      ctx.fillText("partition " + p.groups.map((g) => g.join(",")).join(" | "), x1 + 3, TOP - 8);
      drawnFaults.partitions++;
    }
    for (let r = 0; r < n; r++) { /* 2 */
      const at = F.crash[r];
      if (!(at >= 0)) continue;
      const ev = perRank[r];
      let x;
      if (xAxis === "time" && modelSeconds) x = sx(at);
      else x = ev.length ? sx(xv(ev[ev.length - 1])) + 12 : LEFT;
      const y = rowY(r);
      ctx.fillStyle = "#111";
      ctx.fillRect(x - 2, y - rowH * 0.3, 4, rowH * 0.6);
      ctx.textAlign = "left";
      ctx.fillText(`crash at ${+at.toPrecision(6)} ${F.unit || ""}`.trim(), x + 6, y - rowH * 0.22);
      drawnFaults.crashes++;
    }
  }

  // the event nearest to a point on the canvas, within 10 px, or -1
  function eventAt(px, py) {
    const r = Math.round((py - TOP - rowH / 2) / rowH);
    if (r < 0 || r >= n || Math.abs(py - rowY(r)) > 12) return -1;
    const ev = perRank[r];
    let lo = 0, hi = ev.length - 1, best = -1, bestD = 10;
    const v = (px - offset) / scale;
    while (lo <= hi) {  // the first event at or after v, then its neighbour before
      const mid = (lo + hi) >> 1;
      if (xv(ev[mid]) < v) lo = mid + 1; else hi = mid - 1;
    }
    for (const k of [lo - 1, lo]) {
      if (k < 0 || k >= ev.length) continue;
      const d = Math.abs(sx(xv(ev[k])) - px);
      if (d <= bestD) { bestD = d; best = ev[k]; }
    }
    return best;
  }

  function describe(e) {
    const v = [];
    for (let j = 0; j < n; j++) v.push(vc[e * n + j]);
    return `${name(e)}  ${["internal", "send", "receive"][kind[e]]}\nrank ${D.names[rank[e]]}, seq ${D.ev.seq[e]}` +
      `\ntime ${D.ev.time[e]} s (model)\nLamport ${lam[e]}\nvector [${v.join(",")}]\nqueue ${D.ev.queue[e]}` +
      `\nrow ${D.ev.row[e]} of /events`;
  }

  const pos = (ev) => { const b = canvas.getBoundingClientRect(); return [ev.clientX - b.left, ev.clientY - b.top]; };
  canvas.addEventListener("mousemove", (ev) => {
    const [x, y] = pos(ev);
    if (drag) {
      if (Math.abs(x - drag.x) > 3) drag.moved = true;
      offset = drag.offset + (x - drag.x); draw(); return;
    }
    const e = eventAt(x, y);
    if (e < 0) { tip.style.display = "none"; return; }
    tip.textContent = describe(e);
    tip.style.left = (ev.clientX + 14) + "px"; tip.style.top = (ev.clientY + 14) + "px";
    tip.style.display = "block";
  });
  canvas.addEventListener("mousedown", (ev) => { const [x] = pos(ev); drag = { x: x, offset: offset, moved: false }; });
  window.addEventListener("mouseup", () => { setTimeout(() => { drag = null; }, 0); });
  canvas.addEventListener("mouseleave", () => { tip.style.display = "none"; });
  canvas.addEventListener("click", (ev) => {
    if (drag && drag.moved) return;
    const [x, y] = pos(ev);
    select(eventAt(x, y));
    draw();
  });
  canvas.addEventListener("wheel", (ev) => {
    ev.preventDefault();
    const [x] = pos(ev), f = Math.exp(-ev.deltaY * 0.0015);
    offset = x - (x - offset) * f; scale *= f; draw();
  }, { passive: false });
  window.addEventListener("keydown", (ev) => {
    if (ev.key === "0") fit();
    else if (ev.key === "ArrowLeft") offset += 60;
    else if (ev.key === "ArrowRight") offset -= 60;
    else if (ev.key === "+" || ev.key === "=") { offset = W / 2 - (W / 2 - offset) * 1.25; scale *= 1.25; }
    else if (ev.key === "-") { offset = W / 2 - (W / 2 - offset) / 1.25; scale /= 1.25; }
    else return;
    draw();
  });
  window.addEventListener("resize", () => { resize(); fit(); draw(); });

  // the bar: title, the x axis, the byz trial, and what is not shown
  document.getElementById("title").textContent =
    `${D.name} (${D.subcommand}, ${n} ranks, ${E} events, ${M} messages)`;
  const box = document.getElementById("trialbox");
  const axis = document.createElement("select");
  axis.innerHTML = '<option value="lamport">x: Lamport clock</option><option value="time">x: model time</option>';
  axis.addEventListener("change", () => { xAxis = axis.value; fit(); draw(); });
  box.appendChild(axis);
  if (D.byz) {
    const sel = document.createElement("select");
    D.byz.trials.forEach((t, k) => {
      const o = document.createElement("option");
      o.value = k;
      o.textContent = `trial ${k}: IC1 ${t.ic1 ? "yes" : "NO"}, IC2 ${t.ic2 ? "yes" : "NO"}`;
      sel.appendChild(o);
    });
    sel.addEventListener("change", () => { trial = +sel.value; draw(); });
    box.appendChild(document.createTextNode(` OM(${D.byz.m}), wire ${D.byz.wire} `));
    box.appendChild(sel);
  }
  if (E < D.total_events) {
    document.getElementById("note").textContent = `showing the first ${E} of ${D.total_events} events ` +
      `(Lamport clock from ${D.start}); viewer.py --start L --limit N shows another range`;
  }
  resize(); fit(); draw();

  // Test mode (#test=click:ROW or #test=click:all): clicks events through real mouse events, as a
  // user would, and writes what the page highlighted, as JSON, into a hidden element with id test-result.
  const m = /^#test=click:(all|\d+)$/.exec(location.hash);
  if (m) {
    const rows = D.ev.row, local = new Map(rows.map((r, i) => [r, i]));
    const targets = m[1] === "all" ? rows.map((_, i) => i) : [local.has(+m[1]) ? local.get(+m[1]) : -1];
    const out = { events: E, clicked: [] };
    for (const e of targets) {
      if (e < 0) { out.clicked.push({ row: +m[1], error: "not on the page" }); continue; }
      scale = 40; offset = W / 2 - xv(e) * 40; draw();
      const b = canvas.getBoundingClientRect(), cx = b.left + sx(xv(e)), cy = b.top + rowY(rank[e]);
      canvas.dispatchEvent(new MouseEvent("mousemove", { clientX: cx, clientY: cy, bubbles: true }));
      canvas.dispatchEvent(new MouseEvent("click", { clientX: cx, clientY: cy, bubbles: true }));
      const past = [], future = [];
      for (let k = 0; k < E; k++) { if (state[k] === 1) past.push(rows[k]); if (state[k] === 2) future.push(rows[k]); }
      out.clicked.push({ row: rows[e], selected: selected >= 0 ? rows[selected] : -1, past: past, future: future,
                         tip: tip.textContent, status: status.textContent });
    }
    const t0 = performance.now();
    fit(); draw();
    out.draw_ms = performance.now() - t0; /* reported, never asserted: how long one full redraw took */
    out.faults = { lamport: drawnFaults };
    xAxis = "time"; fit(); draw();
    out.faults.time = drawnFaults;
    xAxis = "lamport"; fit(); draw();
    out.errors = window.viewerErrors;
    const pre = document.createElement("pre");
    pre.id = "test-result";
    pre.textContent = JSON.stringify(out);
    pre.style.display = "none";
    document.body.appendChild(pre);
  }
})();
