"""The web page at GET /: one page for every task, which asks /metadata what the run is and shows
that task's form. Plain HTML, CSS and JavaScript inline (no build step, no CDN: the page must work
on a machine without internet), kept as Python strings so that an installed wheel carries it
(setuptools packages .py files without further configuration). The script is in page_script.py.

Element ids are the page's interface (the browser test drives them): TASK-input / TASK-submit,
and the results in generate-text (generate-status reads "done" at the end), classify-label,
forecast-plot, transcribe-text, translate-output and tag-output (a row per word: word, tag, probability).
"""

from __future__ import annotations

import html

from .page_script import SCRIPT

STYLE = """
body { font: 16px/1.45 system-ui, sans-serif; margin: 0 auto; max-width: 860px; padding: 0 16px 48px; color: #222; }
header { border-bottom: 1px solid #ddd; margin-bottom: 16px; }
h1 { font-size: 1.4rem; margin: 16px 0 4px; }
header p { margin: 4px 0 12px; color: #555; }
nav a { color: #2456a6; }
label { display: block; font-weight: 600; margin: 12px 0 4px; }
textarea { width: 100%; box-sizing: border-box; font: inherit; padding: 8px; }
.row { display: flex; flex-wrap: wrap; gap: 12px; align-items: center; margin: 8px 0; }
.row input[type=number] { width: 6em; }
button { font: inherit; padding: 6px 18px; cursor: pointer; }
pre.output { white-space: pre-wrap; background: #f6f6f4; padding: 12px; min-height: 3em; }
.prompt { color: #777; }
.error { background: #fde8e8; border: 1px solid #e0a0a0; padding: 8px 12px; color: #8a1c1c; }
.bar { display: flex; align-items: center; gap: 8px; margin: 2px 0; }
.bar span:first-child { width: 8em; text-align: right; }
.bar div { background: #4a7bd0; height: 12px; }
.tokens span { padding: 1px 2px; margin: 1px; border-radius: 3px; display: inline-block; }
svg { width: 100%; height: auto; background: #fcfcfb; border: 1px solid #e4e4e0; margin-top: 8px; }
table { border-collapse: collapse; margin-top: 8px; font-size: 14px; }
td, th { border-bottom: 1px solid #e4e4e0; padding: 2px 10px; text-align: right; }
"""

BODY = """
<section id="generate" hidden>
  <label for="generate-input">Prompt</label>
  <textarea id="generate-input" rows="4" placeholder="Text to continue"></textarea>
  <div class="row">
    <label>tokens <input id="generate-tokens" type="number" value="200" min="1"></label>
    <label>temperature <input id="generate-temperature" type="number" value="0.8" min="0.05" step="0.05"></label>
    <label>seed <input id="generate-seed" type="number" min="0" placeholder="random"></label>
    <button id="generate-submit">Generate</button> <span id="generate-status"></span>
  </div>
  <pre class="output"><span class="prompt" id="generate-prompt"></span><span id="generate-text"></span></pre>
</section>
<section id="classify" hidden>
  <label for="classify-input" id="classify-what">Text</label>
  <textarea id="classify-input" rows="6" placeholder="Paste a review"></textarea>
  <div class="row"><button id="classify-submit">Classify</button></div>
  <p>Label: <strong id="classify-label"></strong> <span id="classify-probability"></span></p>
  <div id="classify-bars"></div>
  <p class="tokens" id="classify-tokens"></p>
</section>
<section id="forecast" hidden>
  <label for="forecast-input" id="forecast-what">History (CSV)</label>
  <div class="row"><input id="forecast-input" type="file" accept=".csv,text/csv">
    <button id="forecast-submit">Forecast</button>
    <label>series <select id="forecast-series"></select></label></div>
  <svg id="forecast-plot" viewBox="0 0 800 340" role="img" aria-label="forecast plot"></svg>
  <table id="forecast-table"></table>
</section>
<section id="transcribe" hidden>
  <label for="transcribe-input">Audio file (WAV, FLAC, OGG)</label>
  <div class="row"><input id="transcribe-input" type="file" accept="audio/*,.npy">
    <label>beam <input id="transcribe-beam" type="number" value="0" min="0"></label>
    <button id="transcribe-submit">Transcribe</button></div>
  <pre class="output" id="transcribe-text"></pre>
  <p id="transcribe-words"></p>
</section>
<section id="translate" hidden>
  <label for="translate-input">Sentences, one per line</label>
  <textarea id="translate-input" rows="5"></textarea>
  <div class="row"><label>beam <input id="translate-beam" type="number" value="5" min="1"></label>
    <button id="translate-submit">Translate</button></div>
  <ol id="translate-output"></ol>
</section>
<section id="tag" hidden>
  <label for="tag-input">Sentences, one per line</label>
  <textarea id="tag-input" rows="4"></textarea>
  <div class="row"><button id="tag-submit">Tag</button></div>
  <table id="tag-output"></table>
</section>
<p id="error" class="error" hidden></p>
"""


def page(run: str, task: str) -> str:
    """The whole page for a run named `run` of `task` (both shown as text, escaped)."""
    title = html.escape(f"{run} ({task})")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>rnnkit: {title}</title><style>{STYLE}</style></head>
<body><header><h1>{title}</h1><p id="about">reading /metadata ...</p>
<nav><a href="/docs">API docs</a> · <a href="/metadata">metadata</a> · <a href="/health">health</a></nav></header>
<main>{BODY}</main>
<script>{SCRIPT}</script></body></html>
"""
