"""Bad input: every case of the corpus (tests/bad_files.py) is rejected with a precise reason and
nothing of it loaded, the warehouse keeps what it had, and in one run with all of them the good
files still publish."""

from __future__ import annotations

import json
import os
import shutil
from datetime import date, timedelta

import duckdb
import pytest

from bps_pipeline.ingest.contract import EXTRACTS
from tests.bad_files import CASES
from tests.conftest import ingest, use_folders
from tests.test_ingest import warehouse_state


@pytest.fixture(scope="module")
def loaded(tmp_path_factory, small_district):
    """The small district ingested once; each test works on a copy (modification times kept, so
    the copied files stay unchanged to the loader)."""
    root = tmp_path_factory.mktemp("loaded")
    shutil.copytree(small_district, root / "landing")
    mp = pytest.MonkeyPatch()
    settings = use_folders(mp, root / "data", root / "landing")
    ingest(settings, "good", *EXTRACTS, strays=True)
    mp.undo()
    return root


@pytest.fixture
def copy_of_loaded(loaded, tmp_path, monkeypatch):
    shutil.copytree(loaded / "landing", tmp_path / "landing", symlinks=True)
    shutil.copytree(loaded / "data", tmp_path / "data")
    return use_folders(monkeypatch, tmp_path / "data", tmp_path / "landing")


def test_the_corpus_has_more_than_thirty_cases():
    assert len(CASES) >= 30


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_bad_entry_is_quarantined_with_its_reason_and_nothing_loaded(copy_of_loaded, case):
    settings = copy_of_loaded
    make, words = CASES[case]
    before = warehouse_state(settings)
    entry = make(settings.landing_dir)
    label = f"{entry.parent.name}/{entry.name}"
    results = [r for r in ingest(settings, "bad", *EXTRACTS, strays=True) if r.status != "unchanged"]
    assert [(r.file, r.status) for r in results] == [(label, "quarantined")]
    for w in words:
        assert w in results[0].reason, f"{w!r} not in {results[0].reason!r}"
    assert results[0].reason.startswith(f"{label}: ") and "\n" not in results[0].reason
    assert warehouse_state(settings) == before
    assert not os.path.lexists(entry), "the entry left the landing folder"
    moved = settings.quarantine_dir / entry.parent.name / entry.name
    assert os.path.lexists(moved)
    assert words[0] in moved.with_name(entry.name + ".reason.txt").read_text()
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM raw._rejections WHERE file_name = ?", [entry.name]).fetchone()[0] == 1


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a file whatever its permissions (a link loop stands in)")
def test_a_file_that_cannot_be_read_is_quarantined(copy_of_loaded):
    settings = copy_of_loaded
    locked = settings.landing_dir / "sis" / "calendar_20201208.csv"
    shutil.copy(settings.landing_dir / "sis" / "calendar_20201207.csv", locked)
    locked.chmod(0)
    (result,) = [r for r in ingest(settings, "locked", *EXTRACTS) if r.status != "unchanged"]
    assert result.status == "quarantined" and "cannot be read: Permission denied" in result.reason


@pytest.mark.slow  # a whole run to publish: the slow tier
def test_with_every_bad_entry_in_the_landing_folder_the_good_files_still_publish(small_district, tmp_path, monkeypatch):
    """One whole run over the district with the whole corpus dropped in beside it: each entry is
    quarantined with its reason and alerted once, and the figures publish."""
    from bps_pipeline.cli import run_pipeline, was_published

    landing = tmp_path / "landing"
    shutil.copytree(small_district, landing)
    settings = use_folders(monkeypatch, tmp_path / "data", landing)
    entries = {}
    for i, (case, (make, words)) in enumerate(sorted(CASES.items())):
        entry = make(landing, f"{date(2020, 12, 8) + timedelta(days=i):%Y%m%d}")  # each its own new day
        entries[f"{entry.parent.name}/{entry.name}"] = words
    assert len(entries) == len(CASES)
    result = run_pipeline(settings)
    assert was_published(result)
    alerts = [json.loads(line) for line in settings.alert_log_path.read_text().splitlines()]
    quarantined = {a["where"]: a["observed"] for a in alerts if a["kind"] == "file_quarantined"}
    assert set(quarantined) == set(entries)
    for label, words in entries.items():
        for w in words:
            assert w in quarantined[label], (label, w, quarantined[label])
