"""The server settings that keep a classroom responsive, as Streamlit itself reads them."""
from pathlib import Path

from streamlit import config

REPO = Path(__file__).resolve().parents[2]


def test_the_server_skips_full_collections_and_file_watching(monkeypatch):
    """A full garbage collection after every rerun (about 0.2 s with torch loaded) and polling every
    module's file starved page renders while a class trained; neither may come back."""
    monkeypatch.chdir(REPO)
    config.get_config_options(force_reparse=True)
    assert config.get_option("runner.postScriptGC") is False
    assert config.get_option("server.fileWatcherType") == "none"
    assert config.get_option("server.maxUploadSize") == 200
