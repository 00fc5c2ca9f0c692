"""Webcam shots per class on the Data page: one class's camera open at a time; each photo kept once (by
its content digest) as camera-001.jpg, camera-002.jpg, ..., shown as a thumbnail with a Remove button.
The shots live in the workspace, so reruns, page switches and a refresh keep every one."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import streamlit as st

from ..core.errors import TLCoreError
from ..data.images import decode_image, make_thumbnail
from .widgets import image_bytes

RESOLUTION = "480p"  # a fixed request: without one the camera restarts once it is laid out, losing a click
SHOT_WIDTH = 88  # pixels: each shot's thumbnail, with its Remove button under it


@dataclass(frozen=True)
class Shot:
    """One webcam photo: its file name, content digest, JPEG bytes and thumbnail (None if unreadable)."""

    name: str
    digest: str
    data: bytes
    thumbnail: bytes | None


@dataclass
class CameraShots:
    """Every class row's webcam shots, by the row's place on the Data page, and which row's camera is open."""

    rows: dict[int, list[Shot]] = field(default_factory=dict)
    taken: int = 0  # photos received: numbers the file names and gives each shot a fresh camera widget
    open_row: int | None = None

    def of(self, row: int) -> list[Shot]:
        return self.rows.get(row, [])

    def add(self, row: int, data: bytes) -> bool:
        """Keep a photo for the row; False (nothing kept) if the row already has one with the same content."""
        self.taken += 1
        content = hashlib.sha256(data).hexdigest()
        if any(shot.digest == content for shot in self.of(row)):
            return False
        name = f"camera-{self.taken:03d}.jpg"
        self.rows.setdefault(row, []).append(Shot(name, content, data, _thumbnail(data, name)))
        return True

    def remove(self, row: int, content: str) -> None:
        self.rows[row] = [shot for shot in self.of(row) if shot.digest != content]

    def files(self, row: int) -> list[tuple[str, bytes]]:
        """The row's shots as (file name, bytes), as records_from_uploads takes them."""
        return [(shot.name, shot.data) for shot in self.of(row)]

    def switch(self, row: int) -> None:
        """Open the row's camera (closing any other), or close it if it is open."""
        self.open_row = None if self.open_row == row else row


def webcam_allowed(url: str | None) -> bool:
    """Whether browsers let a page at `url` use the webcam: over https, or on this computer's own address
    (localhost, 127.x.x.x, [::1]); True when the address is unknown."""
    if not url:
        return True
    parts = urlsplit(url)
    host = parts.hostname or ""
    return parts.scheme == "https" or host == "localhost" or host.endswith(".localhost") or host.startswith(
        "127.") or host == "::1"


def webcam_works() -> bool:
    """Whether this page can use the webcam; where the browser blocks it, says why and what to do instead."""
    if webcam_allowed(st.context.url):
        return True
    st.info("The webcam works only in a browser on the computer that runs the app (at localhost) or over https; "
            "at this address the browser blocks it. Upload photos instead, or take them on that computer.",
            icon=":material/videocam_off:")
    return False


def _thumbnail(data: bytes, name: str) -> bytes | None:
    try:
        return image_bytes(make_thumbnail(decode_image(data, name, draft_size=128)))
    except TLCoreError:
        return None


def _keep(shots: CameraShots, row: int, key: str) -> None:
    photo = st.session_state.get(key)
    if photo is not None and not shots.add(row, photo.getvalue()):
        st.toast("That photo is the same as one already taken for this class, so it was not added again: move a "
                 "little and take another.",
                 icon=":material/content_copy:")


def camera_shots(shots: CameraShots, row: int, key: str, webcam: bool = True) -> None:
    """A class row's webcam (where `webcam` works): a button that opens or closes it, the camera while it
    is open (each photo is kept and the camera is ready for the next); then the row's shots, each with a
    Remove button."""
    if webcam:
        is_open = shots.open_row == row
        st.button("Close the webcam" if is_open else "Open the webcam", key=f"{key}_switch",
                  icon=":material/videocam_off:" if is_open else ":material/photo_camera:", on_click=shots.switch,
                  args=(row,))
        if is_open:
            widget = f"{key}_{shots.taken}"  # a new widget after each photo: the camera is live again at once
            st.camera_input("Press Take Photo for each example", key=widget, on_change=_keep,
                            args=(shots, row, widget), width=400, resolution=RESOLUTION)
    kept = shots.of(row)
    if kept:
        st.caption(f"{len(kept)} webcam {'shot' if len(kept) == 1 else 'shots'}")
    with st.container(horizontal=True):
        for shot in kept:
            with st.container(width=SHOT_WIDTH, gap=None, horizontal_alignment="center"):
                if shot.thumbnail is None:
                    st.caption("cannot be read")
                else:
                    st.image(shot.thumbnail, width=SHOT_WIDTH)
                st.button("Remove", key=f"{key}_remove_{shot.digest}", icon=":material/close:", type="tertiary",
                          help=f"Remove {shot.name}", on_click=shots.remove, args=(row, shot.digest))

