"""The bundled sample district: every extract of design/extracts.md, in the landing layout.

Built set-based in DuckDB (no Python row loops), so a state-sized district takes minutes.
Randomness is a hash of (row key, salt, seed): the same seed gives byte-identical files on any
machine with the same DuckDB version. Shares that the report states exactly (race groups, the
anchor goals, failing 1+ course, Chromebooks, survey response) are assigned by rank, so they hold
at any size; the rest are drawn per row and land near the report at the default size.

Simplifications, each documented in docs/sample-district.md: years before SY2021 carry only what
their metrics read (graduates' senior-year spans and attendance, prior-year Q1 marks, snapshots of
students and roster); the prior-year students are the current population one year earlier.
"""

from __future__ import annotations

import csv
import io
import math
import tempfile
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Callable

import duckdb

from bps_pipeline.config import load_settings
from bps_pipeline.generate.calendar import SCHOOL_YEARS, holidays, school_year_of
from bps_pipeline.ingest.loader import extract_date_of
from bps_pipeline.catalog import target

DEFAULT_STUDENTS = 56_340
DEFAULT_STAFF = 9_023
DEFAULT_AS_OF = date(2020, 12, 7)
SURVEY_ID = "SY21-FALL"


@dataclass
class GenerateOptions:
    out: Path
    students: int = DEFAULT_STUDENTS
    seed: int = 1
    as_of: date = DEFAULT_AS_OF
    # Only the files dated as_of: one night's delivery (that day's daily files and the snapshots
    # sent that night), byte-identical to those of the whole district as of that day.
    night_only: bool = False
    progress: Callable[[str], None] = field(default=lambda msg: None)

    @property
    def scale(self) -> float:
        return self.students / DEFAULT_STUDENTS

    @property
    def earlier(self) -> date:
        """A second snapshot a week before as-of, so figures can be rebuilt as of that day."""
        return self.as_of - timedelta(days=7)


# The extract dates a district can be generated as of: two weeks into SY2021 (enough days for
# every metric) through its last school day.
EARLIEST_AS_OF = SCHOOL_YEARS[2021][0] + timedelta(days=14)
LATEST_AS_OF = SCHOOL_YEARS[2021][1]


def _d(value: date) -> str:
    return f"DATE '{value.isoformat()}'"


class _Writer:
    """Writes one extract file with the quirks its source system has."""

    def __init__(self, con: duckdb.DuckDBPyConnection, out: Path, only_dated: date | None = None):
        self.con, self.out, self.rows = con, out, {}
        self.only_dated = only_dated

    def wanted(self, name: str) -> bool:
        """Whether a file is written: every file, or only those ingest reads as of only_dated."""
        return self.only_dated is None or extract_date_of(name) == self.only_dated

    def copy(self, sql: str, source: str, name: str, *, crlf=False, bom=False) -> None:
        if not self.wanted(name):  # nor is its query run
            return
        path = self.out / source / name
        path.parent.mkdir(parents=True, exist_ok=True)
        # COPY returns the rows it wrote: no second run of the query to count them
        self.rows[f"{source}/{name}"] = self.con.execute(
            f"COPY ({sql}) TO '{path}' (FORMAT csv, HEADER true)").fetchone()[0]
        if crlf or bom:
            data = path.read_bytes()
            if crlf:
                data = data.replace(b"\n", b"\r\n")
            if bom:
                data = b"\xef\xbb\xbf" + data
            path.write_bytes(data)

    def per_day(self, table: str, day_column: str, columns: str, order_by: str, source: str, prefix: str,
                days_sql: str | None = None) -> None:
        """One file per day of a daily extract, `<prefix>_<YYYYMMDD>.csv`. The rows must be stored
        sorted by day (a table created with ORDER BY day_column, or a view over one): each day's
        COPY then reads only that day's row groups, not the whole year's. `days_sql` lists the
        days when `table` is a view too costly to scan whole for them."""
        days_sql = days_sql or f"SELECT DISTINCT {day_column} FROM {table}"
        days = [r[0] for r in self.con.execute(f"{days_sql} ORDER BY 1").fetchall()]
        for day in days:
            self.copy(f"SELECT {columns} FROM {table} WHERE {day_column} = {_d(day)} ORDER BY {order_by}",
                      source, f"{prefix}_{day:%Y%m%d}.csv")

    def text(self, source: str, name: str, header: list[str], rows: list[list], encoding: str,
             crlf: bool = True) -> None:
        if not self.wanted(name):
            return
        path = self.out / source / name
        path.parent.mkdir(parents=True, exist_ok=True)
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\r\n" if crlf else "\n").writerows([header, *rows])
        path.write_bytes(buf.getvalue().encode(encoding))
        self.rows[f"{source}/{name}"] = len(rows)


def generate(opts: GenerateOptions) -> dict[str, int]:
    """Write the sample district under opts.out; returns rows per file written."""
    if opts.students < 200:
        raise ValueError("--students must be at least 200 (smaller districts have no schools of every type)")
    if not EARLIEST_AS_OF <= opts.as_of <= LATEST_AS_OF:
        raise ValueError(f"--as-of must fall between {EARLIEST_AS_OF} and {LATEST_AS_OF} (SY2021)")
    opts.out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    # The pipeline's DuckDB limits, spilling to a scratch folder, so a state-sized district (16x)
    # generates on a 24 GiB machine.
    settings = load_settings()
    spill = tempfile.TemporaryDirectory(prefix="bps-generate-")
    con = duckdb.connect(config={"memory_limit": settings.duckdb_memory_limit, "threads": settings.duckdb_threads,
                                 "temp_directory": spill.name, "preserve_insertion_order": True})
    try:
        w = _Writer(con, opts.out, opts.as_of if opts.night_only else None)
        steps = [
            ("calendar and schools", _schools_and_calendar),
            ("students and enrollments", _students),
            ("course marks", _course_marks),
            ("attendance", _attendance),
            ("online activity", _online_activity),
            ("chromebooks", _chromebooks),
            ("staff roster and sign-ins", _staff),
            ("survey", _survey),
            ("graduates (SY2018-20)", _graduates),
            ("anchor-goal sources", _anchor_sources),
        ]
        for label, step in steps:
            t0 = time.monotonic()
            step(con, w, opts)
            opts.progress(f"  {label:<28} {time.monotonic() - t0:6.1f} s")
        opts.progress(f"  {'total':<28} {time.monotonic() - started:6.1f} s, {len(w.rows)} files")
        return w.rows
    finally:
        con.close()
        spill.cleanup()


# ---------------------------------------------------------------------------------------------
# schools and calendars


_SCHOOL_NAMES = [
    "Adams", "Baldwin", "Channing", "Dever", "Eliot", "Frederick", "Guild", "Haley", "Irving",
    "Jackson", "Kennedy", "Lyndon", "Mather", "Mendell", "Mozart", "Otis", "Perkins", "Quincy",
    "Russell", "Sumner", "Taylor", "Tobin", "Winship", "Young", "Curley", "Ellis", "Grew",
    "Hale", "Holmes", "Kilmer", "Lee", "Mason", "Murphy", "Philbrick", "Shaw", "Trotter",
]
# (type, share of schools, suffix, grades served)
_SCHOOL_TYPES = [
    ("ES", 0.40, "Elementary School", ["K0", "K1", "K2", "01", "02", "03", "04", "05"]),
    ("K8", 0.22, "K-8 School", ["K0", "K1", "K2", "01", "02", "03", "04", "05", "06", "07", "08"]),
    ("MS", 0.06, "Middle School", ["06", "07", "08"]),
    ("HS", 0.24, "High School", ["09", "10", "11", "12"]),
    ("6-12", 0.05, "Academy", ["06", "07", "08", "09", "10", "11", "12"]),
    ("SPED", 0.03, "Special Education Center", ["SP"]),
]
_GRADE_WEIGHTS = {
    "K0": 3.0, "K1": 5.0, "K2": 6.5, "01": 6.8, "02": 6.8, "03": 6.8, "04": 6.8, "05": 6.8,
    "06": 6.3, "07": 6.3, "08": 6.3, "09": 9.0, "10": 8.0, "11": 6.8, "12": 6.5, "SP": 1.5,
}
CENTRAL_OFFICES = ["C900", "C901", "C902"]


