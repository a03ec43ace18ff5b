"""The corpus of bad landing files: each case makes one bad entry in a landing folder holding the
small district and says which words its rejection must give. tests/test_bad_input.py runs each on
its own (the reason, nothing loaded) and all together in one pipeline run (the rest publishes)."""

from __future__ import annotations

import gzip
import io
import os
import shutil
import zipfile
from pathlib import Path
from typing import Callable

NEW_DATE = "20201208"  # a day after the district's extracts: a new file, not a re-sent one


def _lines(path: Path) -> list[str]:
    return path.read_bytes().decode("utf-8-sig").splitlines()


def _write_lines(path: Path, lines: list[str]) -> None:
    path.write_bytes(("\n".join(lines) + "\n").encode())


def _copy(landing: Path, extract: str, name: str | None = None, day: str = NEW_DATE) -> Path:
    """A copy of the extract's 2020-12-07 file under a new name (dated `day` by default)."""
    source, stem = extract.split("/")
    target = landing / source / (name or f"{stem}_{day}.csv")
    shutil.copy(landing / source / f"{stem}_20201207.csv", target)
    return target


def _cell(extract: str, column: int, value: str, line: int = 5) -> Callable[[Path], Path]:
    def make(landing: Path, day: str = NEW_DATE) -> Path:
        path = _copy(landing, extract, day=day)
        lines = _lines(path)
        cells = lines[line - 1].split(",")
        cells[column] = value
        lines[line - 1] = ",".join(cells)
        _write_lines(path, lines)
        return path
    return make


def _edit(extract: str, fn: Callable[[list[str]], list[str]]) -> Callable[[Path], Path]:
    def make(landing: Path, day: str = NEW_DATE) -> Path:
        path = _copy(landing, extract, day=day)
        _write_lines(path, fn(_lines(path)))
        return path
    return make


def _bytes(extract: str, fn: Callable[[bytes], bytes]) -> Callable[[Path], Path]:
    def make(landing: Path, day: str = NEW_DATE) -> Path:
        path = _copy(landing, extract, day=day)
        path.write_bytes(fn(path.read_bytes()))
        return path
    return make


