"""The web page of `rnnkit serve` in a real browser for the tasks test_serve_browser.py does not
drive, each result checked against `rnnkit.load(run).predict` on the same input: a history CSV
uploaded through the forecast page's file input gives the forecast as a table and an SVG plot with
its interval band (also for a 92.5% interval, whose column names the page once guessed wrong); a
WAV uploaded on the speech page gives the transcript; typed sentences give the translations; a
sequence pasted as rows of numbers, or as a CSV file's text with its header line, gives the
sequence classifier's label and attention."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import rnnkit
import test_serve_browser
import test_serve_tasks
from conftest import write_ramps
from rnnkit.data.labelled import read_sequence_csv
from rnnkit.forecast.synthetic import synthetic_panel
from test_serve import train
from test_serve_browser import WAIT, By, WebDriverWait, open_page, serve  # skips this module without a browser

browser = test_serve_browser.browser                        # fixtures, shared with the modules that define them
forecast_run, speech_run = test_serve_tasks.forecast_run, test_serve_tasks.speech_run

NUMBER = r"-?\d+(?:\.\d+)?(?:e[+-]?\d+)?"


@pytest.fixture(scope="module")
def forecast_run_92_5(tmp_path_factory) -> tuple[Path, Any]:
    """(run directory, its history table) of a forecasting run with a 92.5% interval: the predictor
    names its columns lower_92 and upper_92 (Python's round), where JavaScript's would give 93."""
    root = tmp_path_factory.mktemp("browser_forecast")
    table = synthetic_panel(series=2, length=60, seed=4)
    table.to_csv(root / "history.csv", index=False)
    return train(root / "run", "configs/forecast_lstm.toml", f"--task.data={root / 'history.csv'}",
                 *test_serve_tasks.FORECAST, "--task.level=0.925"), table


@pytest.fixture(scope="module")
def translation_run(tmp_path_factory) -> Path:
    """A character-level translation run that learns to swap two words (40 updates, about 2 s): enough
    that it writes something, so the page is seen to show it."""
    root = tmp_path_factory.mktemp("browser_translation")
    pairs = [f"{a} {b}\t{b} {a}" for a in ("ab", "cd", "ef") for b in ("gh", "ij")]
    (root / "pairs.tsv").write_text("\n".join(pairs * 4) + "\n", encoding="utf-8")
    return train(root / "run", "configs/translate_dates.toml", f"--task.path={root / 'pairs.tsv'}",
                 "--task.level=char", "--model.hidden_size=16", "--task.embedding_size=4", "--task.bucket_size=4",
                 "--task.valid_fraction=0.25", "--task.test_fraction=0.25", "--task.eval_sentences=2",
                 "--task.max_length=8", "--optim.lr=0.02", "--train.iterations=40", "--train.epochs=0")


@pytest.fixture(scope="module")
def sequence_run(tmp_path_factory) -> Path:
    """A two-feature sequence classifier with attention pooling (3 updates, about 1 s)."""
    root = tmp_path_factory.mktemp("browser_sequences")
    write_ramps(root / "ramps", count=6, steps=(5, 12), seed=3)
    return train(root / "run", "configs/classify_japanese_vowels.toml", f"--task.path={root / 'ramps'}",
                 "--task.pooling=attention", "--model.hidden_size=6", "--train.batch_size=3",
                 "--task.valid_fraction=0.25", "--task.test_fraction=0.25", "--train.iterations=3", "--train.epochs=0")


@pytest.fixture(params=["forecast_run", "forecast_run_92_5"])
def forecast_page(request) -> Iterator[tuple[str, Path, Any]]:
    """(URL, run directory, history table)."""
    run_dir, table = request.getfixturevalue(request.param)
    for url in serve(run_dir):
        yield url, run_dir, table


@pytest.fixture
def speech_page(speech_run) -> Iterator[str]:
    yield from serve(speech_run[0])


@pytest.fixture
def translation_page(translation_run) -> Iterator[str]:
    yield from serve(translation_run)


@pytest.fixture
def sequence_page(sequence_run) -> Iterator[str]:
    yield from serve(sequence_run)


def submit(browser, task: str, until: str) -> None:
    """Clicks the task's submit button and waits for the CSS selector `until` to match."""
    browser.find_element(By.ID, f"{task}-submit").click()
    WebDriverWait(browser, WAIT).until(lambda b: b.find_elements(By.CSS_SELECTOR, until)
                                       or b.find_element(By.ID, "error").text)
    assert not browser.find_element(By.ID, "error").is_displayed(), browser.find_element(By.ID, "error").text


def text_of(element) -> str:
    """The element's text as written (selenium's `.text` collapses and trims white space)."""
    return element.get_attribute("textContent")


def shown(value: float) -> float:
    """`value` as the forecast table shows it (JavaScript's toPrecision(5)), read back as a number."""
    return float(f"{value:.5g}")


def points(path) -> list[tuple[float, float]]:
    """The (x, y) points of an SVG path drawn with M and L commands."""
    return [(float(x), float(y)) for x, y in re.findall(rf"[ML]({NUMBER}),({NUMBER})", path.get_attribute("d"))]


def check_table(browser, expected) -> None:
    """The forecast table's rows are `expected`'s (one series), to the precision shown."""
    rows = [[text_of(c) for c in row.find_elements(By.TAG_NAME, "td")]
            for row in browser.find_elements(By.CSS_SELECTOR, "#forecast-table tr")[1:]]
    assert [r[0] for r in rows] == [t.isoformat() for t in expected.timestamp]
    got = [[float(v) for v in r[1:]] for r in rows]
    assert got == [[shown(v) for v in r] for r in expected[expected.columns[2:5]].to_numpy().tolist()]


def test_the_forecast_page_plots_an_uploaded_csv(forecast_page, browser, tmp_path):
    url, run_dir, table = forecast_page
    csv = tmp_path / "history.csv"
    table.to_csv(csv, index=False)
    saved = rnnkit.load(run_dir)
    expected = saved.predict(table)
    ids = list(dict.fromkeys(table.series_id))
    open_page(browser, url)
    assert "forecasting" in browser.find_element(By.ID, "about").text
    assert "series_id, timestamp, value" in browser.find_element(By.ID, "forecast-what").text
    browser.find_element(By.ID, "forecast-input").send_keys(str(csv))         # the file chooser, as a user picks
    submit(browser, "forecast", "#forecast-table td")
    headers = [h.text for h in browser.find_elements(By.CSS_SELECTOR, "#forecast-table th")]
    assert headers == ["timestamp", *expected.columns[2:5]]                  # forecast, lower_P, upper_P
    first = expected[expected.series_id == ids[0]]
    check_table(browser, first)
    band, past, ahead = browser.find_elements(By.CSS_SELECTOR, "#forecast-plot path")
    assert band.get_attribute("d").endswith("Z") and "rgba" in band.get_attribute("fill")
    assert len(points(past)) == (table.series_id == ids[0]).sum()
    assert len(points(ahead)) == len(first) + 1                             # from the last observed point
    upper, lower = points(band)[:len(first)], points(band)[len(first):][::-1]
    for (x, y), (xu, yu), (xl, yl) in zip(points(ahead)[1:], upper, lower, strict=True):
        assert x == xu == xl and yu <= y <= yl                  # the forecast inside its band (y grows down)
    assert points(ahead)[0] == points(past)[-1]
    assert f"{saved.task.level * 100:g}% interval" in text_of(browser.find_element(By.ID, "forecast-plot"))
    options = [o.text for o in browser.find_elements(By.CSS_SELECTOR, "#forecast-series option")]
    assert options == ids
    browser.find_element(By.CSS_SELECTOR, f"#forecast-series option[value='{ids[-1]}']").click()   # redraws
    check_table(browser, expected[expected.series_id == ids[-1]])


def test_the_speech_page_transcribes_an_uploaded_wav(speech_run, speech_page, browser):
    run_dir, wavs = speech_run
    saved = rnnkit.load(run_dir)
    [(expected, words)] = saved.predict([wavs[1]], timestamps=True)
    assert saved.predict([wavs[1]]) == [expected]
    open_page(browser, speech_page)
    assert "speech" in browser.find_element(By.ID, "about").text
    browser.find_element(By.ID, "transcribe-input").send_keys(str(wavs[1]))
    submit(browser, "transcribe", "#transcribe-text:not(:empty)")
    assert text_of(browser.find_element(By.ID, "transcribe-text")) == (expected or "(nothing heard)")   # as shown
    timed = re.findall(rf"(\S+) \[({NUMBER})-({NUMBER})\]", text_of(browser.find_element(By.ID, "transcribe-words")))
    assert [w for w, _, _ in timed] == [w for w, _, _ in words]
    assert [float(t) for _, s, e in timed for t in (s, e)] == pytest.approx([t for _, s, e in words for t in (s, e)],
                                                                            abs=0.0051)     # shown to 2 decimals


def test_the_translation_page_translates_typed_sentences(translation_run, translation_page, browser):
    sentences = ["ab gh", "ef ij", "gh ab"]                  # the last unlike any training pair
    saved = rnnkit.load(translation_run)
    assert all(saved.predict(sentences))                    # a trained run: every translation has text
    open_page(browser, translation_page)
    assert "translation" in browser.find_element(By.ID, "about").text
    browser.find_element(By.ID, "translate-input").send_keys("\n".join(sentences))
    for beam in ("5", "1"):                                     # the page's default, then greedy
        box = browser.find_element(By.ID, "translate-beam")
        box.clear()
        box.send_keys(beam)
        browser.execute_script("document.getElementById('translate-output').replaceChildren()")
        submit(browser, "translate", "#translate-output li")
        got = [text_of(li) for li in browser.find_elements(By.CSS_SELECTOR, "#translate-output li")]
        assert got == saved.predict(sentences, beam=int(beam))


def test_the_sequence_classifier_page_labels_a_pasted_sequence(sequence_run, sequence_page, browser):
    saved = rnnkit.load(sequence_run)
    rows = np.random.default_rng(5).normal(size=(7, 2)).round(3)
    file = sequence_run.parent / "ramps" / "east" / "0.csv"
    cases = [("\n".join(f"{a}, {b}" for a, b in rows.tolist()), rows),           # numbers as typed
             (file.read_text(), read_sequence_csv(file).numpy())]                 # a file's text: "a,b", then steps
    open_page(browser, sequence_page)
    assert "2 numbers each" in browser.find_element(By.ID, "classify-what").text
    for text, sequence in cases:
        [expected] = saved.predict([np.asarray(sequence, dtype=np.float32)])
        box = browser.find_element(By.ID, "classify-input")
        box.clear()
        box.send_keys(text)
        browser.execute_script("document.getElementById('classify-tokens').replaceChildren()")
        submit(browser, "classify", "#classify-tokens span")
        assert browser.find_element(By.ID, "classify-label").text == expected.label
        assert browser.find_element(By.ID, "classify-probability").text == \
            f"p = {expected.probabilities[expected.label]:.3f}"
        steps = browser.find_elements(By.CSS_SELECTOR, "#classify-tokens span")      # one per time step
        assert [s.text for s in steps] == [f"t{i}" for i in range(len(sequence))]
        assert [float(s.get_attribute("title").split()[1]) for s in steps] == \
            pytest.approx(expected.attention, abs=5e-5)