def _school_rows(opts: GenerateOptions) -> list[dict]:
    n = max(12, round(125 * math.sqrt(opts.scale)))
    counts = [max(1, round(share * n)) for _, share, _, _ in _SCHOOL_TYPES]
    counts[0] += n - sum(counts)
    rows, i = [], 0
    for (stype, _, suffix, _grades), count in zip(_SCHOOL_TYPES, counts, strict=False):
        for k in range(count):
            base = _SCHOOL_NAMES[i % len(_SCHOOL_NAMES)]
            if i >= len(_SCHOOL_NAMES):
                base += f" {i // len(_SCHOOL_NAMES) + 1}"
            rows.append({"school_id": f"{101 + i:04d}", "school_name": f"{base} {suffix}",
                         "school_type": stype, "k": k})
            i += 1
    # Two real-looking names that a Windows-1252 export carries: an accent and a curly apostrophe.
    rows[next(j for j, r in enumerate(rows) if r["school_type"] == "K8")]["school_name"] = "Escuela Hernández K-8"
    rows[next(j for j, r in enumerate(rows) if r["school_type"] == "HS")]["school_name"] = "John D. O’Bryant School"
    for r in rows:
        h = (int(r["school_id"]) * 2654435761 + opts.seed * 97) % 1000 / 1000
        if r["school_type"] in ("MS", "HS", "6-12", "K8") and h < 0.09:
            r["grading_schedule"] = "trimester"
        elif r["school_type"] == "HS" and h < 0.12:
            r["grading_schedule"] = "semester"
        else:
            r["grading_schedule"] = "quarter"
        r["transformation_school"] = "Y" if (h * 7) % 1 < 0.27 else "N"
    for j, code in enumerate(CENTRAL_OFFICES):
        rows.append({"school_id": code, "school_name": f"Central Office {j + 1}",
                     "school_type": "CENTRAL", "grading_schedule": "quarter",
                     "transformation_school": "N", "k": 0})
    return rows


def _schools_and_calendar(con, w: _Writer, opts: GenerateOptions) -> None:
    con.execute(f"CREATE MACRO u(k) AS ((hash(k::VARCHAR || '#{opts.seed}') % 1000003)::DOUBLE / 1000003.0)")
    con.execute("CREATE MACRO h(k) AS hash(k::VARCHAR)")
    schools = _school_rows(opts)
    con.execute("CREATE TABLE schools (school_id VARCHAR, school_name VARCHAR, school_type VARCHAR,"
                " grading_schedule VARCHAR, transformation_school VARCHAR)")
    con.executemany("INSERT INTO schools VALUES (?, ?, ?, ?, ?)",
                    [[r["school_id"], r["school_name"], r["school_type"], r["grading_schedule"],
                      r["transformation_school"]] for r in schools])
    grades = [(t, g) for t, _, _, gs in _SCHOOL_TYPES for g in gs]
    con.execute("CREATE TABLE type_grades (school_type VARCHAR, grade_level VARCHAR)")
    con.executemany("INSERT INTO type_grades VALUES (?, ?)", grades)
    header = ["school_id", "school_name", "school_type", "grading_schedule", "transformation_school"]
    body = [[r[c] for c in header] for r in schools]
    for day in (date(2017, 12, 11), date(2018, 12, 10), date(2019, 12, 9), opts.earlier, opts.as_of):
        # Aspen's directory export is Windows-1252 with CRLF line ends.
        w.text("sis", f"schools_{day:%Y%m%d}.csv", header, body, encoding="cp1252")

    con.execute("CREATE TABLE calendar (school_year INT, school_id VARCHAR, calendar_date DATE, in_session BOOLEAN)")
    closed = []
    for year, (first, last) in SCHOOL_YEARS.items():
        closed += [(year, d) for d in holidays(year)]
        con.execute(f"""
            INSERT INTO calendar
            SELECT {year}, s.school_id, d::DATE, false
            FROM schools s, generate_series({_d(first)}, {_d(last)}, INTERVAL 1 DAY) t(d)
            WHERE s.school_type <> 'CENTRAL'""")
    con.execute("CREATE TABLE closed_days (school_year INT, d DATE)")
    con.executemany("INSERT INTO closed_days VALUES (?, ?)", closed)
    con.execute("""
        UPDATE calendar SET in_session = isodow(calendar_date) <= 5
            AND calendar_date NOT IN (SELECT d FROM closed_days)""")
    # One school closed for a day by a building problem: a student enrolled that day has no
    # student-day there.
    con.execute("""
        UPDATE calendar SET in_session = false
        WHERE calendar_date = DATE '2020-10-19'
          AND school_id = (SELECT min(school_id) FROM schools WHERE school_type = 'ES')""")
    for year, snap in ((2018, date(2018, 6, 30)), (2019, date(2019, 6, 30)), (2020, date(2020, 6, 30)),
                       (2021, opts.earlier), (2021, opts.as_of)):
        w.copy(f"""SELECT school_id, calendar_date, CASE WHEN in_session THEN 'Y' ELSE 'N' END AS in_session
                   FROM calendar WHERE school_year = {year} ORDER BY school_id, calendar_date""",
               "sis", f"calendar_{snap:%Y%m%d}.csv", crlf=True)
    con.execute("""CREATE TABLE work_days AS
                   SELECT DISTINCT school_year, calendar_date FROM calendar WHERE in_session""")


# ---------------------------------------------------------------------------------------------
# students and enrollments (SY2021; earlier years are the same population)