def _xlsx(data: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("xl/worksheets/sheet1.xml", data)
    return out.getvalue()


def _entry(make: Callable[[Path], None], extract: str) -> Callable[[Path], Path]:
    """An entry named like a file of the extract that is not a file of data."""
    def made(landing: Path, day: str = NEW_DATE) -> Path:
        source, stem = extract.split("/")
        path = landing / source / f"{stem}_{day}.csv"
        make(path)
        return path
    return made


def _insert_at(lines: list[str], at: int, line: str) -> list[str]:
    return lines[:at] + [line] + lines[at:]


OUTSIDE = Path("/etc/hostname")

# id: (make(landing, day) -> the bad entry it made, dated `day` where its name has a date of its own
# choosing; words the reason must contain)
CASES: dict[str, tuple[Callable[[Path], Path], list[str]]] = {
    "missing-required-column": (_edit("sis/enrollments", lambda ls: [",".join(l.split(",")[:1] + l.split(",")[2:]) for l in ls]),
                                ["header", "school_id", "missing"]),
    "not-a-date": (_cell("sis/enrollments", 3, "2020-13-45"), ["line 5", "entry_date", "'2020-13-45'", "a date"]),
    "not-a-time": (_cell("staff/signins", 2, "soon"), ["line 5", "sign_in_time", "'soon'", "a time"]),
    "not-a-flag": (_cell("attendance/attendance_events", 3, "maybe"), ["line 5", "absent_ind", "'maybe'", "a flag"]),
    "not-an-allowed-value": (_cell("sis/students", 3, "13"), ["line 5", "grade_level", "'13'", "one of K0"]),
    "blank-required-value": (_cell("sis/students", 1, ""), ["line 5", "local_id", "is blank"]),
    "not-a-whole-number": (_cell("survey/invitations", 3, "12.5"), ["line 5", "invited_count", "'12.5'", "a whole number"]),
    "not-a-timestamp": (_cell("survey/responses", 6, "yesterday"), ["line 5", "submitted_at", "'yesterday'", "a timestamp"]),
    "number-too-large": (_cell("finance/budget_allocations", 4, "1234567890123.5"),
                         ["line 5", "amount", "'1234567890123.5'", "a number under a trillion"]),
    "empty-file": (_bytes("sis/calendar", lambda d: b""), ["empty (0 bytes)"]),
    "header-only": (_bytes("sis/calendar", lambda d: d.splitlines(keepends=True)[0]), ["header but no data rows"]),
    "truncated-last-row": (_bytes("sis/course_marks", lambda d: d.rstrip(b"\r\n")[: d.rstrip(b"\r\n").rfind(b",")]),
                           ["line", "expected 10 fields", "found 9"]),
    "row-with-extra-field": (_edit("sis/calendar", lambda ls: _insert_at(ls, 3, ls[3] + ",extra")),
                             ["line 4", "expected 3 fields, found 4"]),
    "unterminated-quote": (_bytes("survey/questions", lambda d: d + b'SY21-FALL,S99,Student,"How is it going?,5,4\n'),
                           ["line 11", "unterminated quote", "cut short"]),
    "semicolon-delimited": (_bytes("survey/invitations", lambda d: d.replace(b",", b";")), ["header", "missing"]),
    "duplicated-header-column": (_edit("survey/invitations", lambda ls: [ls[0].replace("invited_count", "school_id")] + ls[1:]),
                                 ["header", "school_id", "more than once"]),
    "nul-byte-in-a-field": (_bytes("survey/questions", lambda d: d.replace(b"excited", b"exci\x00ted", 1)),
                            ["line 2", "NUL byte"]),
    "gzip-named-csv": (_bytes("sis/calendar", gzip.compress), ["gzip-compressed", "not CSV text"]),
    "xlsx-named-csv": (_bytes("sis/calendar", _xlsx), ["zip archive", ".xlsx", "not CSV text"]),
    "xls-named-csv": (_bytes("sis/calendar", lambda d: b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + d), [".xls", "not CSV text"]),
    "pdf-named-csv": (_bytes("sis/calendar", lambda d: b"%PDF-1.7\n" + d), ["PDF", "not CSV text"]),
    "utf-16-text": (_bytes("sis/calendar", lambda d: d.decode().encode("utf-16")), ["UTF-16", "not CSV text"]),
    "mixed-encodings": (_bytes("survey/questions", lambda d: d.replace(b"excited", "excit\u00e9d".encode(), 1)
                               .replace(b"connected", b"conn\xe9cted", 1)),
                        ["not UTF-8", "line 3", "holds UTF-8 text", "mix of encodings"]),
    "neither-utf-8-nor-windows-1252": (_bytes("survey/questions", lambda d: d.replace(b"excited", b"exc\x81ted", 1)),
                                       ["line 2", "neither UTF-8 nor Windows-1252", "0x81"]),
    "duplicate-student": (_edit("sis/students", lambda ls: ls + [ls[4]]), ["the key (local_id)", "appears 2 times"]),
    "duplicate-event-as-another-date-format": (
        _edit("attendance/attendance_events",
              lambda ls: ls + [",".join(c if i != 2 else f"{c[5:7]}/{c[8:10]}/{c[:4]}" for i, c in enumerate(ls[3].split(",")))]),
        ["lines 4 and", "the key (local_id, school_id, event_date)", "appears 2 times"]),
    "not-a-real-date-in-the-name": (lambda landing, day=NEW_DATE: _copy(landing, "sis/calendar", "calendar_20201340.csv"),
                                    ["file name", "not a real YYYYMMDD date"]),
    "future-date-in-the-name": (lambda landing, day=NEW_DATE: _copy(landing, "sis/calendar", "calendar_20991231.csv"),
                                ["file name", "2099-12-31", "in the future"]),
    "no-date-in-the-name": (lambda landing, day=NEW_DATE: _copy(landing, "sis/calendar", "calendar.csv"),
                            ["file name", "known extract"]),
    "unknown-extract": (lambda landing, day=NEW_DATE: _copy(landing, "sis/calendar", f"calendars_{day}.csv"),
                        ["file name", "known extract"]),
    "a-directory": (_entry(lambda p: p.mkdir(), "sis/calendar"), ["a directory"]),
    "a-named-pipe": (_entry(os.mkfifo, "sis/calendar"), ["a named pipe"]),
    "a-broken-link": (_entry(lambda p: p.symlink_to(p.parent / "gone.csv"), "sis/calendar"),
                      ["symbolic link", "does not exist"]),
    "a-link-out-of-the-landing-folder": (_entry(lambda p: p.symlink_to(OUTSIDE), "sis/calendar"),
                                         ["symbolic link to /etc/hostname", "outside the landing folder"]),
    "a-link-loop": (_entry(lambda p: (p.with_name(".loop").symlink_to(p), p.symlink_to(p.with_name(".loop"))),
                           "sis/calendar"),
                    ["cannot be read", "symbolic links"]),
}
