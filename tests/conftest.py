"""Fixtures every test gets: a config folder of its own, so no test reads or writes the real one."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def private_config_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """MMCHAT_CONFIG_DIR for this test (known hosts, launcher settings): never the person's own."""
    folder = tmp_path_factory.mktemp("config")
    monkeypatch.setenv("MMCHAT_CONFIG_DIR", str(folder))
    return folder