def _students(con, w: _Writer, opts: GenerateOptions) -> None:
    n = opts.students
    first = SCHOOL_YEARS[2021][0]
    con.execute("CREATE TABLE grade_weights (grade_level VARCHAR, lo DOUBLE, hi DOUBLE)")
    total = sum(_GRADE_WEIGHTS.values())
    acc, rows = 0.0, []
    for g, wgt in _GRADE_WEIGHTS.items():
        rows.append((g, acc / total, (acc + wgt) / total))
        acc += wgt
    con.executemany("INSERT INTO grade_weights VALUES (?, ?, ?)", rows)
    # Every school serving a grade gets a share of it in proportion to a size factor.
    con.execute("""
        CREATE TABLE school_grade_pick AS
        WITH e AS (
            SELECT tg.grade_level, s.school_id, 0.4 + u(s.school_id || 'size') AS wgt
            FROM schools s JOIN type_grades tg USING (school_type))
        SELECT grade_level, school_id,
               coalesce(sum(wgt) OVER (PARTITION BY grade_level ORDER BY school_id
                        ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) / sum(wgt) OVER (PARTITION BY grade_level) AS lo,
               sum(wgt) OVER (PARTITION BY grade_level ORDER BY school_id) / sum(wgt) OVER (PARTITION BY grade_level) AS hi
        FROM e""")
    latinx, black = target_share("Latinx"), target_share("Black")
    white, asian = target_share("White"), target_share("Asian")
    con.execute(f"""
        CREATE TABLE students AS
        WITH base AS (
            SELECT i, lpad(i::VARCHAR, 8, '0') AS local_id,
                   (1000000000 + i * 7 + 3)::VARCHAR AS state_id,
                   (row_number() OVER (ORDER BY u(i || 'race')) - 1)::DOUBLE / {n} AS race_p,
                   (row_number() OVER (ORDER BY u(i || 'model')) - 1)::DOUBLE / {n} AS model_p,
                   u(i || 'grade') AS gu, u(i || 'school') AS su
            FROM range({n}) t(i)),
        graded AS (
            SELECT b.*, g.grade_level FROM base b JOIN grade_weights g ON b.gu >= g.lo AND b.gu < g.hi)
        SELECT g.i, g.local_id, g.state_id, g.grade_level, p.school_id,
               CASE WHEN race_p < {latinx} THEN 'Latinx'
                    WHEN race_p < {latinx + black} THEN 'Black'
                    WHEN race_p < {latinx + black + white} THEN 'White'
                    WHEN race_p < {latinx + black + white + asian} THEN 'Asian'
                    ELSE 'Multi-Race/Other' END AS race_group,
               CASE WHEN model_p < {target('remote_learning_share', 2021)} THEN 'Remote'
                    WHEN model_p < 0.84 THEN 'Hybrid' ELSE 'In-Person' END AS learning_model,
               u(i || 'x1') AS x1, u(i || 'x2') AS x2, u(i || 'x3') AS x3, u(i || 'x4') AS x4
        FROM graded g JOIN school_grade_pick p
          ON p.grade_level = g.grade_level AND g.su >= p.lo AND g.su < p.hi""")
    con.execute("""
        ALTER TABLE students ADD COLUMN hispanic_ind VARCHAR;
        ALTER TABLE students ADD COLUMN race_codes VARCHAR;
        UPDATE students SET
          hispanic_ind = CASE WHEN race_group = 'Latinx' THEN 'Y' ELSE 'N' END,
          race_codes = CASE race_group
              WHEN 'Latinx' THEN CASE WHEN x1 < 0.5 THEN 'WH' WHEN x1 < 0.6 THEN 'BL'
                                      WHEN x1 < 0.7 THEN 'WH|BL' ELSE '' END
              WHEN 'Black' THEN 'BL' WHEN 'White' THEN 'WH' WHEN 'Asian' THEN 'AS'
              ELSE CASE WHEN x1 < 0.4 THEN 'BL|WH' WHEN x1 < 0.55 THEN 'AM' WHEN x1 < 0.65 THEN 'PI'
                        WHEN x1 < 0.85 THEN 'AS|WH' ELSE '' END END;
        CREATE TABLE student_attrs AS SELECT
          i,
          CASE WHEN x2 < 0.49 THEN 'F' WHEN x2 < 0.99 THEN 'M' ELSE 'N' END AS gender,
          CASE WHEN x3 < 0.55 THEN 'en' WHEN x3 < 0.80 THEN 'es' WHEN x3 < 0.85 THEN 'ht'
               WHEN x3 < 0.89 THEN 'zh' WHEN x3 < 0.92 THEN 'vi' WHEN x3 < 0.95 THEN 'pt'
               WHEN x3 < 0.98 THEN 'cv' ELSE 'so' END AS home_language,
          x3 >= 0.55 AND u(i || 'ell') < 0.66 AS ell,
          u(i || 'sped') < 0.20 AS swd,
          u(i || 'li') < 0.70 AS low_income,
          -- latent rates: absence (mean about 10% of days) and daily online activity (about 86%)
          CASE WHEN x4 < 0.70 THEN u(i || 'a') * 0.10 WHEN x4 < 0.90 THEN 0.10 + u(i || 'a') * 0.10
               ELSE 0.20 + u(i || 'a') * 0.25 END * 1.07 AS absence_rate,
          CASE WHEN u(i || 'o') < 0.75 THEN 0.88 + u(i || 'p') * 0.12 ELSE 0.40 + u(i || 'p') * 0.50 END AS online_rate,
          u(i || 'span') AS span_u
        FROM students;
    """)
    # Enrollment spans: most students one span from the first day; transfers two; a few late
    # entrants and withdrawals (Inactive).
    con.execute(f"""
        CREATE TABLE spans AS
        WITH s AS (SELECT st.i, st.local_id, st.school_id, st.grade_level, a.span_u,
                          (SELECT p.school_id FROM school_grade_pick p
                           WHERE p.grade_level = st.grade_level AND p.school_id <> st.school_id
                           ORDER BY u(st.i || p.school_id) LIMIT 1) AS prev_school
                   FROM students st JOIN student_attrs a USING (i))
        SELECT i, local_id, school_id, {_d(first)} + (10 + h(i || 'late') % 35)::INT AS entry_date,
               NULL::DATE AS withdrawal_date, 'E02' AS entry_code, NULL AS withdrawal_code, 'late' AS kind
        FROM s WHERE span_u < 0.02
        UNION ALL
        SELECT i, local_id, school_id, {_d(first)}, {_d(first)} + (15 + h(i || 'wd') % 60)::INT, 'E01', 'W21', 'withdrawn'
        FROM s WHERE span_u >= 0.02 AND span_u < 0.04
        UNION ALL
        SELECT i, local_id, prev_school, {_d(first)}, {_d(first)} + (10 + h(i || 'tr') % 50)::INT, 'E01', 'T11', 'transfer_out'
        FROM s WHERE span_u >= 0.04 AND span_u < 0.07 AND prev_school IS NOT NULL
        UNION ALL
        SELECT i, local_id, school_id, {_d(first)} + (10 + h(i || 'tr') % 50)::INT, NULL, 'E03', NULL, 'transfer_in'
        FROM s WHERE span_u >= 0.04 AND span_u < 0.07 AND prev_school IS NOT NULL
        UNION ALL
        SELECT i, local_id, school_id, {_d(first)}, NULL, 'E01', NULL, 'regular'
        FROM s WHERE span_u >= 0.07 OR (span_u >= 0.04 AND prev_school IS NULL)""")

    def students_sql(snap: date, year: int) -> str:
        # The snapshot shows each student at the school of their newest span begun by then.
        if year < 2021:  # the prior-year population: everyone active at their current school
            cur = "SELECT local_id, school_id, true AS active FROM students"
        else:
            cur = f"""SELECT local_id, arg_max(school_id, entry_date) AS school_id,
                             bool_or(withdrawal_date IS NULL OR withdrawal_date > {_d(snap)}) AS active
                      FROM spans WHERE entry_date <= {_d(snap)} GROUP BY local_id"""
        return f"""
            WITH cur AS ({cur})
            SELECT s.state_id, s.local_id, c.school_id, s.grade_level, s.hispanic_ind, s.race_codes,
                   a.gender, CASE WHEN a.ell THEN 'Y' ELSE 'N' END AS ell_ind,
                   CASE WHEN a.swd THEN 'Y' ELSE 'N' END AS sped_ind,
                   CASE WHEN a.low_income THEN 'Y' ELSE 'N' END AS low_income_ind,
                   CASE WHEN a.home_language = 'en' AND u(s.i || 'hl') < 0.05 THEN '' ELSE a.home_language END AS home_language,
                   {"s.learning_model" if year == 2021 else "NULL"} AS learning_model,
                   's' || s.local_id || '@students.district.example' AS email,
                   CASE WHEN c.active THEN 'Active' ELSE 'Inactive' END AS enrollment_status
            FROM students s JOIN student_attrs a USING (i)
            JOIN cur c ON c.local_id = s.local_id
            ORDER BY s.local_id"""

    for snap in (date(2019, 6, 10), date(2019, 12, 9), opts.earlier, opts.as_of):
        w.copy(students_sql(snap, school_year_of(snap)), "sis", f"students_{snap:%Y%m%d}.csv", crlf=True, bom=True)
    for snap in (opts.earlier, opts.as_of):
        # Aspen users export some dates as MM/DD/YYYY.
        w.copy(f"""
            SELECT local_id, school_id, 2021 AS school_year,
                   CASE WHEN u(local_id || kind || 'fmt') < 0.05 THEN strftime(entry_date, '%m/%d/%Y')
                        ELSE strftime(entry_date, '%Y-%m-%d') END AS entry_date,
                   CASE WHEN withdrawal_date <= {_d(snap)} THEN strftime(withdrawal_date, '%Y-%m-%d') END AS withdrawal_date,
                   entry_code, CASE WHEN withdrawal_date <= {_d(snap)} THEN withdrawal_code END AS withdrawal_code
            FROM spans WHERE entry_date <= {_d(snap)} ORDER BY local_id, entry_date""",
            "sis", f"enrollments_{snap:%Y%m%d}.csv", crlf=True)


