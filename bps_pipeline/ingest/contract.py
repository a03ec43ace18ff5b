"""The extract contract of design/extracts.md, as data: one entry per extract.

Everything the loader checks and every raw table's columns come from here, so the contract is
stated once. Types: text, date, flag (Y/N, 1/0, TRUE/FALSE, any case), int, number, time,
timestamp, or a tuple of allowed values. A number is stored exact, as a decimal kept to 6 places
(dollars, FTE, GPA, absence portions): its sums are then the same whatever order the rows are
added in, so the same files give the same figures on any number of threads.
"""

from __future__ import annotations

from dataclasses import dataclass

TEXT, DATE, FLAG, INT, NUMBER, TIME, TIMESTAMP = "text", "date", "flag", "int", "number", "time", "timestamp"


@dataclass(frozen=True)
class Column:
    name: str
    type: str | tuple[str, ...] = TEXT
    required: bool = False  # the column must be in the header
    not_blank: bool = False  # ... and every row must have a value


def req(name: str, type_: str | tuple[str, ...] = TEXT, blank_ok: bool = False) -> Column:
    return Column(name, type_, required=True, not_blank=not blank_ok)


def opt(name: str, type_: str | tuple[str, ...] = TEXT) -> Column:
    return Column(name, type_)


@dataclass(frozen=True)
class Extract:
    source: str
    name: str
    kind: str  # "snapshot" or "daily"
    columns: tuple[Column, ...]
    description: str
    max_age_days: int = 7  # a source whose newest extract is older than this is stale
    # the column that says which school year a snapshot's row belongs to; None: the school year of
    # the extract date (staging's newest_snapshot(..., year_expr) names the same column)
    year_column: str | None = None
    # a daily extract's day column: ingest indexes each file's rows per day of it in raw._days
    # (staging's newest_per_day(..., day_column) names the same column)
    day_column: str | None = None
    # a snapshot's key: no two rows of one file share it (rows with a blank key column are not keys)
    unique_key: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return f"{self.source}__{self.name}"

    @property
    def table(self) -> str:
        return f"raw.{self.key}"

    @property
    def required(self) -> list[Column]:
        return [c for c in self.columns if c.required]


GRADES = ("K0", "K1", "K2", "01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11", "12", "SP")
DEPARTMENTS = ("ELA", "MATH", "SCI", "SS", "WL", "ART", "PE", "HLTH", "CTE", "OTH")
TERMS = ("Q1", "Q2", "Q3", "Q4", "T1", "T2", "T3", "S1", "S2", "FY")
RESPONDENT_TYPES = ("Student", "Family", "Teacher")

