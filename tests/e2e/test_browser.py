"""The real app in real Chromium: load the sample, train the bundled backbone, read the AUC."""
import os
import socket
import subprocess
import sys
import time
import urllib.request
from urllib.parse import parse_qs, urlparse
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
REPO = Path(__file__).resolve().parents[2]

if not Path(CHROMIUM).exists():
    if os.environ.get("CI"):
        raise RuntimeError("Chromium is missing: .ci/run installs it with 'apt-get install -y chromium'.")
    pytest.skip("Debian's chromium is not installed (apt-get install -y chromium)", allow_module_level=True)

from playwright.sync_api import expect, sync_playwright  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    port = free_port()
    env = {**os.environ, "TLCORE_RUNS_DIR": str(tmp_path_factory.mktemp("runs"))}
    log = open(tmp_path_factory.mktemp("server") / "server.log", "w")  # the app's output, to read after a failure
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
         "--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"],
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            urllib.request.urlopen(f"{url}/_stcore/health", timeout=2)
            break
        except OSError:
            time.sleep(0.5)
    yield url
    proc.terminate()
    proc.wait(10)
    log.close()


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


def train_and_read_auc(page) -> None:
    """From loaded data: Train page, press Train, wait, then read the AUC on the Evaluate page."""
    page.get_by_role("link", name="Train").first.click()
    expect(page.get_by_text("Trainable blocks:")).to_be_visible(timeout=60_000)
    page.get_by_role("button", name="Train").click()
    expect(page.get_by_text("validation AUC")).to_be_visible(timeout=300_000)
    page.get_by_role("link", name="Evaluate").first.click()
    auc = page.get_by_test_id("stMetric").filter(has_text="AUC").get_by_test_id("stMetricValue")
    expect(auc).to_be_visible(timeout=60_000)
    assert float(auc.inner_text()) > 0.9


def test_sample_to_auc(app_url, browser):
    page = browser.new_page(viewport={"width": 1300, "height": 900})
    page.goto(app_url)
    page.get_by_role("button", name="Load the sample data").click()
    expect(page.get_by_text("Check your data")).to_be_visible(timeout=60_000)

    train_and_read_auc(page)
    expect(page.get_by_text("Confusion matrix").first).to_be_visible()

    # Click the confusion matrix's first cell (true 0, answered 0): its examples appear beside it.
    cell = page.locator(".js-plotly-plot").first.locator("g.points path.point").first
    expect(cell).to_be_visible(timeout=60_000)  # drawn: plotly may still be laying the chart out
    cell.click(force=True)
    expect(page.get_by_text("· true 0, answered 0").first).to_be_visible(timeout=60_000)
    assert page.get_by_test_id("stImage").count() >= 2
    page.close()


def test_text_sample_to_auc_and_prediction(app_url, browser):
    page = browser.new_page(viewport={"width": 1300, "height": 900})
    page.goto(app_url)
    page.get_by_text("Text classification").click()
    expect(page.get_by_text("Upload my texts")).to_be_visible(timeout=30_000)
    page.get_by_role("button", name="Load the sample data").click()
    expect(page.get_by_text("Check your data")).to_be_visible(timeout=60_000)
    texts = page.get_by_test_id("stMetric").filter(has_text="Texts").get_by_test_id("stMetricValue")
    expect(texts).to_have_text("90")

    train_and_read_auc(page)

    page.get_by_role("link", name="Predict").first.click()
    box = page.get_by_label("Texts to classify, one per line")
    expect(box).to_be_visible(timeout=60_000)
    box.fill("The astronauts watched the rings of Saturn")
    page.get_by_role("button", name="Classify").click()
    row = page.locator("tr").filter(has_text="rings of Saturn")
    expect(row).to_contain_text("space", timeout=60_000)
    page.close()


def open_sample_on_train_page(browser, app_url: str, task: str = "image"):
    """A separate browser context (its own cookies and session, like another student's laptop)."""
    page = browser.new_context(viewport={"width": 1300, "height": 900}).new_page()
    page.goto(app_url)
    if task == "text":
        page.get_by_text("Text classification").click()
        expect(page.get_by_text("Upload my texts")).to_be_visible(timeout=60_000)
    page.get_by_role("button", name="Load the sample data").click()
    expect(page.get_by_text("Check your data")).to_be_visible(timeout=60_000)
    page.get_by_role("link", name="Train").first.click()
    expect(page.get_by_text("Trainable blocks:")).to_be_visible(timeout=60_000)
    return page


def session_id(page) -> str:
    return parse_qs(urlparse(page.url).query)["session"][0]


def started(page):
    """What the Train page shows once a run is queued or going (Cancel), or done."""
    return page.get_by_role("button", name="Cancel").or_(page.get_by_text("validation AUC")).first


def test_two_students_train_at_once_and_keep_their_own_results(app_url, browser):
    images = open_sample_on_train_page(browser, app_url, "image")
    texts = open_sample_on_train_page(browser, app_url, "text")
    images.get_by_role("button", name="Train").click()
    texts.get_by_role("button", name="Train").click()  # one run on the device at a time: this one queues
    expect(started(texts)).to_be_visible(timeout=60_000)
    texts.reload()  # a refresh: the session id in the address brings the run back, with its progress
    for page in (images, texts):
        expect(page.get_by_text("validation AUC")).to_be_visible(timeout=300_000)
    for page, unit, classes in ((images, "Validation images", "Classes: 0, 1, 2"),
                                (texts, "Validation texts", "Classes: animals, cooking, space")):
        page.get_by_role("link", name="Evaluate").first.click()
        expect(page.get_by_test_id("stMetric").filter(has_text=unit)).to_be_visible(timeout=60_000)
        page.reload()  # everything the session made comes back after a refresh, not only a running job
        expect(page.get_by_test_id("stMetric").filter(has_text=unit)).to_be_visible(timeout=60_000)
        page.get_by_role("link", name="Predict").first.click()
        expect(page.get_by_text(classes)).to_be_visible(timeout=60_000)  # each session has its own model
        page.context.close()


def test_a_class_trains_at_once_and_the_app_stays_usable(app_url, browser):
    """Four students press Train together; while their runs queue, a newcomer's page still renders, and
    students who refresh mid-queue get their own run back."""
    students = [open_sample_on_train_page(browser, app_url) for _ in range(4)]
    for page in students:
        page.get_by_role("button", name="Train").click()
    expect(students[-1].get_by_text("in the queue")).to_be_visible(timeout=60_000)
    newcomer = browser.new_context(viewport={"width": 1300, "height": 900}).new_page()
    newcomer.goto(app_url)
    expect(newcomer.get_by_role("button", name="Load the sample data")).to_be_visible(timeout=30_000)
    newcomer.get_by_role("link", name="Data").first.click()
    expect(newcomer.get_by_role("tab", name="Upload a zip")).to_be_visible(timeout=30_000)
    sessions = [session_id(page) for page in students]
    assert len(set(sessions)) == len(students)  # four students, four sessions
    for page in students[2:]:
        page.reload()
        expect(started(page)).to_be_visible(timeout=60_000)
        assert session_id(page) == sessions[students.index(page)]  # its own run back, not another's
    for page in students:
        expect(page.get_by_text("validation AUC")).to_be_visible(timeout=600_000)
        page.context.close()
    newcomer.context.close()