def target_share(race_group: str) -> float:
    """District enrollment by race group (BPS SY2021)."""
    return {"Latinx": 0.42, "Black": 0.30, "White": 0.15, "Asian": 0.09}[race_group]


# ---------------------------------------------------------------------------------------------
# course marks: Q1 of SY2020 and SY2021 (T1 at trimester schools)

_CORE = ["ELA", "MATH", "SCI", "SS"]
_RACES = ["Asian", "Black", "Latinx", "Multi-Race/Other", "White"]


def _subject_probabilities(year: int) -> dict[str, float]:
    """P(subject fails | student fails 1+), solved so that the marginal rates match the report
    once a student whose draws all passed is given one failing subject at random."""
    shares = {r: target_share(r) for r in ("Latinx", "Black", "White", "Asian")}
    shares["Multi-Race/Other"] = 1 - sum(shares.values())
    p_any = sum(share * target("students_failing_one_plus", year, r) for r, share in shares.items())
    wanted = {s: target("core_course_failure_rate", year, s) / p_any for s in _CORE}
    q = dict(wanted)
    for _ in range(50):
        none = math.prod(1 - v for v in q.values())
        q = {s: min(0.99, max(0.01, wanted[s] - none / 4)) for s in _CORE}
    return q


def _course_marks(con, w: _Writer, opts: GenerateOptions) -> None:
    con.execute("CREATE TABLE fail_plan (school_year INT, race_group VARCHAR, p DOUBLE)")
    con.executemany("INSERT INTO fail_plan VALUES (?, ?, ?)",
                    [(y, r, target("students_failing_one_plus", y, r)) for y in (2020, 2021) for r in _RACES])
    con.execute("CREATE TABLE subject_plan (school_year INT, department VARCHAR, q DOUBLE)")
    con.executemany("INSERT INTO subject_plan VALUES (?, ?, ?)",
                    [(y, s, q) for y in (2020, 2021) for s, q in _subject_probabilities(y).items()])
    # Students in grades 6-12 who take courses, per year; failing 1+ assigned by rank per race.
    con.execute("""
        CREATE TABLE mark_students AS
        WITH e AS (
            SELECT y.school_year, st.i, st.local_id, st.school_id, st.grade_level, st.race_group,
                   sc.grading_schedule,
                   row_number() OVER (PARTITION BY y.school_year, st.race_group ORDER BY u(st.i || y.school_year || 'f1')) AS rk,
                   count(*) OVER (PARTITION BY y.school_year, st.race_group) AS n
            FROM students st JOIN schools sc USING (school_id)
            CROSS JOIN (VALUES (2020), (2021)) y(school_year)
            WHERE st.grade_level BETWEEN '06' AND '12' AND sc.grading_schedule <> 'semester')
        SELECT e.*, CASE WHEN grading_schedule = 'quarter' THEN rk <= round(n * fp.p)
                         ELSE u(i || school_year || 'tri') < 0.45 END AS fails_any
        FROM e JOIN fail_plan fp USING (school_year, race_group)""")
    con.execute("""
        CREATE TABLE marks AS
        WITH courses AS (
            SELECT * FROM (VALUES ('ELA', 1), ('MATH', 2), ('SCI', 3), ('SS', 4), ('WL', 5), ('ART', 6), ('PE', 7))
            t(department, k)),
        m AS (
            SELECT ms.school_year, ms.i, ms.local_id, ms.school_id, ms.grade_level, ms.fails_any,
                   c.department, c.k,
                   CASE WHEN ms.grading_schedule = 'quarter' THEN 'Q1' ELSE 'T1' END AS term,
                   u(ms.i || ms.school_year || c.department || 'm') AS mu,
                   u(ms.i || ms.school_year || c.department || 'g') AS gu,
                   u(ms.i || ms.school_year || c.department || 'r') AS ru
            FROM mark_students ms CROSS JOIN courses c
            WHERE c.k <= 4 OR u(ms.i || c.department || 'takes') < 0.6),
        drawn AS (
            SELECT m.*, sp.q,
                   CASE WHEN gu < 0.010 THEN 'blank' WHEN gu < 0.016 THEN 'INC' WHEN gu < 0.020 THEN 'NM' END AS not_graded,
                   -- the subject a failing student fails when every draw passed
                   k = 1 + (h(i || school_year || 'force') % 4)::INT AS forced
            FROM m LEFT JOIN subject_plan sp USING (school_year, department))
        SELECT *, CASE WHEN not_graded IS NOT NULL THEN NULL
                       WHEN k > 4 THEN mu < 0.05
                       WHEN NOT fails_any THEN false
                       ELSE mu < q OR (forced AND NOT EXISTS (
                            SELECT 1 FROM subject_plan sp2
                            WHERE sp2.school_year = drawn.school_year
                              AND u(drawn.i || drawn.school_year || sp2.department || 'm') < sp2.q)) END AS failing
        FROM drawn""")
    # How Aspen shows a mark: '85.12 B+', 'B+', '72', 'F', 'INC', 'P', 'NP', 'WF', 'NM' or blank.
    con.execute("""
        CREATE MACRO letter(x) AS CASE WHEN x >= 93 THEN 'A' WHEN x >= 90 THEN 'A-' WHEN x >= 87 THEN 'B+'
            WHEN x >= 83 THEN 'B' WHEN x >= 80 THEN 'B-' WHEN x >= 77 THEN 'C+' WHEN x >= 73 THEN 'C'
            WHEN x >= 70 THEN 'C-' WHEN x >= 67 THEN 'D+' WHEN x >= 63 THEN 'D' WHEN x >= 60 THEN 'D-' ELSE 'F' END;
        CREATE TABLE mark_text AS
        SELECT *,
          CASE WHEN not_graded = 'blank' THEN NULL WHEN not_graded IS NOT NULL THEN not_graded
               WHEN failing THEN CASE
                    WHEN ru < 0.25 THEN 'F' WHEN ru < 0.55 THEN printf('%.2f F', 35 + ru * 24)
                    WHEN ru < 0.75 THEN (30 + (h(i || department) % 29))::VARCHAR
                    WHEN ru < 0.80 THEN 'F-' WHEN ru < 0.87 THEN 'WF' WHEN ru < 0.94 THEN 'NP' ELSE '59.5' END
               ELSE CASE
                    WHEN ru < 0.40 THEN printf('%.2f %s', 60 + ru * 100, letter(60 + ru * 100))
                    WHEN ru < 0.70 THEN letter(60 + (ru - 0.4) * 130)
                    WHEN ru < 0.90 THEN (60 + (h(i || department) % 40))::VARCHAR
                    WHEN ru < 0.95 THEN 'P' ELSE '60' END END AS mark
        FROM marks""")

    def marks_sql(year: int, snap: date, posted_from: date, posted_to: date) -> str:
        span = (posted_to - posted_from).days
        return f"""
            WITH p AS (SELECT *, {_d(posted_from)} + (h(i || department || 'post') % {span + 1})::INT AS post_date
                       FROM mark_text WHERE school_year = {year})
            SELECT local_id, school_id, school_year, term,
                   department || '-' || grade_level || lpad(k::VARCHAR, 2, '0') AS course_number,
                   department || ' ' || grade_level AS course_description, department,
                   lpad((1 + h(i || department || 'sec') % 6)::VARCHAR, 3, '0') AS section,
                   CASE WHEN post_date <= {_d(snap)} THEN mark END AS mark,
                   CASE WHEN post_date <= {_d(snap)} AND mark IS NOT NULL THEN post_date END AS post_date
            FROM p ORDER BY local_id, course_number"""

    w.copy(marks_sql(2020, date(2019, 12, 9), date(2019, 11, 12), date(2019, 12, 6)),
           "sis", "course_marks_20191209.csv", crlf=True)
    for snap in (opts.earlier, opts.as_of):
        w.copy(marks_sql(2021, snap, date(2020, 11, 16), date(2020, 12, 4)), "sis",
               f"course_marks_{snap:%Y%m%d}.csv", crlf=True)


