"""The sample district: deterministic, complete, messy where real exports are, and calibrated.

Calibration is checked with plain SQL over the generated files (not through the pipeline), so a
pipeline bug cannot hide a generator bug or the other way round.
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from bps_pipeline.generate.district import GenerateOptions, generate
from bps_pipeline.ingest.contract import EXTRACTS
from bps_pipeline.catalog import target


def _digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*.csv"))}


def test_same_seed_gives_byte_identical_files(tmp_path, district_5000):
    subprocess.run([sys.executable, "-m", "bps_pipeline.cli", "generate", "--students", "5000", "--seed", "7",
                    "--out", str(tmp_path / "again")], check=True, capture_output=True)
    assert _digest(tmp_path / "again") == _digest(district_5000)


def test_other_seed_gives_other_files(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    generate(GenerateOptions(out=a, students=600, seed=1))
    generate(GenerateOptions(out=b, students=600, seed=2))
    assert _digest(a) != _digest(b)


def test_one_night_is_the_whole_districts_files_of_that_date(tmp_path, district_5000):
    """--night-only (the bench's next-day files) writes exactly the files dated --as-of, the same
    bytes as the whole district's: the daily files of that day and the snapshots of that night."""
    subprocess.run([sys.executable, "-m", "bps_pipeline.cli", "generate", "--students", "5000", "--seed", "7",
                    "--night-only", "--out", str(tmp_path / "night")], check=True, capture_output=True)
    dated = {k: v for k, v in _digest(district_5000).items() if k.endswith("_20201207.csv")}
    assert {k.split("/")[0] for k in dated} >= {"sis", "attendance", "online", "staff"}
    assert _digest(tmp_path / "night") == dated


def test_every_extract_of_the_contract_is_written(district_5000):
    for ex in EXTRACTS:
        assert list((district_5000 / ex.source).glob(f"{ex.name}_*.csv")), f"no {ex.source}/{ex.name} file"


def test_real_export_mess_is_planted(district_5000):
    students = (district_5000 / "sis" / "students_20201207.csv").read_bytes()
    assert students.startswith(b"\xef\xbb\xbf") and b"\r\n" in students
    schools = (district_5000 / "sis" / "schools_20201207.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        schools.decode("utf-8")
    assert "Hernández" in schools.decode("cp1252")
    marks = (district_5000 / "sis" / "course_marks_20201207.csv").read_text()
    for sample in (" B+", ",INC,", ",NM,", ",,"):
        assert sample in marks
    enroll = (district_5000 / "sis" / "enrollments_20201207.csv").read_text()
    assert any(len(line.split(",")[3]) == 10 and line.split(",")[3][2] == "/" for line in enroll.splitlines()[1:])
    activity = "".join(p.read_text() for p in sorted((district_5000 / "online").glob("*.csv"))[:10])
    assert "@district.example" in activity and "S0" in activity  # staff accounts, upper-case emails
    con = duckdb.connect()
    multi = con.execute(f"""SELECT count(*) FROM (SELECT local_id FROM read_csv('{district_5000}/sis/enrollments_20201207.csv',
                            all_varchar=true) GROUP BY local_id HAVING count(*) > 1)""").fetchone()[0]
    assert multi > 0


# --- calibration, in plain SQL over the files --------------------------------------------------


def _within(got: float, want: float, n: int, tolerance: float) -> bool:
    """The report's tolerance, widened to three binomial standard errors for a small district."""
    return abs(got - want) <= max(tolerance, 3 * math.sqrt(want * (1 - want) / max(n, 1)))


@pytest.fixture(scope="module")
def files(district_5000):
    con = duckdb.connect()
    d = str(district_5000)
    con.execute(f"CREATE VIEW students AS SELECT * FROM read_csv('{d}/sis/students_20201207.csv', all_varchar=true)")
    con.execute(f"CREATE VIEW students20 AS SELECT * FROM read_csv('{d}/sis/students_20191209.csv', all_varchar=true)")
    rows = list(csv.reader(io.StringIO((district_5000 / "sis" / "schools_20201207.csv").read_bytes().decode("cp1252"))))
    con.execute("CREATE TABLE schools (school_id VARCHAR, grading_schedule VARCHAR)")
    con.executemany("INSERT INTO schools VALUES (?, ?)", [[r[0], r[3]] for r in rows[1:]])
    con.execute(f"""CREATE VIEW marks AS SELECT * FROM read_csv(['{d}/sis/course_marks_20201207.csv', '{d}/sis/course_marks_20191209.csv'],
                    all_varchar=true, union_by_name=true)""")
    con.execute(f"CREATE VIEW devices AS SELECT * FROM read_csv('{d}/devices/chromebook_assignments_20201207.csv', all_varchar=true)")
    yield con
    con.close()


def _failure(files, year: int, department: str | None):
    students = "students" if year == 2021 else "students20"
    dept = f"AND m.department = '{department}'" if department else "AND m.department IN ('ELA','MATH','SCI','SS')"
    return files.execute(f"""
        WITH m AS (
            SELECT m.*, coalesce(m.mark, '') AS mk,
                   try_cast(regexp_extract(m.mark, '^([0-9]+(\\.[0-9]+)?)', 1) AS DOUBLE) AS num
            FROM marks m JOIN {students} s USING (local_id) JOIN schools sc ON sc.school_id = m.school_id
            WHERE m.school_year = '{year}' AND m.term = 'Q1' AND sc.grading_schedule = 'quarter'
              AND s.grade_level BETWEEN '06' AND '12' {dept}
              AND coalesce(m.mark, '') NOT IN ('', 'INC', 'NM'))
        SELECT avg(CASE WHEN num IS NOT NULL THEN (num < 60)::INT
                        ELSE (upper(mk) IN ('F','F+','F-','WF','NP'))::INT END), count(*) FROM m""").fetchone()


@pytest.mark.parametrize("year", [2020, 2021])
@pytest.mark.parametrize("subject", [None, "ELA", "MATH", "SCI", "SS"])
def test_core_course_failure_near_the_report(files, year, subject):
    got, n = _failure(files, year, subject)
    want = target("core_course_failure_rate", year, subject or "all")
    assert _within(got, want, n, 0.015), (year, subject, got, want, n)


def test_chromebooks_and_remote_share_near_the_report(files):
    coverage, opt_out, remote, n = files.execute("""
        WITH d AS (SELECT local_id, max((status = 'Assigned')::INT) AS a, max((status = 'Opt-Out')::INT) AS o
                   FROM devices WHERE local_id IS NOT NULL GROUP BY 1)
        SELECT avg(coalesce(a, 0)), avg(CASE WHEN o = 1 AND coalesce(a, 0) = 0 THEN 1 ELSE 0 END),
               avg((learning_model = 'Remote')::INT), count(*)
        FROM students s LEFT JOIN d USING (local_id) WHERE enrollment_status = 'Active'""").fetchone()
    assert _within(coverage, target("chromebook_coverage", 2021), n, 0.01)
    assert _within(opt_out, target("chromebook_opt_out", 2021), n, 0.01)
    assert _within(remote, target("remote_learning_share", 2021), n, 0.01)


def test_survey_response_rates_near_the_report(district_5000):
    con = duckdb.connect()
    rows = con.execute(f"""
        WITH r AS (SELECT respondent_type, count(DISTINCT response_id) AS n
                   FROM read_csv('{district_5000}/survey/responses_20201207.csv', all_varchar=true) GROUP BY 1),
             i AS (SELECT respondent_type, sum(invited_count::INT) AS n
                   FROM read_csv('{district_5000}/survey/invitations_20201207.csv', all_varchar=true) GROUP BY 1)
        SELECT respondent_type, r.n / i.n, i.n FROM r JOIN i USING (respondent_type)""").fetchall()
    assert len(rows) == 3
    for rtype, rate, n in rows:
        assert _within(rate, target("survey_response_rate", 2021, rtype), n, 0.005), (rtype, rate)


def test_staff_sign_in_near_the_report(district_5000):
    con = duckdb.connect()
    rate, days = con.execute(f"""
        WITH active AS (SELECT count(*) AS n FROM read_csv('{district_5000}/staff/roster_20201207.csv', all_varchar=true)
                        WHERE trim(STATUS) = 'Active'),
             daily AS (SELECT signin_date, count(DISTINCT staff_id) AS n
                       FROM read_csv('{district_5000}/staff/signins_*.csv', all_varchar=true) GROUP BY 1)
        SELECT avg(daily.n / active.n), count(*) FROM daily, active""").fetchone()
    assert days > 40
    assert abs(rate - target("staff_daily_signin", 2021)) <= 0.02
