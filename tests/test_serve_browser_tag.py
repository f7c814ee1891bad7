"""The tagging page of `rnnkit serve` in a real browser: typed sentences give a row per word with
the tag and probability that `rnnkit.load(run).predict` gives."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import rnnkit
import test_serve_browser
from test_serve import train
from test_serve_browser import By, open_page, serve  # skips this module without a browser
from test_serve_browser_tasks import submit, text_of
from test_tagging_task import write_corpus

browser = test_serve_browser.browser                        # the fixture, shared with the module that defines it


@pytest.fixture(scope="module")
def tag_run(tmp_path_factory) -> Path:
    """A CRF tagger on 30 generated sentences (3 updates, about 1 s)."""
    root = tmp_path_factory.mktemp("browser_tag")
    data = write_corpus(root / "ner", {"train": 30, "valid": 5})
    return train(root / "run", "configs/ner_conll03_bilstm_crf.toml", f"--task.path={data}", "--task.test_fraction=0",
                 "--task.embedding_size=8", "--task.char_hidden_size=4", "--model.hidden_size=8", "--train.epochs=0",
                 "--train.eval_every_epochs=0", "--train.iterations=3", "--train.batch_size=8")


@pytest.fixture
def tag_page(tag_run) -> Iterator[str]:
    yield from serve(tag_run)


def test_the_tag_page_tags_typed_sentences(tag_run, tag_page, browser):
    sentences = ["John Smith lives in Paris .", "Bob smiled"]
    expected = rnnkit.load(tag_run).predict(sentences)
    open_page(browser, tag_page)
    assert "tagging" in browser.find_element(By.ID, "about").text and "CRF" in browser.find_element(By.ID, "about").text
    browser.find_element(By.ID, "tag-input").send_keys("\n".join(sentences))
    submit(browser, "tag", "#tag-output td")
    rows = [[text_of(c) for c in row.find_elements(By.TAG_NAME, "td")]
            for row in browser.find_elements(By.CSS_SELECTOR, "#tag-output tr")]
    words = [r for r in rows if r]                          # an empty row after each sentence
    assert [r[:2] for r in words] == [[w, t] for s in expected for w, t in zip(s.words, s.tags)]
    assert [float(r[2]) for r in words] == pytest.approx([p for s in expected for p in s.probability], abs=5e-4)