# ---------------------------------------------------------------------------------------------
# attendance (exceptions only) and online activity, SY2021 to date


def _attendance(con, w: _Writer, opts: GenerateOptions) -> None:
    first = SCHOOL_YEARS[2021][0]
    con.execute(f"""
        CREATE TABLE student_days AS
        SELECT sp.i, sp.local_id, sp.school_id, c.calendar_date AS d, c.in_session
        FROM spans sp JOIN calendar c
          ON c.school_year = 2021 AND c.school_id = sp.school_id
         AND c.calendar_date >= sp.entry_date
         AND (sp.withdrawal_date IS NULL OR c.calendar_date < sp.withdrawal_date)
        WHERE c.calendar_date BETWEEN {_d(first)} AND {_d(opts.as_of)}""")
    con.execute("""
        CREATE TABLE events AS
        WITH x AS (
            SELECT sd.*, a.absence_rate, st.learning_model, u(sd.i || sd.d || 'abs') AS au,
                   u(sd.i || sd.d || 'ev') AS eu
            FROM student_days sd JOIN student_attrs a USING (i) JOIN students st USING (i)
            WHERE sd.in_session)
        SELECT local_id, school_id, d AS event_date,
               CASE WHEN au < absence_rate THEN 'Y' ELSE 'N' END AS absent_ind,
               CASE WHEN au >= absence_rate AND eu < 0.03 THEN 'Y' ELSE 'N' END AS tardy_ind,
               CASE WHEN au >= absence_rate AND eu >= 0.03 AND eu < 0.04 THEN 'Y' ELSE 'N' END AS dismissed_ind,
               CASE WHEN au < absence_rate AND eu < 0.4 THEN 'Y' ELSE 'N' END AS excused_ind,
               CASE WHEN au < absence_rate AND eu > 0.9 THEN '0.5'
                    WHEN au < absence_rate AND eu > 0.85 THEN '1' END AS portion_absent,
               CASE WHEN au < absence_rate THEN CASE WHEN eu < 0.4 THEN 'ILL' WHEN eu < 0.6 THEN 'FAM' ELSE 'UNX' END
                    WHEN eu < 0.03 THEN 'TAR' WHEN eu < 0.04 THEN 'DIS' END AS reason_code,
               CASE WHEN learning_model = 'Remote' OR (learning_model = 'Hybrid' AND isodow(d) >= 3) THEN 'Remote'
                    ELSE 'In-Person' END AS attendance_mode
        FROM x WHERE au < absence_rate OR eu < 0.04""")
    for snap in (opts.earlier, opts.as_of):
        w.copy(f"SELECT * FROM events WHERE event_date <= {_d(snap)} ORDER BY event_date, local_id",
               "attendance", f"attendance_events_{snap:%Y%m%d}.csv", crlf=True)


def _online_activity(con, w: _Writer, opts: GenerateOptions) -> None:
    con.execute("""
        CREATE TABLE logins AS
        WITH x AS (
            SELECT sd.i, sd.local_id, sd.d, sd.in_session, a.online_rate
            FROM student_days sd JOIN student_attrs a USING (i))
        SELECT i, local_id, d FROM x
        WHERE u(i || d || 'login') < CASE WHEN in_session THEN online_rate ELSE online_rate * 0.2 END
        ORDER BY d""")
    # The activity rows are a view over the logins, stored by day: each day's file computes its
    # own rows from that day's logins (65 million rows a year at 4x are never stored or sorted
    # whole). Staff and test accounts log in too; the pipeline ignores and counts them.
    n_other = max(5, round(3000 * opts.scale))
    con.execute(f"""
        CREATE VIEW activity AS
        WITH apps AS (SELECT * FROM (VALUES (0, 'Gmail'), (1, 'Classroom'), (2, 'Drive'), (3, 'Meet'), (4, 'Docs')) t(n, app)),
        -- each login's draws once (the key i || d as text once, the case draw once, not per
        -- application row): the same values, a third of the hashing
        draws AS (
            SELECT i, local_id, d, u(key || 'app1') < 0.5 AS app1, u(key || 'app2') < 0.2 AS app2,
                   u(key || 'case') AS case_u, key
            FROM (SELECT *, i || d AS key FROM logins)),
        rows_ AS (
            SELECT l.*, k FROM draws l, range(3) r(k)
            WHERE k = 0 OR (k = 1 AND app1) OR (k = 2 AND app2))
        SELECT r.d AS activity_date,
               CASE WHEN r.case_u < 0.02 THEN upper('s' || r.local_id || '@students.district.example')
                    WHEN r.case_u < 0.03 THEN 'S' || r.local_id || '@Students.District.example'
                    ELSE 's' || r.local_id || '@students.district.example' END AS user_email,
               a.app AS application, (1 + h(r.key || r.k) % 40)::INT AS event_count
        FROM rows_ r JOIN apps a ON a.n = (h(r.i || 'apps') + r.k) % 5
        UNION ALL
        SELECT DISTINCT d, CASE WHEN j < 3 THEN 'test.account' || j || '@district.example'
                                ELSE 'staff' || lpad(j::VARCHAR, 6, '0') || '@district.example' END,
               'Gmail', (1 + h(j || d) % 30)::INT
        FROM (SELECT DISTINCT d FROM logins) days, range({n_other}) r(j)
        WHERE u(j || d || 'staff') < 0.7""")
    w.per_day("activity", "activity_date", "user_email, activity_date, application, event_count",
              "user_email, application", "online", "activity", days_sql="SELECT DISTINCT d FROM logins")


# ---------------------------------------------------------------------------------------------
# Chromebook inventory


