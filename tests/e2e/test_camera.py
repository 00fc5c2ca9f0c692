"""The webcam in real Chromium with a fake camera: shots for two classes on the Data page (one removed),
train, then a webcam photo classified on the Predict page with its probabilities and heat map; and no
webcam offered at an address where the browser blocks it.

Chromium's fake camera plays a video file, read again each time a camera opens: the test writes a red
disc or blue stripes into it (with a marker that moves from frame to frame, so no two shots are the
same) while every camera is closed."""
import numpy as np
import pytest
from PIL import Image, ImageDraw

from .test_browser import ARGS, CHROMIUM, app_url  # noqa: F401 (app_url is a fixture)

from playwright.sync_api import expect, sync_playwright  # noqa: E402  (after test_browser's skip without Chromium)

WIDTH, HEIGHT, FRAMES = 320, 240, 40  # four seconds at ten frames a second, then it loops
SCENES = {"disc": "red", "stripes": "blue"}  # each class's scene, and the colour at its centre
SHOTS = 4
OTHER_HOST = "classroom.test"  # the app by a name other than localhost, as another computer would open it


def scene(kind: str, frame: int) -> Image.Image:
    image = Image.new("RGB", (WIDTH, HEIGHT), "white")
    draw = ImageDraw.Draw(image)
    if kind == "disc":
        draw.ellipse([100, 60, 220, 180], fill=(220, 30, 30))
    else:
        for y in range(0, HEIGHT, 40):
            draw.rectangle([0, y, WIDTH, y + 18], fill=(30, 30, 220))
    x = 8 * frame
    draw.rectangle([x, HEIGHT - 12, x + 10, HEIGHT - 2], fill="black")
    return image


def write_video(path, kind: str) -> None:
    """The scene as a Y4M video (YUV 4:2:0), the format Chromium's fake camera reads."""
    with open(path, "wb") as video:
        video.write(f"YUV4MPEG2 W{WIDTH} H{HEIGHT} F10:1 Ip A1:1 C420jpeg\n".encode())
        for frame in range(FRAMES):
            ycc = np.asarray(scene(kind, frame).convert("YCbCr"))
            video.write(b"FRAME\n" + ycc[..., 0].tobytes() + ycc[::2, ::2, 1].tobytes() + ycc[::2, ::2, 2].tobytes())


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    return tmp_path_factory.mktemp("camera") / "camera.y4m"


@pytest.fixture(scope="module")
def browser(video):
    write_video(video, "disc")
    fake_camera = ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                   f"--use-file-for-fake-video-capture={video}", f"--host-resolver-rules=MAP {OTHER_HOST} 127.0.0.1"]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS + fake_camera)
        yield browser
        browser.close()


PLAYING = """([seconds, colour]) => {
  const video = document.querySelector('[data-testid=stCameraInput] video');
  if (!video || video.readyState < 2 || !video.videoWidth || video.currentTime < seconds) return false;
  const canvas = document.createElement('canvas');
  canvas.width = video.videoWidth; canvas.height = video.videoHeight;
  const context = canvas.getContext('2d');
  context.drawImage(video, 0, 0);
  const [r, g, b] = context.getImageData(canvas.width / 2, canvas.height / 2, 1, 1).data;
  return colour === 'red' ? r > 150 && b < 100 : b > 150 && r < 100;
}"""


def take_shots(page, kind: str, count: int) -> None:
    """Press Take Photo `count` times on the open camera, each time once it shows the class's scene and
    has played half a second longer than for the shot before (another frame, so another photo)."""
    removes = page.get_by_role("button", name="Remove")
    for shot in range(count):
        before = removes.count()
        page.get_by_test_id("stCameraInput").scroll_into_view_if_needed()  # Chromium pauses a video out of sight
        page.wait_for_function(PLAYING, arg=[0.3 + 0.5 * shot, SCENES[kind]], timeout=30_000)
        page.get_by_role("button", name="Take Photo", exact=True).click()
        expect(removes).to_have_count(before + 1, timeout=30_000)  # kept, and a fresh camera for the next


def close_camera(page) -> None:
    page.get_by_role("button", name="Close the webcam").click()
    expect(page.get_by_test_id("stCameraInput")).to_have_count(0, timeout=30_000)


def test_webcam_shots_train_a_model_that_classifies_a_webcam_photo(app_url, browser, video):  # noqa: F811
    page = browser.new_page(viewport={"width": 1300, "height": 1000})
    page.goto(app_url)
    page.get_by_role("link", name="Data").first.click()
    page.get_by_role("tab", name="Add images per class").click()
    for row, kind in enumerate(SCENES):
        page.get_by_label("Class name").nth(row).fill(kind)
        write_video(video, kind)  # every camera is closed: the next one to open plays this scene
        page.get_by_role("button", name="Open the webcam").nth(row).click()
        take_shots(page, kind, SHOTS)
        close_camera(page)
    removes = page.get_by_role("button", name="Remove")
    expect(removes).to_have_count(2 * SHOTS)
    removes.last.click()  # a bad shot of the stripes goes
    expect(removes).to_have_count(2 * SHOTS - 1, timeout=30_000)

    page.get_by_role("button", name="Use these images").click()
    expect(page.get_by_text("Check your data")).to_be_visible(timeout=60_000)
    images = page.get_by_test_id("stMetric").filter(has_text="Images").get_by_test_id("stMetricValue")
    expect(images).to_have_text(str(2 * SHOTS - 1))
    expect(page.get_by_text(f"disc: {SHOTS} images")).to_be_visible()
    expect(page.get_by_text(f"stripes: {SHOTS - 1} images")).to_be_visible()

    page.get_by_role("link", name="Train").first.click()
    page.get_by_role("button", name="Train").click()
    expect(page.get_by_text("validation AUC")).to_be_visible(timeout=300_000)

    page.get_by_role("link", name="Predict").first.click()
    write_video(video, "disc")
    page.get_by_text("A webcam photo").click()
    page.get_by_test_id("stCameraInput").scroll_into_view_if_needed()
    page.wait_for_function(PLAYING, arg=[0.3, "red"], timeout=30_000)
    page.get_by_role("button", name="Take Photo", exact=True).click()
    table = page.get_by_test_id("stDataFrame").filter(has_text="webcam photo.jpg")
    expect(table).to_be_visible(timeout=120_000)
    cells = [table.locator(f"[role={role}]").all_text_contents() for role in ("columnheader", "gridcell")]
    shown = dict(zip(*cells))  # the grid's accessible copy (the grid itself is drawn on a canvas)
    assert shown["predicted"] == "disc" and float(shown["disc"]) > 0.5
    assert abs(float(shown["disc"]) + float(shown["stripes"]) - 1) < 1e-3  # the probabilities of both classes
    expect(page.get_by_text("where it sees 'disc'")).to_be_visible(timeout=120_000)  # the heat map's caption
    page.close()


def test_the_webcam_is_not_offered_where_the_browser_blocks_it(app_url, browser):  # noqa: F811
    page = browser.new_page(viewport={"width": 1300, "height": 1000})
    page.goto(app_url.replace("127.0.0.1", OTHER_HOST))
    page.get_by_role("link", name="Data").first.click()
    page.get_by_role("tab", name="Add images per class").click()
    expect(page.get_by_text("The webcam works only in a browser on the computer that runs the app")).to_be_visible(
        timeout=30_000)
    assert page.evaluate("window.isSecureContext") is False  # the browser's rule, as the page guessed it
    expect(page.get_by_role("button", name="Open the webcam")).to_have_count(0)
    expect(page.get_by_label("Class name")).to_have_count(2)  # uploads still work
    page.close()
