// deltaprop live: draws the frames the server streams (server-sent events) and sends
// the controls back (POST /control). No build step: plain JavaScript with D3 and uPlot.
"use strict";

(() => {
  const NEG = "#f59322";
  const POS = "#0877bd";
  const MID = "#eef0f2";
  const GREY = "#d1d5db";
  const diverging = d3.interpolateRgbBasis([NEG, MID, POS]);
  const classColours = (k) => (k === 2 ? [NEG, POS] : d3.schemeTableau10);
  const DERIVATIVES = {
    identity: "f′(z) = 1",
    sigmoid: "f′(z) = a (1 − a)",
    tanh: "f′(z) = 1 − a²",
    relu: "f′(z) = 1 if z > 0 else 0",
    leaky_relu: "f′(z) = 1 if z > 0 else slope",
    elu: "f′(z) = 1 if z > 0 else a + 1",
    softplus: "f′(z) = sigmoid(z)",
    silu: "f′(z) = s + z s (1 − s), s = sigmoid(z)",
    gelu: "f′(z) of the tanh-approximated GELU",
    exp: "f′(z) = a",
    softmax: "softmax: a Jacobian, not one f′(z)",
  };
  const TASKS = {
    binary: "binary classification",
    multiclass: "multiclass classification",
    regression: "regression",
  };

  const body = document.body;
  const $ = (id) => document.getElementById(id);
  let init = null;
  let frame = null;
  let pending = null;
  let rafId = null;
  let frames = 0;
  const view = { units: "a", links: "weight" };
  let curves = null;
  let lossPlot = null;
  let accuracyPlot = null;
  let net = null; // geometry of the drawing
  let boundary = null;
  let bannerTimer = null;
  let editing = null; // the parameter being set: {layer, kind, i, j}

  // -- formatting ------------------------------------------------------------------------
  function fmt(v, digits = 6) {
    if (v === null || v === undefined || Number.isNaN(v)) return "–";
    const a = Math.abs(v);
    if (a !== 0 && (a >= 1e5 || a < 1e-4)) return v.toExponential(3);
    return Number(v.toPrecision(digits)).toString();
  }
  const pct = (v) => (v === null || v === undefined ? "–" : (100 * v).toFixed(1) + "%");
  const esc = (s) =>
    String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);

  // -- talking to the server -----------------------------------------------------------
  async function send(action, params = {}) {
    try {
      const response = await fetch("/control", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ action, ...params }),
      });
      const reply = await response.json();
      if (!response.ok) {
        flash(reply.error || `the server answered ${response.status}`);
        return null;
      }
      return reply;
    } catch (err) {
      flash(`cannot reach the server: ${err}`);
      return null;
    }
  }

  const source = new EventSource("/events");
  source.addEventListener("init", (event) => onInit(JSON.parse(event.data)));
  source.addEventListener("frame", (event) => {
    const f = JSON.parse(event.data);
    appendCurves(f.curve);
    pending = f;
    if (rafId === null) rafId = requestAnimationFrame(render);
  });
  source.addEventListener("error", () => {
    if (source.readyState === EventSource.CLOSED) showBanner("The connection to the server is closed.", true);
    else if (init) showBanner("Lost the connection to the server; reconnecting…", true);
  });
  source.addEventListener("open", () => {
    if (frame) updateBanner();
  });

  // -- init: a new run -----------------------------------------------------------------
  function onInit(message) {
    init = message;
    frame = null;
    curves = { epoch: [], loss: [], val: [], accEpoch: [], acc: [], valAcc: [] };
    const rows =
      `${init.n_samples} training rows` + (init.n_validation ? ` + ${init.n_validation} validation` : init.validation_note ? " (no validation split)" : "");
    const parts = [init.title, rows, TASKS[init.task], `loss: ${init.loss_name}`, init.optimizer];
    $("subtitle").textContent = parts.filter(Boolean).join(" · ");
    $("subtitle").title = $("subtitle").textContent;
    $("accuracy-stat").hidden = init.task === "regression";
    $("accuracy-panel").hidden = init.task === "regression";
    $("download-preprocessor").hidden = !init.has_preprocessor;
    const menu = $("dataset");
    menu.innerHTML = "";
    for (const d of init.datasets) menu.add(new Option(d.label, d.key));
    menu.value = init.dataset;
    body.dataset.dataset = init.dataset;
    $("data-note").textContent = init.validation_note || "";
    $("data-note").hidden = !init.validation_note;
    selectParameter(null);
    const select = $("activation");
    if (!select.options.length) {
      for (const name of init.activations) select.add(new Option(name, name));
    }
    const arch = init.architecture;
    setField("hidden", arch.hidden.join(","));
    setField("activation", arch.activation);
    setField("seed", arch.seed === null || arch.seed === undefined ? "" : String(arch.seed));
    body.dataset.run = String(init.run);
    buildNetwork();
    buildPlots();
    buildBoundary();
  }

  function setField(id, value) {
    const el = $(id);
    if (document.activeElement === el || el.classList.contains("invalid")) return;
    if (el.tagName === "SELECT" && value !== "" && ![...el.options].some((o) => o.value === value)) {
      el.add(new Option(id === "speed" ? `${value} epochs/s` : value, value));
    }
    el.value = value;
  }

  // -- the network drawing -------------------------------------------------------------
  function buildNetwork() {
    const svg = d3.select("#network");
    svg.selectAll("*").remove();
    const width = svg.node().clientWidth || 600;
    const height = svg.node().clientHeight || 560;
    const sizes = [init.layers[0].n_in, ...init.layers.map((l) => l.n_out)];
    const nMax = d3.max(sizes);
    const showNames = nMax <= 40;
    const left = showNames ? 104 : 24;
    const right = showNames ? 124 : 24;
    const top = 34;
    const bottom = 14;
    const usable = height - top - bottom;
    const spacing = Math.min(56, usable / nMax);
    const radius = Math.max(2.5, Math.min(15, spacing * 0.36));
    const x = (l) => left + (sizes.length === 1 ? 0 : (l * (width - left - right)) / (sizes.length - 1));
    const units = [];
    sizes.forEach((n, l) => {
      const y0 = top + (usable - spacing * (n - 1)) / 2;
      for (let j = 0; j < n; j++) units.push({ layer: l, unit: j, x: x(l), y: n === 1 ? top + usable / 2 : y0 + j * spacing });
    });
    const at = (l, j) => units.find((u) => u.layer === l && u.unit === j);
    const links = [];
    for (let l = 1; l < sizes.length; l++) {
      for (let i = 0; i < sizes[l - 1]; i++) {
        const a = at(l - 1, i);
        for (let j = 0; j < sizes[l]; j++) {
          const b = at(l, j);
          links.push({ layer: l, from: i, to: j, x1: a.x, y1: a.y, x2: b.x, y2: b.y });
        }
      }
    }
    const gLinks = svg.append("g");
    const gUnits = svg.append("g");
    const linkSel = gLinks
      .selectAll("line")
      .data(links)
      .join("line")
      .attr("class", "link")
      .attr("data-layer", (d) => d.layer)
      .attr("data-from", (d) => d.from)
      .attr("data-to", (d) => d.to)
      .attr("x1", (d) => d.x1)
      .attr("y1", (d) => d.y1)
      .attr("x2", (d) => d.x2)
      .attr("y2", (d) => d.y2)
      .attr("stroke", GREY)
      .attr("stroke-width", 1)
      .on("click", (event, d) => selectParameter({ layer: d.layer, kind: "weight", i: d.from, j: d.to }))
      .on("mouseenter", (event, d) => hover(event, linkTip(d), event.currentTarget))
      .on("mousemove", moveTip)
      .on("mouseleave", hideTip);
    const last = sizes.length - 1;
    const unitSel = gUnits
      .selectAll("circle")
      .data(units)
      .join("circle")
      .attr("class", (d) => "unit" + (d.layer === 0 ? " input" : d.layer === last ? " output" : ""))
      .attr("data-layer", (d) => d.layer)
      .attr("data-unit", (d) => d.unit)
      .attr("cx", (d) => d.x)
      .attr("cy", (d) => d.y)
      .attr("r", radius)
      .attr("fill", MID)
      .on("click", (event, d) => {
        if (d.layer > 0) selectParameter({ layer: d.layer, kind: "bias", j: d.unit });
      })
      .on("mouseenter", (event, d) => hover(event, unitTip(d), event.currentTarget))
      .on("mousemove", moveTip)
      .on("mouseleave", hideTip);
    const labels = svg.append("g");
    const gap = sizes.length > 1 ? (width - left - right) / (sizes.length - 1) : width;
    sizes.forEach((n, l) => {
      const act = l > 0 ? init.layers[l - 1].activation : "";
      const name =
        gap >= 120 ? (l === 0 ? `inputs (${n})` : `layer ${l} · ${act}`) : gap >= 60 ? (l === 0 ? "inputs" : `layer ${l}`) : l === 0 ? "in" : String(l);
      labels.append("text").attr("class", "layer-label").attr("x", x(l)).attr("y", 14).text(name);
    });
    if (showNames) {
      const short = (s) => (s.length > 15 ? s.slice(0, 14) + "…" : s);
      for (const u of units) {
        if (u.layer === 0) {
          labels.append("text").attr("class", "name").attr("x", u.x - radius - 6).attr("y", u.y + 4).attr("text-anchor", "end").text(short(init.feature_names[u.unit]));
        } else if (u.layer === last) {
          labels.append("text").attr("class", "name").attr("x", u.x + radius + 6).attr("y", u.y + 4).text(short(outputName(u.unit)));
        }
      }
    }
    net = { units: unitSel, links: linkSel, sizes };
    markSelected();
    body.dataset.units = String(units.length);
    body.dataset.links = String(links.length);
    $("network-caption").textContent = `${units.length} units · ${links.length} weights`;
    updateLegend();
  }

  function outputName(j) {
    const classes = init.class_names;
    if (init.task === "binary") return classes ? `P(${classes[1]})` : "P(class 1)";
    if (init.task === "multiclass") return classes ? classes[j] : `class ${j}`;
    return init.target_name || `output ${j + 1}`;
  }

  function updateLegend() {
    const unitWord = view.units === "a" ? "activation a" : "delta δ = ∂L/∂z";
    const linkWord = view.links === "weight" ? "weight W" : "gradient ∂L/∂W";
    const penalty = init && init.alpha > 0 ? ` + αW[l]/Σw (α = ${fmt(init.alpha)})` : "";
    $("legend").innerHTML =
      `<span>negative<span class="swatch" style="background:linear-gradient(90deg,${NEG},${MID},${POS})"></span>positive</span>` +
      `<span>units: ${unitWord} of row ${frame && frame.sample ? frame.sample.index + 1 : "–"}</span>` +
      `<span>links: ${linkWord} (width ∝ |value| in its layer)</span>` +
      `<span><code>z[l] = a[l−1]·W[l] + b[l]</code>, <code>a[l] = f(z[l])</code>; ` +
      `<code>L = Σᵢ wᵢ lᵢ / Σw</code>${init && init.alpha > 0 ? " + penalty" : ""}, <code>δ[l] = ∂L/∂z[l]</code> (row i carries wᵢ/Σw), ` +
      `<code>∂L/∂W[l] = a[l−1]ᵀ·δ[l]${penalty}</code></span>` +
      `<span>Layers and rows count from 1; W[l]ᵢⱼ joins unit i of layer l−1 (input i for l = 1) to unit j of layer l (rows of W are inputs: z = a·W, the transpose of the textbook's W·a).</span>`;
  }

  function unitValue(d) {
    const s = frame && frame.sample;
    if (!s) return null;
    if (view.units === "a") return d.layer === 0 ? s.x[d.unit] : s.a[d.layer - 1][d.unit];
    return d.layer === 0 ? null : s.delta[d.layer - 1][d.unit];
  }

  function linkValue(d) {
    const layer = frame && frame.layers[d.layer - 1];
    if (!layer) return null;
    const m = view.links === "weight" ? layer.weights : layer.d_weights;
    return m ? m[d.from][d.to] : null;
  }

  function updateNetwork() {
    if (!net || !frame) return;
    const layerMax = (values, key) => {
      const out = new Map();
      values.forEach((v, i) => {
        if (v === null) return;
        const k = key[i];
        out.set(k, Math.max(out.get(k) || 0, Math.abs(v)));
      });
      return out;
    };
    const uData = net.units.data();
    const uValues = uData.map(unitValue);
    const uMax = layerMax(uValues, uData.map((d) => d.layer));
    net.units.attr("fill", (d, i) => {
      const v = uValues[i];
      if (v === null) return GREY;
      const m = uMax.get(d.layer) || 1;
      return diverging(0.5 + 0.5 * (m > 0 ? v / m : 0));
    });
    const lData = net.links.data();
    const lValues = lData.map(linkValue);
    const lMax = layerMax(lValues, lData.map((d) => d.layer));
    net.links
      .attr("stroke", (d, i) => (lValues[i] === null ? GREY : lValues[i] >= 0 ? POS : NEG))
      .attr("stroke-width", (d, i) => {
        const m = lMax.get(d.layer);
        return lValues[i] === null || !m ? 1 : 0.5 + 4.5 * (Math.abs(lValues[i]) / m);
      })
      .attr("stroke-opacity", (d, i) => {
        const m = lMax.get(d.layer);
        return lValues[i] === null || !m ? 0.4 : 0.18 + 0.72 * (Math.abs(lValues[i]) / m);
      });
    updateLegend();
  }

  // -- tooltips: exact values and the formula ------------------------------------------
  const tip = $("tooltip");
  let tipTarget = null;
  let tipContent = null;
  function hover(event, content, target) {
    tipContent = content;
    tipTarget = target;
    d3.select(target).classed("hover", true);
    tip.innerHTML = content();
    tip.hidden = false;
    moveTip(event);
  }
  function moveTip(event) {
    const pad = 14;
    const w = tip.offsetWidth;
    const h = tip.offsetHeight;
    let left = event.clientX + pad;
    let top = event.clientY + pad;
    if (left + w > window.innerWidth - 4) left = event.clientX - w - pad;
    if (top + h > window.innerHeight - 4) top = event.clientY - h - pad;
    tip.style.left = `${left}px`;
    tip.style.top = `${top}px`;
  }
  function hideTip() {
    if (tipTarget) d3.select(tipTarget).classed("hover", false);
    tip.hidden = true;
    tipTarget = tipContent = null;
  }
  const row = (formula, value) => `<div><span class="f">${formula}</span> = <span class="v">${fmt(value, 8)}</span></div>`;

  function unitTip(d) {
    return () => {
      const s = frame && frame.sample;
      const last = net.sizes.length - 1;
      if (d.layer === 0) {
        const name = init.feature_names[d.unit];
        return `<b>input ${d.unit + 1}: ${esc(name)}</b>` + (s ? row(`a[0]${sub(d.unit)} = x (row ${s.index + 1})`, s.x[d.unit]) : "");
      }
      const l = d.layer;
      const act = init.layers[l - 1].activation;
      const title = l === last ? `layer ${l} (output), unit ${d.unit + 1}: ${esc(outputName(d.unit))}` : `hidden layer ${l}, unit ${d.unit + 1}`;
      let html = `<b>${title}</b> <span class="f">(${act})</span>`;
      const p = frame && frame.layers[l - 1];
      if (!s) return html + "<div>no finite numbers in this frame</div>";
      const j = d.unit;
      html += `<div class="f">row ${s.index + 1} of the training data (weight wᵢ = ${fmt(s.weight)}, wᵢ/Σw = ${fmt(s.share)}):</div>`;
      html += row(`z = Σᵢ a[${l - 1}]ᵢ W[${l}]ᵢ${sub(j)} + b[${l}]${sub(j)}`, s.z[l - 1][j]);
      html += row(`a = ${act}(z)`, s.a[l - 1][j]);
      if (s.f_prime[l - 1]) html += row(DERIVATIVES[act] || "f′(z)", s.f_prime[l - 1][j]);
      const deltaFormula =
        l === last
          ? s.canonical
            ? "δ = ∂L/∂z = (wᵢ/Σw)(a − y)"
            : "δ = ∂L/∂z = (wᵢ/Σw) ∂l/∂a · f′(z)"
          : `δ = ∂L/∂z = (Σₖ δ[${l + 1}]ₖ W[${l + 1}]${sub(j)}ₖ) · f′(z)`;
      html += row(deltaFormula, s.delta[l - 1][j]);
      if (l === last) html += row(`y (target of row ${s.index + 1})`, s.y[j]);
      if (p) {
        html += `<div class="f">all training rows:</div>`;
        html += row(`bias b[${l}]${sub(j)}`, p.bias[j]);
        if (p.d_bias) html += row(`∂L/∂b = Σᵢ δᵢ (this row: ${fmt(s.d_bias[l - 1][j])})`, p.d_bias[j]);
      }
      return html + `<div class="f">click: set this bias</div>`;
    };
  }

  function sub(i) {
    return String(i + 1).replace(/\d/g, (c) => "₀₁₂₃₄₅₆₇₈₉"[+c]);
  }

  function linkTip(d) {
    return () => {
      const p = frame && frame.layers[d.layer - 1];
      const from = d.layer === 1 ? esc(init.feature_names[d.from]) : `unit ${d.from + 1} of hidden layer ${d.layer - 1}`;
      const to = d.layer === net.sizes.length - 1 ? esc(outputName(d.to)) : `unit ${d.to + 1} of hidden layer ${d.layer}`;
      let html = `<b>weight W[${d.layer}]${sub(d.from)}${sub(d.to)}</b><div class="f">from ${from}<br>to ${to}</div>`;
      if (!p) return html;
      const w = p.weights[d.from][d.to];
      html += row("W", w);
      if (p.d_weights) {
        const g = p.d_weights[d.from][d.to];
        const lr = frame.settings.learning_rate;
        const s = frame.sample;
        const pen = p.d_weights_penalty ? ` + αW/Σw` : "";
        html += row(`∂L/∂W = Σᵢ a[${d.layer - 1}]ᵢ${sub(d.from)} δ[${d.layer}]ᵢ${sub(d.to)}${pen}`, g);
        if (s) html += row(`row ${s.index + 1}'s share a[${d.layer - 1}]${sub(d.from)} δ[${d.layer}]${sub(d.to)}`, s.d_weights[d.layer - 1][d.from][d.to]);
        if (p.d_weights_penalty) html += row("penalty's share αW/Σw", p.d_weights_penalty[d.from][d.to]);
        html += row(`gradient step: W − η ∂L/∂W (η = ${fmt(lr)})`, w - lr * g);
      }
      return html + `<div class="f">click: set this weight</div>`;
    };
  }

  // -- curves ----------------------------------------------------------------------------
  function plotOptions(el, series, yScale) {
    const log = yScale.distr === 3;
    const yAxis = log
      ? {
          stroke: "#6b7280",
          size: 50,
          splits: logSplits,
          filter: (u, splits) => splits, // every split: the labels are chosen below
          values: (u, splits) => splits.map((v) => (logLabelled(u, v) ? tickLabel(v) : "")),
          grid: { stroke: "#eceef1", width: 1, filter: (u, splits) => splits.map((v) => (logLabelled(u, v) ? v : null)) },
          ticks: { show: true, stroke: "#9ca3af", width: 1, size: 4 },
        }
      : { stroke: "#6b7280", grid: { stroke: "#f0f1f3", width: 1 }, ticks: { show: false }, size: 50, values: yTicks };
    return {
      width: Math.max(200, el.clientWidth || 400),
      height: 138,
      scales: { x: { time: false }, y: yScale },
      axes: [{ stroke: "#6b7280", grid: { stroke: "#eef0f2" }, ticks: { stroke: "#e3e6eb" } }, yAxis],
      legend: { show: false },
      cursor: { drag: { x: true, y: false } },
      series: [{ label: "epoch", value: (u, v) => (v === null ? "–" : String(v)) }, ...series],
    };
  }

  // A log axis: labels at 1, 0.1, 0.01, ... (and at 2 and 5 times them when the axis
  // spans few decades), small unlabelled ticks at the other multiples in between.
  function logLevels(min, max) {
    const lo = Math.floor(Math.log10(min) + 1e-9);
    const hi = Math.ceil(Math.log10(max) - 1e-9);
    const decades = Math.max(1, hi - lo);
    const every = decades > 8 ? 2 : 1;
    const inRange = (v) => v >= min * (1 - 1e-9) && v <= max * (1 + 1e-9);
    const labelled = new Set();
    const splits = [];
    for (let e = lo; e <= hi; e++) {
      const p = Math.pow(10, e);
      if (inRange(p) && (e - lo) % every === 0) labelled.add(+p.toPrecision(12));
      if (decades > 6) {
        if (inRange(p)) splits.push(+p.toPrecision(12));
        continue;
      }
      for (let m = 1; m < 10; m++) {
        const v = +(m * p).toPrecision(12);
        if (!inRange(v)) continue;
        splits.push(v);
        if (decades <= 2 && (m === 2 || m === 5)) labelled.add(v);
      }
    }
    if (labelled.size < 2) splits.forEach((v) => labelled.add(v));
    return { splits, labelled };
  }
  function logSplits(u, axisIdx, min, max) {
    const levels = logLevels(min, max);
    u._logLabelled = levels.labelled;
    return levels.splits;
  }
  function logLabelled(u, v) {
    return u._logLabelled ? u._logLabelled.has(v) : true;
  }
  function tickLabel(v) {
    const a = Math.abs(v);
    return a >= 1e-3 && a < 1e4 ? String(Number(v.toPrecision(3))) : v.toExponential(0);
  }

  function yTicks(u, splits) {
    const log = u.scales.y.distr === 3;
    return splits.map((v) => {
      if (v === null || v === undefined) return "";
      if (v === 0) return "0";
      if (log && Math.abs(Math.log10(v) - Math.round(Math.log10(v))) > 1e-9) return "";
      const a = Math.abs(v);
      return a >= 0.01 && a < 1e4 ? String(Number(v.toPrecision(3))) : v.toExponential(0);
    });
  }

  function seriesKey(withValidation) {
    const key = (colour, name) => `<span class="key"><span class="dash" style="background:${colour}"></span>${name}</span>`;
    return key(POS, "training") + (withValidation ? key(NEG, "validation") : "");
  }

  function buildPlots() {
    const lossEl = $("loss-plot");
    const accEl = $("accuracy-plot");
    if (lossPlot) lossPlot.destroy();
    if (accuracyPlot) accuracyPlot.destroy();
    lossEl.innerHTML = accEl.innerHTML = "";
    const value = (u, v) => (v === null || v === undefined ? "–" : fmt(v, 5));
    const lossSeries = [{ label: "training", stroke: POS, width: 1.6, value }];
    if (init.n_validation) lossSeries.push({ label: "validation", stroke: NEG, width: 1.6, value });
    lossPlot = new uPlot(plotOptions(lossEl, lossSeries, { distr: 3 }), lossData(), lossEl);
    $("loss-caption").innerHTML = seriesKey(init.n_validation) + " · per epoch, log scale";
    $("accuracy-caption").innerHTML = seriesKey(init.n_validation) + " · at the frames shown";
    if (init.task !== "regression") {
      const accSeries = [{ label: "training", stroke: POS, width: 1.6, value: (u, v) => pct(v), points: { show: false } }];
      if (init.n_validation) accSeries.push({ label: "validation", stroke: NEG, width: 1.6, value: (u, v) => pct(v), points: { show: false } });
      const range = (u, min, max) => [Math.max(0, (min ?? 0) - 0.05), Math.min(1, (max ?? 1) + 0.02)];
      accuracyPlot = new uPlot(plotOptions(accEl, accSeries, { range }), accuracyData(), accEl);
    } else {
      accuracyPlot = null;
    }
  }

  function lossData() {
    const data = [curves.epoch, curves.loss];
    if (init.n_validation) data.push(curves.val);
    return data;
  }
  function accuracyData() {
    const data = [curves.accEpoch, curves.acc];
    if (init.n_validation) data.push(curves.valAcc);
    return data;
  }

  function appendCurves(curve) {
    if (!curve || !curves) return;
    const positive = (v) => (v === null || v <= 0 ? null : v);
    curve.loss.forEach((v, k) => {
      curves.epoch.push(curve.start + k + 1);
      curves.loss.push(positive(v));
      curves.val.push(k < curve.val_loss.length ? positive(curve.val_loss[k]) : null);
    });
    for (const [epoch, acc, valAcc] of curve.accuracy) {
      curves.accEpoch.push(epoch);
      curves.acc.push(acc);
      curves.valAcc.push(valAcc);
    }
  }

  function updatePlots() {
    if (lossPlot && curves.epoch.length) lossPlot.setData(lossData());
    if (accuracyPlot && curves.accEpoch.length) accuracyPlot.setData(accuracyData());
  }

  // -- decision boundary -----------------------------------------------------------------
  function buildBoundary() {
    const proj = init.projection;
    const box = $("boundary");
    const room = box.parentElement.clientWidth - 28;
    const width = Math.max(240, Math.min(400, room > 0 ? room : 400));
    const height = Math.round(width * 0.75);
    box.style.width = `${width}px`;
    box.style.height = `${height}px`;
    const m = { left: 44, right: 10, top: 8, bottom: 36 };
    const pw = width - m.left - m.right;
    const ph = height - m.top - m.bottom;
    const canvas = $("boundary-canvas");
    const dpr = window.devicePixelRatio || 1;
    canvas.width = pw * dpr;
    canvas.height = ph * dpr;
    canvas.style.width = `${pw}px`;
    canvas.style.height = `${ph}px`;
    canvas.style.left = `${m.left}px`;
    canvas.style.top = `${m.top}px`;
    const svg = d3.select("#boundary-svg").attr("width", width).attr("height", height);
    svg.selectAll("*").remove();
    const g = svg.append("g").attr("transform", `translate(${m.left},${m.top})`);
    const x = d3.scaleLinear(proj.ranges[0], [0, pw]);
    const yRange = proj.kind === "line" ? d3.extent(init.points.label) : proj.ranges[1];
    // the grid image spans exactly the ranges, so only the line plot may round its axis
    const y = d3.scaleLinear(yRange, [ph, 0]);
    if (proj.kind === "line") y.nice();
    const xAxis = g.append("g").attr("class", "axis").attr("transform", `translate(0,${ph})`).call(d3.axisBottom(x).ticks(6));
    const yAxis = g.append("g").attr("class", "axis").call(d3.axisLeft(y).ticks(5));
    const explained = proj.explained;
    const axisName = (k) => proj.axis_labels[k] + (explained ? ` (${(100 * explained[k]).toFixed(0)}% of variance)` : "");
    svg.append("text").attr("class", "axis-label").attr("x", m.left + pw / 2).attr("y", height - 4).attr("text-anchor", "middle").text(axisName(0));
    const yName = proj.kind === "line" ? targetLabel() : axisName(1);
    svg.append("text").attr("class", "axis-label").attr("transform", `translate(11,${m.top + ph / 2}) rotate(-90)`).attr("text-anchor", "middle").text(yName);
    const clipId = `plot-area-${init.run}`;
    g.append("clipPath").attr("id", clipId).append("rect").attr("width", pw).attr("height", ph);
    const contour = g.append("path").attr("clip-path", `url(#${clipId})`).attr("fill", "none").attr("stroke", "#374151").attr("stroke-width", 1.5).attr("stroke-dasharray", "4 3");
    const curve = g.append("path").attr("fill", "none").attr("stroke", "#111827").attr("stroke-width", 2);
    const pts = init.points;
    const k = init.class_names ? init.class_names.length : init.task === "binary" ? 2 : 0;
    let colour;
    if (init.task === "regression") {
      const [lo, hi] = d3.extent(pts.label);
      const scale = d3.scaleSequential(d3.interpolateViridis).domain([lo, hi === lo ? lo + 1 : hi]);
      colour = (v) => scale(v);
    } else {
      const palette = classColours(Math.max(k, 2));
      colour = (v) => palette[v % palette.length];
    }
    const points = g
      .append("g")
      .selectAll("circle")
      .data(pts.u.map((u, i) => ({ u, v: pts.v ? pts.v[i] : pts.label[i], label: pts.label[i], row: pts.row[i] })))
      .join("circle")
      .attr("class", "point")
      .attr("cx", (d) => x(d.u))
      .attr("cy", (d) => y(d.v))
      .attr("r", 3.6)
      .attr("fill", (d) => colour(d.label))
      .on("click", (event, d) => {
        setField("sample", String(d.row + 1));
        send("sample", { index: d.row });
      })
      .on("mouseenter", (event, d) => hover(event, () => pointTip(d), event.currentTarget))
      .on("mousemove", moveTip)
      .on("mouseleave", hideTip);
    boundary = { canvas, pw, ph, x, y, contour, curve, points, colour, k, xAxis, yAxis };
    const title = proj.kind === "line" ? "Prediction" : init.task === "regression" ? "Prediction map" : "Decision boundary";
    $("boundary-title").textContent = title;
    $("boundary-caption").textContent =
      proj.kind === "pca" ? "first two principal components" : proj.kind === "inputs" ? "the two inputs" : "";
    $("boundary-caption").title = proj.kind === "pca" ? "the plane through the training rows' mean spanned by their first two principal components" : "";
  }

  function targetLabel() {
    // a preprocessor standardised a regression target; the network sees those numbers
    return (init.target_name || "target") + (init.has_preprocessor ? " (standardised)" : "");
  }

  function pointTip(d) {
    const label =
      init.task === "regression" ? `${esc(targetLabel())}: ${fmt(d.label)}` : `class ${esc(init.class_names ? init.class_names[d.label] : d.label)}`;
    return `<b>row ${d.row + 1}</b><div>${label}</div><div class="f">click: colour the units by this row</div>`;
  }

  function tint(colour, t) {
    const c = d3.rgb(colour);
    return [255 + (c.r - 255) * t, 255 + (c.g - 255) * t, 255 + (c.b - 255) * t];
  }

  function updateBoundary() {
    if (!boundary || !frame) return;
    const grid = frame.grid;
    const proj = init.projection;
    const b = boundary;
    const ctx = b.canvas.getContext("2d");
    if (!grid) {
      ctx.clearRect(0, 0, b.canvas.width, b.canvas.height);
      b.contour.attr("d", null);
      b.curve.attr("d", null);
      return;
    }
    if (proj.kind === "line") {
      ctx.clearRect(0, 0, b.canvas.width, b.canvas.height);
      const ticks = d3.range(proj.grid_size).map((i) => proj.ranges[0][0] + (i * (proj.ranges[0][1] - proj.ranges[0][0])) / (proj.grid_size - 1));
      const ys = init.task === "regression" ? grid.value : grid.value.map(Number);
      const lo = Math.min(b.y.domain()[0], d3.min(ys));
      const hi = Math.max(b.y.domain()[1], d3.max(ys));
      if (init.task === "regression" && (lo < b.y.domain()[0] || hi > b.y.domain()[1])) {
        b.y.domain([lo, hi]).nice();
        b.yAxis.call(d3.axisLeft(b.y).ticks(5));
        b.points.attr("cy", (d) => b.y(d.v));
      }
      const line = d3.line().x((d, i) => b.x(ticks[i])).y((d) => b.y(Math.max(b.y.domain()[0], Math.min(b.y.domain()[1], d))));
      b.curve.attr("d", line(ys));
      body.dataset.boundary = String(d3.sum(ys, (v, i) => ((i % 97) + 1) * v).toFixed(4));
      highlightSample();
      return;
    }
    const n = proj.grid_size;
    // a short fingerprint of the picture, for tests and scripts
    body.dataset.boundary = String(d3.sum(grid.value, (v, i) => ((i % 97) + 1) * v).toFixed(4));
    const image = new ImageData(n, n);
    const palette = classColours(Math.max(b.k, 2));
    let regScale = null;
    if (grid.kind === "regression") {
      const [lo, hi] = d3.extent(init.points.label);
      regScale = d3.scaleSequential(d3.interpolateViridis).domain([lo, hi === lo ? lo + 1 : hi]).clamp(true);
    }
    for (let r = 0; r < n; r++) {
      for (let c = 0; c < n; c++) {
        const i = r * n + c;
        let rgb;
        if (grid.kind === "binary") rgb = tint(diverging(grid.value[i]), 0.55);
        else if (grid.kind === "multiclass") {
          const conf = grid.confidence[i];
          const floor = 1 / Math.max(b.k, 2);
          rgb = tint(palette[grid.value[i] % palette.length], 0.15 + 0.5 * Math.max(0, (conf - floor) / (1 - floor)));
        } else rgb = tint(regScale(grid.value[i]), 0.6);
        const p = ((n - 1 - r) * n + c) * 4; // grid row r is the r-th value of the second axis, from the bottom
        image.data[p] = rgb[0];
        image.data[p + 1] = rgb[1];
        image.data[p + 2] = rgb[2];
        image.data[p + 3] = 255;
      }
    }
    const small = document.createElement("canvas");
    small.width = small.height = n;
    small.getContext("2d").putImageData(image, 0, 0);
    ctx.imageSmoothingEnabled = true;
    ctx.imageSmoothingQuality = "high";
    // each grid value sits at a cell centre: stretch so centres land on the axis ends
    const cw = b.canvas.width / (n - 1);
    const ch = b.canvas.height / (n - 1);
    ctx.drawImage(small, -cw / 2, -ch / 2, b.canvas.width + cw, b.canvas.height + ch);
    if (grid.kind === "binary") {
      const [c0] = d3.contours().size([n, n]).thresholds([0.5])(grid.value);
      const [u0, u1] = proj.ranges[0];
      const [v0, v1] = proj.ranges[1];
      const project = d3.geoTransform({
        point(px, py) {
          this.stream.point(b.x(u0 + ((px - 0.5) * (u1 - u0)) / (n - 1)), b.y(v0 + ((py - 0.5) * (v1 - v0)) / (n - 1)));
        },
      });
      b.contour.attr("d", d3.geoPath(project)(c0));
    } else {
      b.contour.attr("d", null);
    }
    highlightSample();
  }

  function highlightSample() {
    const index = frame && frame.sample ? frame.sample.index : -1;
    boundary.points.classed("selected", (d) => d.row === index).filter((d) => d.row === index).raise();
  }

  // -- setting a weight or a bias -------------------------------------------------------
  function paramName(p) {
    return p.kind === "weight" ? `W[${p.layer}]${sub(p.i)}${sub(p.j)}` : `b[${p.layer}]${sub(p.j)}`;
  }
  function paramValue(p) {
    const layer = frame && frame.layers[p.layer - 1];
    if (!layer) return null;
    return p.kind === "weight" ? layer.weights[p.i][p.j] : layer.bias[p.j];
  }
  function selectParameter(p) {
    editing = p;
    $("editor-fields").hidden = !p;
    if (!p) {
      $("editor-name").textContent = "Click a link (a weight) or a unit (its bias) on the network.";
    } else {
      const to = p.layer === net.sizes.length - 1 ? `output ${p.j + 1}` : `unit ${p.j + 1} of layer ${p.layer}`;
      const from = p.layer === 1 ? `input ${p.i + 1}` : `unit ${p.i + 1} of layer ${p.layer - 1}`;
      $("editor-name").textContent =
        p.kind === "weight" ? `${paramName(p)}: the weight from ${from} to ${to}` : `${paramName(p)}: the bias of ${to}`;
      showParameter(true);
    }
    markSelected();
  }
  function showParameter(force) {
    const v = paramValue(editing);
    if (v === null) return;
    const field = $("param-value");
    if (force || document.activeElement !== field) {
      field.value = String(Number(v.toPrecision(6)));
      field.classList.remove("invalid");
    }
    const slider = $("param-slider");
    if (force || document.activeElement !== slider) {
      const span = Math.max(5, Math.ceil(Math.abs(v)));
      slider.min = String(-span);
      slider.max = String(span);
      slider.value = String(v);
    }
  }
  function markSelected() {
    if (!net) return;
    const p = editing;
    net.links.classed("selected", (d) => Boolean(p && p.kind === "weight" && d.layer === p.layer && d.from === p.i && d.to === p.j));
    net.units.classed("selected", (d) => Boolean(p && p.kind === "bias" && d.layer === p.layer && d.unit === p.j));
  }
  let setting = null; // one request at a time; the newest value waits for its turn
  let nextValue = null;
  async function setParameter(value) {
    if (!editing) return;
    nextValue = { ...editing, value };
    if (setting) return;
    while (nextValue) {
      const p = nextValue;
      nextValue = null;
      const params = { layer: p.layer - 1, kind: p.kind, j: p.j, value: p.value };
      if (p.kind === "weight") params.i = p.i;
      setting = send("param", params);
      const reply = await setting;
      setting = null;
      $("param-value").classList.toggle("invalid", reply === null);
    }
  }
  $("param-value").addEventListener("change", (e) => {
    const v = parseNumber(e.target.value);
    const bad = v === undefined || v === null || Math.abs(v) > 1000;
    e.target.classList.toggle("invalid", bad);
    if (!bad) setParameter(v);
  });
  $("param-slider").addEventListener("input", (e) => {
    $("param-value").value = e.target.value;
    setParameter(Number(e.target.value));
  });
  $("restore").addEventListener("click", () => send("restore"));

  // -- each hidden unit over the input plane ----------------------------------------------
  function updateUnits() {
    const panel = $("units-panel");
    const pictures = frame && frame.units;
    panel.hidden = !pictures || !pictures.length;
    if (panel.hidden) return;
    const n = init.projection.unit_grid_size;
    const holder = $("units");
    const key = pictures.map((p) => `${p.layer}:${p.units.join(",")}`).join("|");
    if (holder.dataset.key !== key) {
      holder.innerHTML = "";
      for (const p of pictures) {
        const rowEl = document.createElement("div");
        rowEl.className = "layer-row";
        const name = document.createElement("span");
        name.className = "layer-name";
        name.textContent = `layer ${p.layer + 1}`;
        rowEl.append(name);
        for (const j of p.units) {
          const fig = document.createElement("figure");
          const canvas = document.createElement("canvas");
          canvas.width = canvas.height = n;
          canvas.dataset.layer = String(p.layer + 1);
          canvas.dataset.unit = String(j);
          canvas.title = `layer ${p.layer + 1}, unit ${j + 1}: its output a over the plane of the boundary plot`;
          fig.append(canvas, document.createTextNode(`unit ${j + 1}`));
          rowEl.append(fig);
        }
        holder.append(rowEl);
      }
      holder.dataset.key = key;
      const shown = pictures.reduce((t, p) => t + p.units.length, 0);
      const total = pictures.reduce((t, p) => t + p.n_units, 0);
      $("units-caption").textContent = shown < total ? `${shown} of ${total} units (largest outgoing weights)` : "orange −, blue +";
    }
    const canvases = holder.querySelectorAll("canvas");
    let c = 0;
    for (const p of pictures) {
      p.values.forEach((values) => {
        const canvas = canvases[c++];
        const m = d3.max(values, (v) => Math.abs(v)) || 1;
        const image = new ImageData(n, n);
        for (let r = 0; r < n; r++) {
          for (let k = 0; k < n; k++) {
            const rgb = d3.rgb(diverging(0.5 + 0.5 * (values[r * n + k] / m)));
            const q = ((n - 1 - r) * n + k) * 4; // grid row r is the r-th value of the second axis, from the bottom
            image.data[q] = rgb.r;
            image.data[q + 1] = rgb.g;
            image.data[q + 2] = rgb.b;
            image.data[q + 3] = 255;
          }
        }
        canvas.getContext("2d").putImageData(image, 0, 0);
      });
    }
  }

  // -- a step, followed for one row ------------------------------------------------------
  function showRowTrace(r) {
    const html = [];
    const last = r.layers.length;
    const v = (x) => (x === null || x === undefined ? "–" : fmt(x, 6));
    html.push(
      `<p>Row <b>${r.index + 1}</b>: its weight wᵢ = ${v(r.weight)} of Σw = ${v(r.total_weight)} (share wᵢ/Σw = ${v(r.share)}); ` +
        `its own loss lᵢ = ${v(r.loss)}; the batch's L = ${v(r.data_loss)}` +
        (r.alpha > 0 ? ` + penalty ${v(r.penalty)} (α = ${v(r.alpha)})` : "") +
        `. δ is this row's row of ∂L/∂z, so it carries wᵢ/Σw; the row's share of ∂L/∂W[l] is a[l−1]ᵢᵀ δ[l]ᵢ, and the rows' shares add up to ∂L/∂W[l]${r.alpha > 0 ? " − αW[l]/Σw" : ""}.</p>`,
    );
    r.layers.forEach((L, l) => {
      const name = l + 1 === last ? `layer ${l + 1} (output)` : `layer ${l + 1}`;
      const units = L.z.length;
      const shown = Math.min(units, 12);
      const cols = [...Array(shown).keys()];
      const head = cols.map((j) => `<th>unit ${j + 1}</th>`).join("") + (shown < units ? `<th>… ${units - shown} more</th>` : "");
      const line = (label, values) => `<tr><td class="f">${label}</td>${cols.map((j) => `<td>${v(values ? values[j] : null)}</td>`).join("")}${shown < units ? "<td></td>" : ""}</tr>`;
      const outRule = l + 1 === last ? (r.canonical ? "a − y (canonical)" : "∂l/∂a") : `Σₖ δ[${l + 2}]ₖ W[${l + 2}]ⱼₖ`;
      html.push(`<h3>${name}</h3><table><tr><th></th>${head}</tr>`);
      html.push(line(`z[${l + 1}] = a[${l}]·W + b`, L.z));
      html.push(line(`a[${l + 1}] = f(z)`, L.a));
      if (L.f_prime) html.push(line("f′(z)", L.f_prime));
      html.push(line(outRule, L.d_a));
      html.push(line(`δ[${l + 1}] = ∂L/∂z`, L.delta));
      html.push(line(`row's share of ∂L/∂b = δ`, L.row_d_bias));
      html.push(line("∂L/∂b (all rows)", L.d_bias));
      html.push(line("b after the step", L.bias_after));
      html.push("</table>");
      const ins = Math.min(L.row_d_weights.length, 8);
      const wcols = cols.slice(0, 8);
      let t = `<table><tr><th>∂L/∂W[${l + 1}]ᵢⱼ: row's share a[${l}]ᵢ δⱼ / all rows${L.d_weights_penalty ? " (incl. αW/Σw)" : ""} / W after</th>${wcols.map((j) => `<th>j = ${j + 1}</th>`).join("")}</tr>`;
      for (let i = 0; i < ins; i++) {
        t += `<tr><td class="f">i = ${i + 1}${l === 0 ? ` (${esc(init.feature_names[i] || "")})` : ""}</td>`;
        t += wcols.map((j) => `<td>${v(L.row_d_weights[i][j])}<br>${v(L.d_weights[i][j])}<br>${v(L.weights_after[i][j])}</td>`).join("");
        t += "</tr>";
      }
      if (ins < L.row_d_weights.length) t += `<tr><td class="f">… ${L.row_d_weights.length - ins} more inputs</td></tr>`;
      html.push(t + "</table>");
    });
    $("row-trace").innerHTML = html.join("");
  }

  // -- header, banner and controls -------------------------------------------------------
  function showBanner(text, danger, warning) {
    const el = $("banner");
    el.textContent = text;
    el.classList.toggle("danger", Boolean(danger));
    el.classList.toggle("warning", Boolean(warning));
    body.dataset.warning = warning ? text : "";
    el.hidden = !text;
  }

  function flash(text) {
    showBanner(text, true);
    clearTimeout(bannerTimer);
    bannerTimer = setTimeout(updateBanner, 6000);
  }

  function updateBanner() {
    if (!frame) return showBanner("", false);
    if (frame.diverged || frame.state === "diverged") {
      return showBanner(frame.message || "The loss became NaN or infinite: training diverged. Lower the learning rate, or reset.", true);
    }
    if (frame.state === "error") return showBanner(frame.message, true);
    if (frame.warning) return showBanner(frame.warning, false, true);
    if (frame.state === "done") return showBanner(frame.message + " — raise “Stop at epoch” or clear “Stop at loss”, then play.", false);
    showBanner("", false);
  }

  function updateStats() {
    const f = frame;
    $("epoch").textContent = String(f.epoch);
    $("loss").textContent = fmt(f.loss);
    $("val-loss").textContent = fmt(f.val_loss);
    $("accuracy").textContent = f.val_accuracy === null || f.val_accuracy === undefined ? pct(f.accuracy) : `${pct(f.accuracy)} / ${pct(f.val_accuracy)}`;
    const state = $("state");
    state.textContent = f.state;
    state.className = `pill ${f.state}`;
    $("play").textContent = f.state === "running" ? "Pause" : "Play";
    const s = f.settings;
    setField("learning-rate", String(s.learning_rate));
    setField("batch-size", s.batch_size === null ? "" : String(s.batch_size));
    setField("max-iter", String(s.max_iter));
    setField("target-loss", s.target_loss === null ? "" : String(s.target_loss));
    setField("speed", s.epochs_per_second === null ? "" : String(s.epochs_per_second));
    if (f.sample) setField("sample", String(f.sample.index + 1));
    $("restore").disabled = !f.edited;
    body.dataset.edited = String(Boolean(f.edited));
    if (editing) showParameter();
    body.dataset.state = f.state;
    body.dataset.epoch = String(f.epoch);
    body.dataset.loss = f.loss === null ? "" : String(f.loss);
    body.dataset.valLoss = f.val_loss === null ? "" : String(f.val_loss);
    body.dataset.accuracy = f.accuracy === null ? "" : String(f.accuracy);
    body.dataset.diverged = String(Boolean(f.diverged));
    body.dataset.frames = String(frames);
  }

  function render() {
    rafId = null;
    if (!pending || !init || pending.run !== init.run) return;
    frame = pending;
    pending = null;
    frames += 1;
    updateStats();
    updateNetwork();
    updatePlots();
    updateBoundary();
    updateUnits();
    updateBanner();
    if (tipContent && !tip.hidden) tip.innerHTML = tipContent();
  }

  // number fields: send on change; a bad value marks the field and is not sent
  function parseNumber(text, { integer = false, empty = undefined, positive = false } = {}) {
    const t = text.trim().toLowerCase();
    if (t === "" || t === "all" || t === "none") return empty;
    const v = Number(t);
    if (!Number.isFinite(v) || (integer && !Number.isInteger(v)) || (positive && v <= 0)) return undefined;
    return v;
  }
  function numberField(id, key, options) {
    const el = $(id);
    el.addEventListener("change", async () => {
      const v = parseNumber(el.value, options);
      el.classList.toggle("invalid", v === undefined);
      if (v === undefined) return;
      const reply = await send("set", { [key]: v });
      el.classList.toggle("invalid", reply === null);
    });
  }
  numberField("learning-rate", "learning_rate", { positive: true });
  numberField("batch-size", "batch_size", { integer: true, empty: null, positive: true });
  numberField("max-iter", "max_iter", { integer: true, positive: true });
  numberField("target-loss", "target_loss", { empty: null });
  $("speed").addEventListener("change", (e) => send("set", { epochs_per_second: e.target.value === "" ? null : Number(e.target.value) }));
  $("sample").addEventListener("change", (e) => {
    const v = parseNumber(e.target.value, { integer: true });
    const bad = v === undefined || v < 1 || (init && v > init.n_samples);
    e.target.classList.toggle("invalid", bad);
    if (!bad) send("sample", { index: v - 1 }).then((r) => e.target.classList.toggle("invalid", r === null));
  });
  $("dataset").addEventListener("change", async (e) => {
    $("trace-panel").hidden = true;
    const reply = await send("data", { name: e.target.value });
    if (!reply && init) e.target.value = init.dataset;
  });

  $("play").addEventListener("click", async () => {
    const action = frame && frame.state === "running" ? "pause" : "play";
    $("play").textContent = action === "pause" ? "Play" : "Pause";
    await send(action);
  });

  $("step").addEventListener("click", async () => {
    $("step").disabled = true;
    const reply = await send("step");
    $("step").disabled = false;
    if (!reply) return;
    $("trace-title").textContent = `Epoch ${reply.epoch}: one step of backpropagation, followed for row ${reply.row ? reply.row.index + 1 : "–"}`;
    $("trace-note").textContent = reply.trace_is_the_step
      ? "This is exactly the step training just took (full-batch gradient descent)."
      : "This run's optimizer or mini-batches took a different step; the trace shows a plain full-batch gradient-descent step from the same weights.";
    $("trace").textContent = reply.trace_text;
    if (reply.row) showRowTrace(reply.row);
    $("trace-panel").hidden = false;
    $("trace-panel").scrollIntoView({ behavior: "smooth", block: "start" });
  });
  $("trace-close").addEventListener("click", () => {
    $("trace-panel").hidden = true;
  });

  $("reset").addEventListener("click", async () => {
    const hiddenText = $("hidden").value.trim();
    const hidden = hiddenText === "" ? [] : hiddenText.split(/[\s,]+/).map(Number);
    const bad = hidden.some((h) => !Number.isInteger(h) || h < 1);
    $("hidden").classList.toggle("invalid", bad);
    const seed = parseNumber($("seed").value, { integer: true, empty: null });
    $("seed").classList.toggle("invalid", seed === undefined);
    if (bad || seed === undefined) return;
    $("trace-panel").hidden = true;
    await send("reset", { hidden, activation: $("activation").value, seed });
  });

  d3.selectAll("[data-view-units]").on("click", (event) => {
    view.units = event.currentTarget.dataset.viewUnits;
    d3.selectAll("[data-view-units]").classed("on", function () {
      return this.dataset.viewUnits === view.units;
    });
    updateNetwork();
  });
  d3.selectAll("[data-view-links]").on("click", (event) => {
    view.links = event.currentTarget.dataset.viewLinks;
    d3.selectAll("[data-view-links]").classed("on", function () {
      return this.dataset.viewLinks === view.links;
    });
    updateNetwork();
  });

  let resizeTimer = null;
  window.addEventListener("resize", () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => {
      if (!init) return;
      buildNetwork();
      buildPlots();
      buildBoundary();
      updateNetwork();
      updatePlots();
      updateBoundary();
    }, 200);
  });
})();
