"""Copy the browser tests' screenshots that docs/user-guide.md shows into docs/images/.

    python -m tests.browser.copy_screenshots [SOURCE_DIR]

SOURCE_DIR defaults to ``$DUSTTWIN_SCREENSHOTS`` or var/test-artefacts/screenshots (where the
browser tests leave them). The copies are reduced to a 256-colour palette (the pages are flat
colours and text), which keeps the repository small; a missing screenshot stops with its name.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "user-guide.md"
IMAGES = ROOT / "docs" / "images"


def wanted() -> list[str]:
    """The image files the user guide refers to."""
    return sorted(set(re.findall(r"images/([\w-]+\.png)", GUIDE.read_text(encoding="utf-8"))))


def main(argv: list[str]) -> int:
    """Copy every referenced screenshot; 1 (and the missing names) when one is missing."""
    default = os.environ.get("DUSTTWIN_SCREENSHOTS", str(ROOT / "var/test-artefacts/screenshots"))
    source = Path(argv[0]) if argv else Path(default)
    missing = [name for name in wanted() if not (source / name).exists()]
    if missing:
        print(f"not in {source}: {', '.join(missing)} (run the browser tests first)")
        return 1
    IMAGES.mkdir(parents=True, exist_ok=True)
    for name in wanted():
        with Image.open(source / name) as shot:
            shot.convert("RGB").quantize(colors=256).save(IMAGES / name, optimize=True)
        print(f"{IMAGES / name}: {(IMAGES / name).stat().st_size // 1024} KB")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
