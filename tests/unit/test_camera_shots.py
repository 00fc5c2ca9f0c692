"""The webcam shots kept per class row (once per content, numbered file names, removal, one open camera),
and where browsers let a page use the webcam."""
from tlcore.app import CameraShots

from ..conftest import shape_records


def test_shots_are_kept_once_per_content_numbered_and_removable():
    a, b, c = (r.data for r in shape_records(per_class=3)[:3])
    shots = CameraShots()
    assert shots.add(0, a) and shots.add(0, b) and not shots.add(0, a)  # the same photo again: left out
    assert shots.add(1, a)  # another class may hold its own copy (the data report warns about it)
    assert shots.add(0, c)
    assert [s.name for s in shots.of(0)] == ["camera-001.jpg", "camera-002.jpg", "camera-005.jpg"]
    shots.remove(0, shots.of(0)[1].digest)
    assert shots.files(0) == [("camera-001.jpg", a), ("camera-005.jpg", c)]
    assert shots.files(1) == [("camera-004.jpg", a)] and shots.files(2) == []
    assert all(s.thumbnail for s in shots.of(0))


def test_an_unreadable_photo_is_kept_without_a_thumbnail_and_one_camera_is_open():
    shots = CameraShots()
    assert shots.add(0, b"not a jpeg") and shots.of(0)[0].thumbnail is None  # the data report names it later
    shots.switch(0)
    shots.switch(1)
    assert shots.open_row == 1
    shots.switch(1)
    assert shots.open_row is None


def test_the_webcam_is_offered_only_where_browsers_allow_it():
    from tlcore.app import webcam_allowed

    for url in ("http://localhost:8501/Data", "http://127.0.0.1:8501", "http://[::1]:8501", "https://school.example",
                "http://app.localhost:8501", None):
        assert webcam_allowed(url), url
    for url in ("http://192.168.1.20:8501", "http://teacher-laptop:8501/Predict"):
        assert not webcam_allowed(url), url
