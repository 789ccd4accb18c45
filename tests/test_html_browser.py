"""The HTML report in a real browser: headless Chromium renders every chart, runs the
page's script without errors, and never runs a name from the history as markup."""

from __future__ import annotations

import html.parser
import os
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from pytest_perfbudget.cli import main
from pytest_perfbudget.html import SCRIPT

from .test_cli import STEADY, STEPPED, build

CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
    "--disable-background-networking",
)  # fmt: skip
HOSTILE = 'tests/t.py::test_x[<img src=x onerror="document.body.dataset.injected=1">&"\']'


@pytest.fixture(scope="module")
def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    if os.environ.get("PERFBUDGET_REQUIRE_BROWSER") == "1":
        pytest.fail("no chromium on PATH, and PERFBUDGET_REQUIRE_BROWSER=1 (as in .ci/run)")
    pytest.skip("no chromium on PATH (apt-get install chromium)")


def browse(chromium: str, page: Path, profile: Path, *extra: str) -> str:
    completed = subprocess.run(
        [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *extra, page.as_uri()],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    return completed.stdout


class BodyAttributes(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.attributes: dict[str, str | None] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "body":
            self.attributes = dict(attrs)


def body_attributes(dom: str) -> dict[str, str | None]:
    parser = BodyAttributes()
    parser.feed(dom)
    return parser.attributes


def png_size_and_colours(path: Path) -> tuple[int, int, int]:
    """Width, height and how many distinct byte values the image data holds."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    position, chunks = 8, []
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        if kind == b"IDAT":
            chunks.append(data[position + 8 : position + 8 + length])
        position += 12 + length
    pixels = zlib.decompress(b"".join(chunks))
    return width, height, len(set(pixels))


def test_report_renders_its_charts_in_chromium(chromium: str, tmp_path: Path) -> None:
    history = tmp_path / "history.json"
    build(history, {"tests/t.py::test_stepped": STEPPED, HOSTILE: STEADY * 2})
    page = tmp_path / "report.html"
    assert main(["--history", str(history), "html", str(page)]) == 0
    dom = browse(chromium, page, tmp_path / "profile", "--dump-dom")
    attributes = body_attributes(dom)
    assert attributes.get("data-charts") == "4"  # time and memory for each test
    assert attributes.get("data-drawn") == "4"
    assert "data-errors" not in attributes
    assert "data-injected" not in attributes  # the hostile name stayed text
    assert "test_x[&lt;img src=x onerror=" in dom
    screenshot = tmp_path / "report.png"
    browse(
        chromium, page, tmp_path / "profile", f"--screenshot={screenshot}",
        "--window-size=1000,900", "--hide-scrollbars",
    )  # fmt: skip
    width, height, colours = png_size_and_colours(screenshot)
    assert (width, height) == (1000, 900)
    assert colours > 20  # text, lines and fills, not a blank page


def test_the_harness_sees_script_errors(chromium: str, tmp_path: Path) -> None:
    page = tmp_path / "broken.html"
    page.write_text(
        f"<!DOCTYPE html><html><body><script>{SCRIPT}</script>"
        '<input id="filter"><script>undefinedFunction();</script></body></html>'
    )
    attributes = body_attributes(browse(chromium, page, tmp_path / "profile", "--dump-dom"))
    assert attributes.get("data-errors") == "1"
    assert attributes.get("data-charts") == "0"
