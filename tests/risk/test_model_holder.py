"""A province's edited model file: taken when valid, refused with the reason when not."""

from __future__ import annotations

import os
from pathlib import Path

from risk.model import MODEL_FILE, default_model
from risk.model_holder import ModelHolder

SHIPPED = (Path(__file__).resolve().parents[2] / "risk" / MODEL_FILE).read_text(encoding="utf-8")


def _write(path: Path, text: str, mtime: int) -> None:
    path.write_text(text, encoding="utf-8")
    os.utime(path, (mtime, mtime))


def test_an_edited_model_is_taken_and_a_broken_edit_leaves_it_in_force(tmp_path: Path) -> None:
    path = tmp_path / "province.toml"
    _write(path, SHIPPED.replace('version = "2026.1-default"', 'version = "2026.2-sh"'), 1000)
    holder = ModelHolder(path)
    assert (holder.current().version, holder.refused) == ("2026.2-sh", None)

    # a weight that breaks the sum, then a level removed: each refused, 2026.2-sh stays
    _write(path, SHIPPED.replace("inherent = 0.4", "inherent = 0.5", 1), 2000)
    assert holder.current().version == "2026.2-sh"
    assert holder.refused is not None
    assert "weights" in str(holder.refused)
    _write(path, SHIPPED.replace("\norange = 60\n", "\n"), 3000)
    assert holder.current().version == "2026.2-sh"
    assert "orange" in str(holder.refused)


def test_a_missing_file_keeps_the_default_and_says_why(tmp_path: Path) -> None:
    holder = ModelHolder(tmp_path / "nowhere.toml")
    assert holder.current().version == default_model().version
    assert holder.refused is not None
    assert "nowhere.toml" in str(holder.refused)