def _chromebooks(con, w: _Writer, opts: GenerateOptions) -> None:
    cover, opt_out = target("chromebook_coverage", 2021), target("chromebook_opt_out", 2021)
    n = opts.students
    con.execute(f"""
        CREATE TABLE devices AS
        WITH r AS (
            SELECT i, local_id,
                   (row_number() OVER (ORDER BY u(i || 'cb')) - 1)::DOUBLE / {n} AS p
            FROM students),
        assigned AS (
            SELECT i, local_id, 'Assigned' AS status, 'asset' AS kind FROM r WHERE p < {cover}
            UNION ALL  -- families who opted out and later took a device: covered, not opted out
            SELECT i, local_id, 'Opt-Out', 'optout' FROM r WHERE p >= {cover - 0.02} AND p < {cover + opt_out}
            UNION ALL  -- an older device handed back
            SELECT i, local_id, 'Returned', 'asset' FROM r WHERE p < {cover} AND u(i || 'ret') < 0.08
            UNION ALL
            SELECT i, local_id, CASE WHEN u(i || 'lr') < 0.5 THEN 'Lost' ELSE 'Repair' END, 'asset'
            FROM r WHERE p >= {cover + opt_out} AND u(i || 'lost') < 0.05),
        stock AS (
            SELECT {n} + j AS i, NULL AS local_id, CASE WHEN j % 3 = 0 THEN 'Repair' ELSE 'Returned' END, 'asset'
            FROM range({max(1, round(0.05 * n))}) t(j))
        SELECT row_number() OVER (ORDER BY i, status) AS asset_no, *,
               DATE '2020-08-17' + (h(i || status || 'dt') % 100)::INT AS status_date
        FROM (SELECT * FROM assigned UNION ALL SELECT * FROM stock)""")
    for snap in (opts.earlier, opts.as_of):
        # The inventory tool adds a purchase_date column the contract does not know: drift.
        w.copy(f"""
            SELECT CASE WHEN kind = 'asset' THEN 'BPS' || lpad(asset_no::VARCHAR, 7, '0') END AS asset_tag,
                   CASE WHEN kind = 'asset' THEN 'SN' || upper(to_hex(h(asset_no || 'sn') % 100000000000)) END AS serial_number,
                   CASE WHEN kind <> 'asset' THEN NULL WHEN asset_no % 3 = 0 THEN 'Dell 3100'
                        WHEN asset_no % 3 = 1 THEN 'Lenovo 100e' ELSE 'HP G8' END AS device_model,
                   local_id, status,
                   CASE WHEN asset_no % 10 = 0 THEN strftime(status_date, '%m/%d/%Y')
                        ELSE strftime(status_date, '%Y-%m-%d') END AS status_date,
                   DATE '2019-07-01' + (asset_no % 300)::INT AS purchase_date
            FROM devices WHERE status_date <= {_d(snap)} ORDER BY asset_no""",
            "devices", f"chromebook_assignments_{snap:%Y%m%d}.csv")


# ---------------------------------------------------------------------------------------------
# staff roster and daily sign-ins


def _staff(con, w: _Writer, opts: GenerateOptions) -> None:
    n = max(60, round(DEFAULT_STAFF * opts.scale))
    # Teachers of color / active teachers = parity index x students of color share.
    sos = 1 - target_share("White")
    toc = target("staff_parity_index_race", 2020) * sos
    con.execute(f"""
        CREATE TABLE staff AS
        WITH b AS (
            SELECT j, 'E' || lpad(j::VARCHAR, 6, '0') AS staff_id,
                   (row_number() OVER (ORDER BY u(j || 'job')) - 1)::DOUBLE / {n} AS job_p,
                   u(j || 'status') AS su, u(j || 'sch') AS schu
            FROM range({n}) t(j)),
        c AS (
            SELECT *, CASE WHEN job_p < 0.511 THEN 'Teacher' WHEN job_p < 0.63 THEN 'Paraprofessional'
                           WHEN job_p < 0.68 THEN 'Administrator' WHEN job_p < 0.88 THEN 'Support'
                           ELSE 'Central' END AS job_class,
                      CASE WHEN su < 0.95 THEN 'Active' WHEN su < 0.98 THEN 'Leave' ELSE 'Terminated' END AS status
            FROM b),
        r AS (
            SELECT *, (row_number() OVER (PARTITION BY job_class = 'Teacher' AND status = 'Active' ORDER BY u(j || 'race')) - 1)::DOUBLE
                      / count(*) OVER (PARTITION BY job_class = 'Teacher' AND status = 'Active') AS race_p,
                      (row_number() OVER (PARTITION BY job_class = 'Teacher' AND status = 'Active' ORDER BY u(j || 'lang')) - 1)::DOUBLE
                      / count(*) OVER (PARTITION BY job_class = 'Teacher' AND status = 'Active') AS lang_p
            FROM c)
        SELECT r.*,
               CASE WHEN job_class = 'Central' THEN '{CENTRAL_OFFICES[0]}'
                    ELSE (SELECT school_id FROM schools WHERE school_type <> 'CENTRAL'
                          ORDER BY u(r.j || school_id) LIMIT 1) END AS school_id,
               CASE WHEN job_class = 'Teacher' AND status = 'Active' THEN race_p < {toc} ELSE race_p < 0.55 END AS of_color,
               CASE WHEN job_class = 'Teacher' AND status = 'Active' THEN lang_p < 0.25 ELSE lang_p < 0.35 END AS multilingual,
               CASE WHEN u(j || 'signer') < 0.85 THEN 0.90 + u(j || 'sp') * 0.10 ELSE 0.50 + u(j || 'sp') * 0.30 END AS signin_rate
        FROM r""")
    for snap in (date(2019, 6, 10), date(2019, 12, 9), opts.earlier, opts.as_of):
        # HR's export writes upper-case headers padded with spaces and TRUE/FALSE flags.
        w.copy("""
            SELECT staff_id AS " STAFF_ID", school_id AS "SCHOOL_ID ", job_class AS JOB_CLASS,
                   CASE WHEN of_color AND u(j || 'h') < 0.3 THEN 'TRUE' ELSE 'FALSE' END AS HISPANIC_IND,
                   CASE WHEN NOT of_color THEN 'WH' WHEN u(j || 'h') < 0.3 THEN ''
                        WHEN u(j || 'h') < 0.8 THEN 'BL' WHEN u(j || 'h') < 0.92 THEN 'AS' ELSE 'BL|WH' END AS RACE_CODES,
                   CASE WHEN multilingual THEN CASE WHEN u(j || 'l') < 0.6 THEN 'en|es' WHEN u(j || 'l') < 0.8 THEN 'en|ht'
                        ELSE 'en|zh' END ELSE 'en' END AS LANGUAGES,
                   status AS STATUS, CASE WHEN u(j || 'fte') < 0.9 THEN '1.0' ELSE '0.5' END AS FTE
            FROM staff ORDER BY staff_id""", "staff", f"roster_{snap:%Y%m%d}.csv")
    con.execute(f"""
        CREATE TABLE signins AS
        SELECT s.staff_id, wd.calendar_date AS signin_date,
               '07:' || lpad((h(s.j || wd.calendar_date) % 60)::VARCHAR, 2, '0') || ':00' AS sign_in_time,
               CASE WHEN u(s.j || wd.calendar_date || 'out') < 0.03 THEN NULL
                    ELSE '15:' || lpad((h(s.j || wd.calendar_date || 'o') % 60)::VARCHAR, 2, '0') || ':00' END AS sign_out_time,
               CASE WHEN s.job_class = 'Central' THEN 'Central'
                    WHEN u(s.j || wd.calendar_date || 'rem') < 0.3 THEN 'Remote' ELSE 'School' END AS location_type
        FROM staff s JOIN work_days wd ON wd.school_year = 2021 AND wd.calendar_date <= {_d(opts.as_of)}
        WHERE s.status = 'Active' AND u(s.j || wd.calendar_date || 'in') < s.signin_rate
        ORDER BY signin_date""")
    w.per_day("signins", "signin_date", "*", "staff_id", "staff", "signins")


# ---------------------------------------------------------------------------------------------
# climate survey, fall SY2021


_QUESTIONS = [
    ("S01", "Student", "How excited are you about participating in your classes?", None),
    ("S02", "Student", "How often do you feel connected to adults at your school?", 0.55),
    ("S03", "Student", "How easy is it to get help with schoolwork when learning remotely?", 0.48),
    ("F01", "Family", "How well does your school communicate about remote and hybrid learning?", 0.62),
    ("F02", "Family", "How confident are you that your child is learning this year?", 0.51),
    ("F03", "Family", "How culturally responsive is your child's school?", 0.66),
    ("T01", "Teacher", "For your students who need the most academic support, how confident are you that "
                       "you can help those students in a distance learning setting?", None),
    ("T02", "Teacher", "How supported do you feel by school leadership?", 0.58),
    ("T03", "Teacher", "How often do you discuss race and culture with colleagues?", 0.44),
]


