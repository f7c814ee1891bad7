'''The web page's script (see page.py): it reads /metadata, shows the run's task form, and talks to
the task's endpoint with fetch(). Generation is read as a stream of NDJSON lines, so tokens appear
as they are sampled; the forecast is drawn as inline SVG. A refusal shows the server's own
{"error", "fix"} message.'''

SCRIPT = r"""
"use strict";
const $ = (id) => document.getElementById(id);
const SVG = "http://www.w3.org/2000/svg";
let meta = null;
let lastForecast = null;

function showError(reply) {
  const box = $("error");
  box.textContent = (reply.error || "request failed") + (reply.fix ? " (" + reply.fix + ")" : "");
  box.hidden = false;
}

async function post(path, body) {
  const form = body instanceof FormData;
  const response = await fetch(path, {method: "POST", body: form ? body : JSON.stringify(body),
                                      headers: form ? {} : {"Content-Type": "application/json"}});
  const reply = await response.json().catch(() => ({error: "HTTP " + response.status}));
  if (!response.ok) { showError(reply); throw new Error(reply.error); }
  return reply;
}

function oneFile(id) {
  const file = $(id).files[0];
  if (!file) { showError({error: "no file chosen", fix: "choose a file first"}); throw new Error("no file"); }
  return file;
}

async function generate() {
  const body = {prompt: $("generate-input").value, tokens: +$("generate-tokens").value,
                temperature: +$("generate-temperature").value, stream: true};
  if ($("generate-seed").value !== "") body.seed = +$("generate-seed").value;
  $("generate-prompt").textContent = body.prompt;
  $("generate-text").textContent = "";
  $("generate-status").textContent = "generating ...";
  const response = await fetch("/generate", {method: "POST", body: JSON.stringify(body),
                                             headers: {"Content-Type": "application/json"}});
  if (!response.ok) { $("generate-status").textContent = ""; showError(await response.json()); return; }
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const {value, done} = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, {stream: true});
    let end;
    while ((end = buffer.indexOf("\n")) >= 0) {
      const line = JSON.parse(buffer.slice(0, end));
      buffer = buffer.slice(end + 1);
      if (line.error) showError(line);
      if (line.done) $("generate-status").textContent = line.error ? "failed" : "done";
      else $("generate-text").textContent += line.text;
    }
  }
}

function heat(weight, most) {
  return "rgba(220, 60, 40, " + (most > 0 ? (0.85 * weight / most).toFixed(3) : 0) + ")";
}

async function classify() {
  const text = $("classify-input").value;
  const rows = text.trim().split("\n").filter((l) => l.trim()).map((l) => l.split(/[,;\s]+/).filter((v) => v));
  const number = (v) => !Number.isNaN(Number(v)) || /^[+-]?(nan|inf|infinity)$/i.test(v);
  if (rows.length > 1 && !rows[0].every(number)) rows.shift();   // a header, as rnnkit reads sequence CSVs
  const body = meta.reads === "sequences" ? {sequences: [rows.map((r) => r.map(Number))]} : {texts: [text]};
  const [p] = (await post("/classify", body)).predictions;
  $("classify-label").textContent = p.label;
  $("classify-probability").textContent = "p = " + p.probabilities[p.label].toFixed(3);
  $("classify-bars").replaceChildren(...Object.entries(p.probabilities).map(([label, q]) => {
    const row = document.createElement("div"), name = document.createElement("span");
    const bar = document.createElement("div"), value = document.createElement("span");
    row.className = "bar"; name.textContent = label; value.textContent = q.toFixed(3);
    bar.style.width = Math.round(300 * q) + "px";
    row.append(name, bar, value);
    return row;
  }));
  const weights = p.attention || [], most = Math.max(0, ...weights);
  const words = p.tokens || weights.map((_, i) => "t" + i);
  $("classify-tokens").replaceChildren(...(weights.length ? words.map((word, i) => {
    const span = document.createElement("span");
    span.textContent = word; span.title = "attention " + weights[i].toFixed(4);
    span.style.background = heat(weights[i], most);
    return span;
  }) : []));
}

async function forecast() {
  const form = new FormData();
  form.append("file", oneFile("forecast-input"));
  form.append("history", "true");
  lastForecast = await post("/forecast", form);
  const ids = lastForecast.history.map((h) => h.series_id);
  $("forecast-series").replaceChildren(...ids.map((id) => new Option(id, id)));
  draw(ids[0]);
}

function node(tag, attributes, text) {
  const element = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attributes)) element.setAttribute(k, v);
  if (text !== undefined) element.textContent = text;
  return element;
}

function draw(id) {
  const reply = lastForecast, svg = $("forecast-plot");
  const past = reply.history.find((h) => h.series_id === id);
  const rows = reply.forecast.filter((r) => r.series_id === id);
  const keys = Object.keys(reply.forecast[0] || {}), pct = +(reply.level * 100).toFixed(1);
  const lo = keys.find((k) => k.startsWith("lower_")), hi = keys.find((k) => k.startsWith("upper_"));   // as named
  const n = past.value.length, total = n + rows.length;
  const values = [...past.value, ...rows.flatMap((r) => [r.forecast, r[lo], r[hi]])].filter((v) => v !== null);
  const bottom = Math.min(...values), top = Math.max(...values), span = top - bottom || 1;
  const W = 800, H = 340, L = 60, R = 16, T = 16, B = 40;
  const x = (i) => L + i * (W - L - R) / Math.max(total - 1, 1);
  const y = (v) => T + (top - v) * (H - T - B) / span;
  const line = (points) => points.map(([i, v], k) => (k ? "L" : "M") + x(i).toFixed(1) + "," + y(v).toFixed(1))
    .join(" ");
  const ahead = rows.map((r, k) => [n + k, r]);
  const band = [...ahead.map(([i, r]) => [i, r[hi]]), ...ahead.reverse().map(([i, r]) => [i, r[lo]])];
  svg.replaceChildren(
    node("line", {x1: L, y1: H - B, x2: W - R, y2: H - B, stroke: "#999"}),
    node("line", {x1: L, y1: T, x2: L, y2: H - B, stroke: "#999"}),
    node("text", {x: L - 6, y: y(top) + 4, "text-anchor": "end", "font-size": 12}, top.toPrecision(4)),
    node("text", {x: L - 6, y: y(bottom) + 4, "text-anchor": "end", "font-size": 12}, bottom.toPrecision(4)),
    node("text", {x: L, y: H - B + 18, "font-size": 12}, String(past.timestamp[0]).slice(0, 10)),
    node("text", {x: W - R, y: H - B + 18, "text-anchor": "end", "font-size": 12},
         String(rows.length ? rows[rows.length - 1].timestamp : "").slice(0, 10)),
    node("path", {d: line(band) + " Z", fill: "rgba(230, 120, 30, 0.25)", stroke: "none"}),
    node("path", {d: line(past.value.map((v, i) => [i, v])), fill: "none", stroke: "#2456a6", "stroke-width": 2}),
    node("path", {d: line([[n - 1, past.value[n - 1]], ...rows.map((r, k) => [n + k, r.forecast])]),
                  fill: "none", stroke: "#d2691e", "stroke-width": 2}),
    node("text", {x: W - R, y: T + 12, "text-anchor": "end", "font-size": 12},
         "history (blue), forecast (orange), " + pct + "% interval"));
  const head = "<tr><th>timestamp</th><th>forecast</th><th>" + lo + "</th><th>" + hi + "</th></tr>";
  const cell = (v) => "<td>" + (typeof v === "number" ? v.toPrecision(5) : String(v).slice(0, 19)) + "</td>";
  $("forecast-table").innerHTML = head + rows.map(
    (r) => "<tr>" + [r.timestamp, r.forecast, r[lo], r[hi]].map(cell).join("") + "</tr>").join("");
}

async function transcribe() {
  const form = new FormData();
  form.append("file", oneFile("transcribe-input"));
  form.append("beam", $("transcribe-beam").value || "0");
  const reply = await post("/transcribe", form);
  $("transcribe-text").textContent = reply.text || "(nothing heard)";
  $("transcribe-words").textContent = reply.words.map(
    (w) => w.word + " [" + w.start.toFixed(2) + "-" + w.end.toFixed(2) + "]").join("  ");
}

async function translate() {
  const sentences = $("translate-input").value.split("\n").filter((s) => s.trim());
  const reply = await post("/translate", {sentences, beam: +$("translate-beam").value});
  $("translate-output").replaceChildren(...reply.translations.map((t) => {
    const item = document.createElement("li");
    item.textContent = t;
    return item;
  }));
}

async function tag() {
  const sentences = $("tag-input").value.split("\n").filter((s) => s.trim());
  const reply = await post("/tag", {sentences});
  const rows = [];
  for (const s of reply.sentences) {
    s.words.forEach((word, i) => {
      const row = document.createElement("tr");
      for (const text of [word, s.tags[i], s.probability[i].toFixed(3)]) {
        const cell = document.createElement("td");
        cell.textContent = text;
        row.append(cell);
      }
      rows.push(row);
    });
    rows.push(document.createElement("tr"));
  }
  $("tag-output").replaceChildren(...rows);
}

function columns(m) {
  return Object.values(m.columns).filter((c) => c).join(", ");
}

function describe(m) {
  const model = m.model.cell + " " + m.model.num_layers + "x" + m.model.hidden_size
    + (m.model.bidirectional ? " bidirectional" : "");
  const facts = {"/generate": () => m.vocab_size + " " + m.level + " tokens",
                 "/classify": () => "classes " + m.classes.join(", ") + (m.attention ? "; attention pooling" : ""),
                 "/forecast": () => m.horizon + " steps ahead (" + m.freq + "), columns " + columns(m),
                 "/transcribe": () => "characters '" + m.characters + "'",
                 "/tag": () => "tags " + m.tags.join(", ") + (m.crf ? "; CRF" : ""),
                 "/translate": () => m.source_vocab_size + " -> " + m.target_vocab_size + " " + m.level + " tokens"};
  return m.task + " run, " + model + "; " + facts[m.endpoint]() + ". POST " + m.endpoint;
}

const ACTIONS = {generate, classify, forecast, transcribe, translate, tag};

async function start() {
  meta = await (await fetch("/metadata")).json();
  $("about").textContent = describe(meta);
  const name = meta.endpoint.slice(1);
  $(name).hidden = false;
  if (name === "classify" && meta.reads === "sequences") {
    $("classify-what").textContent = "Sequence: one time step per line, " + meta.num_features + " numbers each";
    $("classify-input").placeholder = Array(meta.num_features).fill("0.0").join(", ");
  }
  if (name === "forecast") {
    $("forecast-what").textContent = "History (CSV with columns " + columns(meta) + ")";
  }
  $("forecast-series").addEventListener("change", (e) => draw(e.target.value));
  const button = $(name + "-submit");
  button.addEventListener("click", async () => {
    $("error").hidden = true;
    button.disabled = true;
    try { await ACTIONS[name](); } catch (error) { if ($("error").hidden) showError({error: String(error)}); }
    finally { button.disabled = false; }
  });
  document.body.dataset.ready = "true";
}

start();
"""
