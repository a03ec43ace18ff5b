"""The progress report as a person sees it: the HTML in headless Chromium (Debian's chromium, which
`make test` installs where missing), the PDF's pages rendered to PNG by poppler, every figure equal
to the mart's and no suppressed value printed."""

from __future__ import annotations

import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import duckdb
import numpy as np
import pytest

# As the machine's notes give them: without the background-networking flags Chromium keeps trying
# to reach Google's hosts, which a closed network refuses.
CHROMIUM = ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--hide-scrollbars"]


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    assert shutil.which("chromium"), "Debian's chromium is missing: `make test` installs it (make system-packages)"
    return subprocess.run([*CHROMIUM, f"--user-data-dir={tmp_path / 'chromium-profile'}", *args],
                          capture_output=True, text=True, timeout=180, check=True)


class Figures(HTMLParser):
    """Every <td class="figure ..." data-metric=...> of a page: its cell key, the text shown, whether
    it is marked suppressed, and the text of the prior-year cell beside it."""

    def __init__(self):
        super().__init__()
        self.cells: list[list] = []  # [key, shown, suppressed, prior]
        self._open = None  # the cell whose text is being read, and which of its texts

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "td" and "figure" in (a.get("class") or "") and "data-period" in a:
            key = (a["data-metric"], a["data-school"] or None, a["data-subgroup-type"], a["data-subgroup-value"],
                   int(a["data-school-year"]), a["data-period"])
            self.cells.append([key, "", "suppressed" in a["class"], ""])
            self._open = 1
        elif tag == "td" and a.get("class") == "prior" and self.cells and self._open is None:
            self._open = 3

    def handle_data(self, data):
        if self._open is not None:
            self.cells[-1][self._open] += data

    def handle_endtag(self, tag):
        if tag == "td" and self._open is not None:
            self.cells[-1][self._open] = self.cells[-1][self._open].strip()
            self._open = None
        elif tag == "tr":
            self._open = None


@pytest.fixture(scope="module")
def report(pipeline_run):
    settings, result = pipeline_run
    assert result.success
    return settings, settings.report_dir / "report.html", settings.report_dir / "report.pdf"


def published_cells(settings) -> dict[tuple, tuple[str, bool]]:
    with duckdb.connect(str(settings.published_path), read_only=True) as con:
        rows = con.sql("""select metric_id, school_id, subgroup_type, subgroup_value, school_year, period, display_value,
                                 suppressed, coalesce(prior_display_value, '')
                          from marts.metric_values where period_type <> 'day'""").fetchall()
    return {r[:6]: r[6:] for r in rows}


def test_every_figure_chromium_shows_is_the_marts_and_suppressed_cells_show_none(report, tmp_path):
    settings, html, _ = report
    dom = chromium(tmp_path, "--dump-dom", html.as_uri()).stdout
    page = Figures()
    page.feed(dom)
    marts = published_cells(settings)
    assert len(page.cells) > 100
    suppressed = 0
    priors = 0
    for key, shown, marked, prior in page.cells:
        display, is_suppressed, prior_display = marts[key]
        assert (shown, marked, prior) == (display, is_suppressed, prior_display), key
        suppressed += is_suppressed
        priors += prior != ""
    assert suppressed > 0 and all(shown == "suppressed" and prior == "" for _, shown, marked, prior in page.cells if marked)
    assert priors > 0
    # every school with figures has its page, every commitment its section
    assert dom.count('class="commitment"') == 6
    with duckdb.connect(str(settings.published_path), read_only=True) as con:
        schools = con.sql("select count(distinct school_id) from marts.metric_values where school_id is not null "
                          "and period_type <> 'day'").fetchall()[0][0]
    assert dom.count('class="school"') == schools


def test_the_screenshot_shows_tables_and_charts(report, tmp_path):
    from PIL import Image

    from bps_pipeline.report.charts import THIS_YEAR

    _, html, _ = report
    shot = tmp_path / "report.png"
    chromium(tmp_path, f"--screenshot={shot}", "--window-size=1280,2000", html.as_uri())
    image = Image.open(shot).convert("RGB")
    assert image.size == (1280, 2000)
    pixels = np.asarray(image, dtype=int).reshape(-1, 3)
    ink = int((pixels.sum(axis=1) < 600).sum())  # text, rules, bars
    bar = np.array([int(THIS_YEAR[i:i + 2], 16) for i in (1, 3, 5)])
    chart = int((np.abs(pixels - bar).max(axis=1) <= 8).sum())
    assert ink > 0.01 * len(pixels), "the page rendered (nearly) blank"
    assert chart > 2000, "no chart drawn in the report's colour on the first screen"


def test_the_pdf_pages_render_with_the_anchor_goals(report, tmp_path):
    settings, _, pdf = report
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    pages = int(next(line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")))
    subprocess.run(["pdftoppm", "-png", "-r", "20", str(pdf), str(tmp_path / "page")], check=True)
    pngs = sorted(tmp_path.glob("page-*.png"))
    assert len(pngs) == pages >= 1 + 6
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert "Anchor goals" in text and "Commitment 6" in text
    with duckdb.connect(str(settings.published_path), read_only=True) as con:
        anchors = con.sql("select display_value, prior_display_value, change_display from marts.anchor_goals").fetchall()
    lines = [line.split() for line in text.splitlines()]
    for figures in anchors:  # the three figures of an anchor goal appear side by side on one line
        assert any(" ".join(f for f in figures if f) in " ".join(line) for line in lines), figures


def test_the_same_published_file_gives_the_same_bytes(report, tmp_path):
    from bps_pipeline.report.build import build_report

    settings, html, pdf = report
    again = build_report(settings.published_path, tmp_path / "again")
    assert again.html.read_bytes() == html.read_bytes()
    assert again.pdf.read_bytes() == pdf.read_bytes()
    assert "<script" not in html.read_text() and "http" not in html.read_text().replace("http://www.w3.org", "")