def _survey(con, w: _Writer, opts: GenerateOptions) -> None:
    questions = [(q, t, text, p if p is not None else target("survey_favorable", 2021, q))
                 for q, t, text, p in _QUESTIONS]
    w.text("survey", f"questions_{opts.as_of:%Y%m%d}.csv",
           ["survey_id", "question_id", "respondent_type", "question_text", "scale_max", "favorable_min"],
           [[SURVEY_ID, q, t, text, 5, 4] for q, t, text, _ in questions], encoding="utf-8", crlf=False)
    con.execute("CREATE TABLE questions (question_id VARCHAR, respondent_type VARCHAR, fav DOUBLE)")
    con.executemany("INSERT INTO questions VALUES (?, ?, ?)", [(q, t, p) for q, t, _, p in questions])
    # Invitations: students in grades 3-12 and families per school, teachers by the roster; sized
    # so that the default district invites as many as the report implies (5,419 / 14.4% ...).
    f = opts.scale
    con.execute(f"""
        CREATE TABLE invitations AS
        WITH st AS (
            SELECT school_id, count(*) FILTER (WHERE grade_level BETWEEN '03' AND '12') AS upper_grades, count(*) AS all_students
            FROM students GROUP BY school_id),
        t AS (SELECT school_id, count(*) AS teachers FROM staff WHERE job_class = 'Teacher' AND status = 'Active' GROUP BY school_id),
        k AS (SELECT {37632 * f} / sum(upper_grades) AS ks, {45749 * f} / sum(all_students) AS kf FROM st)
        SELECT 'Student' AS respondent_type, school_id, round(upper_grades * ks)::INT AS invited_count FROM st, k WHERE upper_grades > 0
        UNION ALL SELECT 'Family', school_id, round(all_students * kf)::INT FROM st, k
        UNION ALL SELECT 'Teacher', school_id, teachers FROM t""")
    w.copy(f"""SELECT '{SURVEY_ID}' AS survey_id, respondent_type, school_id, invited_count FROM invitations
               ORDER BY respondent_type, school_id""", "survey", f"invitations_{opts.as_of:%Y%m%d}.csv")
    con.execute("CREATE TABLE response_plan (respondent_type VARCHAR, rate DOUBLE)")
    con.executemany("INSERT INTO response_plan VALUES (?, ?)",
                    [(t, target("survey_response_rate", 2021, t)) for t in ("Student", "Family", "Teacher")])
    open_day = date(2020, 11, 16)
    window = max(1, (opts.as_of - open_day).days)
    con.execute("""
        CREATE TABLE respondents AS
        WITH invitees AS (
            SELECT i.respondent_type, i.school_id, k,
                   row_number() OVER (PARTITION BY i.respondent_type ORDER BY u(i.school_id || i.respondent_type || k)) AS rk,
                   sum(1) OVER (PARTITION BY i.respondent_type) AS n
            FROM invitations i, range(i.invited_count) r(k))
        SELECT row_number() OVER (ORDER BY iv.respondent_type, iv.school_id, iv.k) AS rid, iv.*
        FROM invitees iv JOIN response_plan rp USING (respondent_type)
        WHERE rk <= round(n * rp.rate)""")
    w.copy(f"""
        SELECT '{SURVEY_ID}' AS survey_id, 'R' || lpad(r.rid::VARCHAR, 7, '0') AS response_id, r.respondent_type,
               r.school_id, q.question_id,
               CASE WHEN u(r.rid || q.question_id || 'skip') < 0.05 THEN NULL
                    WHEN u(r.rid || q.question_id || 'fav') < q.fav THEN 4 + (h(r.rid || q.question_id) % 2)::INT
                    ELSE 1 + (h(r.rid || q.question_id) % 3)::INT END AS answer_value,
               strftime(TIMESTAMP '{open_day}' + to_minutes((h(r.rid || 'ts') % ({window} * 1440))::BIGINT), '%Y-%m-%d %H:%M:%S') AS submitted_at
        FROM respondents r JOIN questions q USING (respondent_type)
        ORDER BY response_id, q.question_id""", "survey", f"responses_{opts.as_of:%Y%m%d}.csv")


# ---------------------------------------------------------------------------------------------
# graduates and their senior year (SY2018, SY2019)


def _graduates(con, w: _Writer, opts: GenerateOptions) -> None:
    n = max(40, round(3400 * opts.scale))
    for year in (2018, 2019, 2020):
        # the report gives SY18-19; the class of 2020 holds the SY19 rate (no figure to match)
        ready = target("graduate_readiness", min(year, 2019))
        first, _ = SCHOOL_YEARS[year]
        con.execute(f"""
            CREATE OR REPLACE TABLE grads AS
            WITH b AS (
                SELECT g, '9' || {year % 10} || lpad(g::VARCHAR, 6, '0') AS local_id,
                       row_number() OVER (ORDER BY u(g || {year} || 'ready')) <= round({n} * {ready}) AS ready,
                       u(g || {year} || 'why') AS why, u(g || {year} || 'o') AS o
                FROM range({n}) t(g))
            SELECT b.*,
                   (SELECT school_id FROM schools WHERE school_type IN ('HS', '6-12') ORDER BY u(b.g || {year} || school_id) LIMIT 1) AS school_id,
                   CASE WHEN ready OR why >= 0.35 AND o < 0.7 THEN round(2.7 + u(g || 'gpa' || {year}) * 1.3, 2)
                        ELSE round(1.5 + u(g || 'gpa' || {year}) * 1.19, 2) END AS gpa,
                   CASE WHEN ready OR NOT (why >= 0.35 AND why < 0.6) AND o < 0.8 THEN u(g || 'abs' || {year}) * 0.045
                        ELSE 0.08 + u(g || 'abs' || {year}) * 0.15 END AS absence_rate,
                   ready OR NOT (why >= 0.6 AND why < 0.75) AND u(g || 'mc') < 0.8 AS masscore,
                   ready OR NOT (why >= 0.75 AND why < 0.9) AND u(g || 'adv') < 0.8 AS advanced,
                   ready OR NOT (why >= 0.9) AND u(g || 'any') < 0.8 AS anytime
            FROM b""")
        w.copy(f"""SELECT local_id, school_id, {year} AS school_year, gpa,
                          CASE WHEN masscore THEN '1' ELSE '0' END AS masscore_complete,
                          CASE WHEN advanced THEN 'Y' ELSE 'N' END AS advanced_coursework,
                          CASE WHEN anytime THEN 'Y' ELSE 'N' END AS anytime_learning
                   FROM grads ORDER BY local_id""", "sis", f"graduates_{year}0815.csv", crlf=True)
        w.copy(f"""SELECT local_id, school_id, {year} AS school_year, {_d(first)} AS entry_date,
                          NULL AS withdrawal_date, 'E01' AS entry_code, NULL AS withdrawal_code
                   FROM grads ORDER BY local_id""", "sis", f"enrollments_{year}0630.csv", crlf=True)
        w.copy(f"""
            WITH days AS (  -- an exact number of absences, so readiness lands exactly on its target
                SELECT g.local_id, g.school_id, c.calendar_date, g.absence_rate,
                       row_number() OVER (PARTITION BY g.g ORDER BY u(g.g || c.calendar_date || 'ga')) AS rk,
                       count(*) OVER (PARTITION BY g.g) AS n
                FROM grads g JOIN calendar c ON c.school_year = {year} AND c.school_id = g.school_id AND c.in_session)
            SELECT local_id, school_id, calendar_date AS event_date, 'Y' AS absent_ind, 'N' AS tardy_ind,
                   'N' AS dismissed_ind, 'N' AS excused_ind, NULL AS portion_absent, 'UNX' AS reason_code,
                   'In-Person' AS attendance_mode
            FROM days WHERE rk <= floor(absence_rate * n)
            ORDER BY event_date, local_id""", "attendance", f"attendance_events_{year}0630.csv", crlf=True)


