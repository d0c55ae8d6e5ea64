"""The page's assets ship inside the package and load nothing from elsewhere (no CDN)."""

from __future__ import annotations

import re

from simple_risk.daemon.dashboard.server import STATIC

PAGES = ("account.html", "index.html")


def test_every_asset_a_page_names_is_in_the_package() -> None:
    for page in PAGES:
        text = (STATIC / page).read_text(encoding="utf-8")
        for reference in re.findall(r'(?:src|href)="([^"]+)"', text):
            if reference == "data:,":  # the empty icon: no favicon request
                continue
            assert reference.startswith("/static/"), (page, reference)
            assert (STATIC / reference.removeprefix("/static/")).is_file(), reference


def test_no_asset_loads_anything_from_another_site() -> None:
    for asset in STATIC.iterdir():
        text = asset.read_text(encoding="utf-8")
        assert not re.search(r"https?://(?!www\.w3\.org/2000/svg)", text), asset.name
        assert "//cdn" not in text, asset.name