EXTRACTS: tuple[Extract, ...] = (
    Extract("sis", "schools", "snapshot", (
        req("school_id"), req("school_name"),
        req("school_type", ("ES", "K8", "MS", "HS", "6-12", "SPED", "CENTRAL")),
        req("grading_schedule", ("quarter", "trimester", "semester")),
        opt("transformation_school", FLAG),
    ), "School directory.", max_age_days=30, unique_key=("school_id",)),
    Extract("sis", "students", "snapshot", (
        req("state_id"), req("local_id"), req("school_id"), req("grade_level", GRADES),
        req("hispanic_ind", FLAG), req("race_codes", blank_ok=True), opt("gender"), opt("ell_ind", FLAG),
        opt("sped_ind", FLAG), opt("low_income_ind", FLAG), opt("home_language"),
        opt("learning_model", ("In-Person", "Hybrid", "Remote")), opt("email"),
        req("enrollment_status", ("Active", "Inactive")),
    ), "One row per student known this school year.", unique_key=("local_id",)),
    Extract("sis", "enrollments", "snapshot", (
        req("local_id"), req("school_id"), req("school_year", INT), req("entry_date", DATE),
        opt("withdrawal_date", DATE), opt("entry_code"), opt("withdrawal_code"),
    ), "Enrollment spans; a student may have several (transfers).", year_column="school_year",
       unique_key=("local_id", "school_id", "school_year", "entry_date")),
    Extract("sis", "calendar", "snapshot", (
        req("school_id"), req("calendar_date", DATE), req("in_session", FLAG),
    ), "Every date of the school year per school.", max_age_days=30, unique_key=("school_id", "calendar_date")),
    Extract("sis", "course_marks", "snapshot", (
        req("local_id"), req("school_id"), req("school_year", INT), req("term", TERMS), req("course_number"),
        opt("course_description"), req("department", DEPARTMENTS), opt("section"), opt("mark"), opt("post_date", DATE),
    ), "Posted term marks, as Aspen shows them.", year_column="school_year",
       unique_key=("local_id", "school_year", "term", "course_number", "section")),
    Extract("sis", "graduates", "snapshot", (
        req("local_id"), req("school_id"), req("school_year", INT), req("gpa", NUMBER),
        req("masscore_complete", FLAG), req("advanced_coursework", FLAG), req("anytime_learning", FLAG),
    ), "One row per high-school graduate.", max_age_days=400, year_column="school_year",
       unique_key=("local_id", "school_year")),
    Extract("attendance", "attendance_events", "snapshot", (
        req("local_id"), req("school_id"), req("event_date", DATE), req("absent_ind", FLAG),
        opt("tardy_ind", FLAG), opt("dismissed_ind", FLAG), opt("excused_ind", FLAG), opt("portion_absent", NUMBER),
        opt("reason_code"), opt("attendance_mode", ("In-Person", "Remote")),
    ), "Attendance exceptions; a student with no event on an in-session day was present.",
       unique_key=("local_id", "school_id", "event_date")),
    Extract("online", "activity", "daily", (
        req("user_email"), req("activity_date", DATE), req("application"), req("event_count", INT),
    ), "Google Workspace logins: one row per user, day and application.", max_age_days=4, day_column="activity_date"),
    Extract("devices", "chromebook_assignments", "snapshot", (
        opt("asset_tag"), opt("serial_number"), opt("device_model"), opt("local_id"),
        req("status", ("Assigned", "Returned", "Lost", "Repair", "Opt-Out")), req("status_date", DATE),
    ), "Chromebook inventory: a row per asset, and Opt-Out rows per student.", max_age_days=14, unique_key=("asset_tag",)),
    Extract("survey", "questions", "snapshot", (
        req("survey_id"), req("question_id"), req("respondent_type", RESPONDENT_TYPES), req("question_text"),
        req("scale_max", INT), req("favorable_min", INT),
    ), "Survey questions; answers >= favorable_min are favorable.", max_age_days=400,
       unique_key=("survey_id", "question_id")),
    Extract("survey", "invitations", "snapshot", (
        req("survey_id"), req("respondent_type", RESPONDENT_TYPES), req("school_id"), req("invited_count", INT),
    ), "Denominators for response rates.", max_age_days=400, unique_key=("survey_id", "respondent_type", "school_id")),
    Extract("survey", "responses", "snapshot", (
        req("survey_id"), req("response_id"), req("respondent_type", RESPONDENT_TYPES), req("school_id"),
        req("question_id"), opt("answer_value", INT), req("submitted_at", TIMESTAMP),
    ), "One row per answered-or-skipped question of a submitted response.", max_age_days=400,
       unique_key=("survey_id", "response_id", "question_id")),
    Extract("staff", "roster", "snapshot", (
        req("staff_id"), req("school_id"),
        req("job_class", ("Teacher", "Paraprofessional", "Administrator", "Support", "Central")),
        req("hispanic_ind", FLAG), req("race_codes", blank_ok=True), opt("languages"),
        req("status", ("Active", "Leave", "Terminated")), opt("fte", NUMBER),
    ), "Everyone employed this school year.", unique_key=("staff_id",)),
    Extract("staff", "signins", "daily", (
        req("staff_id"), req("signin_date", DATE), req("sign_in_time", TIME), opt("sign_out_time", TIME),
        opt("location_type", ("School", "Central", "Remote")),
    ), "Daily staff sign-in and sign-out.", max_age_days=4, day_column="signin_date"),
    Extract("assessment", "sgp", "snapshot", (
        req("state_id"), req("school_id"), req("school_year", INT), req("subject", ("ELA", "MATH")), req("sgp", INT),
    ), "State student growth percentiles.", max_age_days=550, year_column="school_year",
       unique_key=("state_id", "school_year", "subject")),
    Extract("schools", "family_engagement", "snapshot", (
        req("school_id"), req("school_year", INT), req("element_id"), req("eligible", FLAG), req("implemented", FLAG),
    ), "Core Elements of Family Engagement self-assessment.", max_age_days=400, year_column="school_year",
       unique_key=("school_id", "school_year", "element_id")),
    Extract("finance", "budget_allocations", "snapshot", (
        req("school_id"), req("fiscal_year", INT), req("allocation_id"), req("category"), req("amount", NUMBER),
        req("need_based", FLAG),
    ), "School budget lines.", max_age_days=400, year_column="fiscal_year", unique_key=("fiscal_year", "allocation_id")),
    Extract("partners", "partnerships", "snapshot", (
        req("school_id"), req("school_year", INT), req("partner_name"), req("in_opportunity_portfolio", FLAG),
    ), "School partnerships.", max_age_days=400, year_column="school_year"),
)

BY_KEY: dict[tuple[str, str], Extract] = {(e.source, e.name): e for e in EXTRACTS}
