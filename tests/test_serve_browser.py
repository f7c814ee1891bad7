"""The web page of `rnnkit serve` in a real browser: uvicorn on a free local port, headless Chromium
driven by selenium. On the classifier's page a typed review gets its label (and attention
highlighting); on the language model's page a prompt gets its continuation, streamed."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import rnnkit
import rnnkit.serve
from test_serve import train_classifier, train_lm

CHROMIUM = next((p for p in ("/usr/bin/chromium", "/usr/bin/chromium-browser") if Path(p).exists()), None)
DRIVER = shutil.which("chromedriver") or ("/usr/bin/chromedriver" if Path("/usr/bin/chromedriver").exists() else None)
if CHROMIUM is None or DRIVER is None:
    pytest.skip("the browser test needs Chromium and chromedriver (apt-get install chromium chromium-driver)",
                allow_module_level=True)
webdriver = pytest.importorskip("selenium.webdriver", reason="the browser test needs selenium (the dev extra)")
uvicorn = pytest.importorskip("uvicorn", reason="the browser test needs uvicorn (the serve extra)")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

WAIT = 20            # seconds for the page to show a result


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(run_dir: Path) -> Iterator[str]:
    """The URL of `run_dir`'s page, served by uvicorn in a thread until the generator is closed."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(rnnkit.serve.app(run_dir), host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + WAIT
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}/"
    server.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def classifier_page(tmp_path_factory) -> Iterator[tuple[str, Path]]:
    run_dir = train_classifier(tmp_path_factory.mktemp("browser_classifier"))
    for url in serve(run_dir):
        yield url, run_dir


@pytest.fixture(scope="module")
def lm_page(tmp_path_factory) -> Iterator[tuple[str, Path]]:
    run_dir = train_lm(tmp_path_factory.mktemp("browser_lm"))
    for url in serve(run_dir):
        yield url, run_dir


@pytest.fixture(scope="module")
def browser() -> Iterator:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(flag)
    try:
        driver = webdriver.Chrome(service=webdriver.ChromeService(executable_path=DRIVER), options=options)
    except Exception as error:                    # e.g. a Chromium that cannot start in this container
        pytest.skip(f"headless Chromium did not start: {str(error).splitlines()[0]}")
    yield driver
    driver.quit()


def open_page(browser, url: str) -> None:
    browser.get(url)
    WebDriverWait(browser, WAIT).until(lambda b: b.find_element(By.TAG_NAME, "body").get_attribute("data-ready"))


def test_the_classifier_page_labels_a_typed_review(classifier_page, browser):
    url, run_dir = classifier_page
    expected = rnnkit.load(run_dir).predict(["the food was great and the staff friendly"])[0]
    open_page(browser, url)
    assert "text_classification" in browser.find_element(By.ID, "about").text
    browser.find_element(By.ID, "classify-input").send_keys("the food was great and the staff friendly")
    browser.find_element(By.ID, "classify-submit").click()
    label = WebDriverWait(browser, WAIT).until(lambda b: b.find_element(By.ID, "classify-label").text)
    assert label == expected.label
    tokens = browser.find_elements(By.CSS_SELECTOR, "#classify-tokens span")
    assert [t.text for t in tokens] == expected.tokens                         # attention highlighting, per token
    assert all("rgba" in t.get_attribute("style") for t in tokens)
    assert not browser.find_element(By.ID, "error").is_displayed()


def test_the_language_model_page_streams_a_continuation(lm_page, browser):
    url, run_dir = lm_page
    expected = rnnkit.load(run_dir).predict("to be", tokens=40, temperature=0.8, seed=3)
    open_page(browser, url)
    prompt = browser.find_element(By.ID, "generate-input")
    prompt.send_keys("to be")
    for field, value in (("generate-tokens", "40"), ("generate-seed", "3")):
        box = browser.find_element(By.ID, field)
        box.clear()
        box.send_keys(value)
    browser.find_element(By.ID, "generate-submit").click()
    WebDriverWait(browser, WAIT).until(lambda b: b.find_element(By.ID, "generate-status").text == "done")
    text = browser.execute_script("return document.getElementById('generate-text').textContent")
    assert text == expected and len(text) > 0
    assert browser.find_element(By.ID, "generate-prompt").text == "to be"


def test_a_refusal_shows_the_servers_message(classifier_page, browser):
    open_page(browser, classifier_page[0])
    browser.find_element(By.ID, "classify-submit").click()                     # an empty text
    error = WebDriverWait(browser, WAIT).until(lambda b: b.find_element(By.ID, "error").text)
    assert "texts[0] is empty" in error
