"""Settings for every test: nothing a test does reaches the real config folder."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def private_config_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """MMCHAT_CONFIG_DIR in a fresh folder: the windows' remembered settings, known hosts... stay in the test."""
    folder = tmp_path_factory.mktemp("config")
    monkeypatch.setenv("MMCHAT_CONFIG_DIR", str(folder))
    return folder