# ---------------------------------------------------------------------------------------------
# anchor-goal sources: SGP, family engagement, budget, partnerships


def _ranked_schools(share_sql: str, salt: str, where: str = "school_type <> 'CENTRAL'") -> str:
    """Schools ranked per year so that exactly round(share x n) of them are 'high'."""
    return f"""
        SELECT s.*, y.school_year,
               row_number() OVER (PARTITION BY y.school_year ORDER BY u(s.school_id || y.school_year || '{salt}'))
                 <= round(count(*) OVER (PARTITION BY y.school_year) * y.share) AS high
        FROM schools s CROSS JOIN ({share_sql}) y(school_year, share)
        WHERE {where}"""


def _anchor_sources(con, w: _Writer, opts: GenerateOptions) -> None:
    def shares(metric: str, years: tuple[int, ...]) -> str:
        return "VALUES " + ", ".join(f"({y}, {target(metric, y)})" for y in years)

    # SGP: tested students per school; the 'high' schools (mean >= 50 in both subjects) are picked
    # by rank among schools with 20+ students tested. Deviations come in +/- pairs so each school's
    # mean is exactly its target.
    con.execute("""
        CREATE TABLE tested AS
        SELECT s.school_id, y.school_year,
               CASE WHEN s.school_type = 'SPED' THEN 12 ELSE greatest(5, round(c.n * 0.4))::INT END AS n_tested
        FROM schools s JOIN (SELECT school_id, count(*) AS n FROM students GROUP BY 1) c USING (school_id)
        CROSS JOIN (VALUES (2018), (2019)) y(school_year)""")
    con.execute(f"""
        CREATE TABLE sgp AS
        WITH plan AS (
            SELECT t.*, y.share,
                   row_number() OVER (PARTITION BY t.school_year, t.n_tested >= 20 ORDER BY u(t.school_id || t.school_year || 'sgp'))
                     <= round(count(*) OVER (PARTITION BY t.school_year, t.n_tested >= 20) * y.share) AS high,
                   u(t.school_id || t.school_year || 'low') AS lu
            FROM tested t JOIN ({shares('schools_growth_ela_math', (2018, 2019))}) y(school_year, share) USING (school_year)),
        rows_ AS (
            SELECT p.*, subj.subject, k,
                   CASE WHEN p.high THEN 55 WHEN subj.subject = 'ELA' AND lu < 0.4 THEN 55
                        WHEN subj.subject = 'MATH' AND lu >= 0.4 AND lu < 0.8 THEN 55 ELSE 45 END AS mean_sgp
            FROM plan p, (VALUES ('ELA'), ('MATH')) subj(subject), range(p.n_tested) r(k))
        SELECT '8' || lpad(school_id, 4, '0') || school_year || lpad(k::VARCHAR, 4, '0') AS state_id, school_id, school_year, subject,
               (mean_sgp + CASE WHEN k = n_tested - 1 AND n_tested % 2 = 1 THEN 0
                                ELSE (1 + h(school_id || school_year || subject || (k // 2)) % 44)::INT
                                     * CASE WHEN k % 2 = 0 THEN 1 ELSE -1 END END)::INT AS sgp
        FROM rows_""")
    w.copy("SELECT * FROM sgp ORDER BY school_year, school_id, subject, state_id", "assessment", "sgp_20190915.csv")

    w.copy(f"""
        WITH reporting AS ({_ranked_schools(shares('family_engagement_core_elements', (2019, 2020)), 'fe',
                   "school_type <> 'CENTRAL' AND u(s.school_id || y.school_year || 'rep') < 0.9")}),
        el AS (
            SELECT rp.school_id, rp.school_year, rp.high, 'E' || lpad(e::VARCHAR, 2, '0') AS element_id,
                   e <= 9 OR rp.school_type = 'HS' AS eligible,
                   row_number() OVER (PARTITION BY rp.school_id, rp.school_year, e <= 9 OR rp.school_type = 'HS'
                                      ORDER BY u(rp.school_id || rp.school_year || e)) AS rk,
                   sum(CASE WHEN e <= 9 OR rp.school_type = 'HS' THEN 1 ELSE 0 END)
                       OVER (PARTITION BY rp.school_id, rp.school_year) AS n_eligible
            FROM (SELECT r.* FROM reporting r) rp, range(1, 11) t(e))
        SELECT school_id, school_year, element_id, CASE WHEN eligible THEN 'Y' ELSE 'N' END AS eligible,
               CASE WHEN eligible AND rk <= CASE WHEN high THEN n_eligible - (h(school_id || school_year) % 2)::INT * floor(0.2 * n_eligible)::INT
                                                  ELSE 3 + (h(school_id || school_year || 'k') % (ceil(0.8 * n_eligible)::INT - 3))::INT END
                    THEN 'Y' ELSE 'N' END AS implemented
        FROM el ORDER BY school_year, school_id, element_id""", "schools", "family_engagement_20200615.csv")

    w.copy(f"""
        WITH y AS ({shares('need_based_allocation', (2020, 2021))}),
        sch AS (SELECT school_id, 2000000 + (h(school_id || 'budget') % 6000000)::INT AS total FROM schools WHERE school_type <> 'CENTRAL'),
        lines AS (
            SELECT * FROM (VALUES (1, 'Weighted Student Funding: Base', true, 0.40), (2, 'Weighted Student Funding: ELL', true, 0.20),
                                  (3, 'Weighted Student Funding: SWD', true, 0.25), (4, 'Weighted Student Funding: Low Income', true, 0.10),
                                  (5, 'Opportunity Index', true, 0.05), (6, 'Facilities', false, 0.6), (7, 'Central Services', false, 0.4))
            t(line, category, need_based, weight))
        SELECT sch.school_id, y.col0 AS fiscal_year, 'A' || y.col0 || sch.school_id || line AS allocation_id, category,
               round(sch.total * CASE WHEN need_based THEN y.col1 ELSE 1 - y.col1 END * weight, 2) AS amount,
               CASE WHEN need_based THEN 'Y' ELSE 'N' END AS need_based
        FROM sch, y, lines ORDER BY fiscal_year, school_id, line""", "finance", f"budget_allocations_{opts.as_of:%Y%m%d}.csv")

    w.copy(f"""
        WITH r AS ({_ranked_schools(shares('school_partnerships', (2019, 2020)), 'pt')}),
        p AS (
            SELECT r.school_id, r.school_year, r.high, k
            FROM r, range(4) t(k)
            WHERE k < CASE WHEN r.high THEN 1 + h(r.school_id || r.school_year) % 3 ELSE h(r.school_id || r.school_year) % 3 END)
        SELECT school_id, school_year,
               (['Boys & Girls Club', 'City Year', 'Big Brothers Big Sisters', 'YMCA', 'Museum of Science',
                 'Northeastern University', 'Hospital Career Pathways', 'Summer Works'])[1 + (h(school_id || school_year || k) % 8)::INT] AS partner_name,
               CASE WHEN high AND k = 0 THEN 'Y' ELSE 'N' END AS in_opportunity_portfolio
        FROM p ORDER BY school_year, school_id, k""", "partners", "partnerships_20200615.csv")
