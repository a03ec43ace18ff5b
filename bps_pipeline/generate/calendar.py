"""School-year calendars of the sample district: first and last day, and the closures that every
Boston-style calendar has (holidays, Thanksgiving, winter, February and April vacations)."""

from __future__ import annotations

from datetime import date, timedelta

# school_year (the year it ends) -> (first day, last day)
SCHOOL_YEARS: dict[int, tuple[date, date]] = {
    2018: (date(2017, 9, 7), date(2018, 6, 19)),
    2019: (date(2018, 9, 5), date(2019, 6, 18)),
    2020: (date(2019, 9, 5), date(2020, 6, 22)),
    2021: (date(2020, 9, 21), date(2021, 6, 23)),
}


def school_year_of(d: date) -> int:
    """July 1 - June 30; the year the school year ends."""
    return d.year + 1 if d.month >= 7 else d.year


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    d = date(year, month, 1)
    d += timedelta(days=(weekday - d.weekday()) % 7)
    return d + timedelta(weeks=n - 1)


def _last_weekday(year: int, month: int, weekday: int) -> date:
    d = date(year, month + 1, 1) - timedelta(days=1)
    return d - timedelta(days=(d.weekday() - weekday) % 7)


def holidays(school_year: int) -> set[date]:
    fall, spring = school_year - 1, school_year
    days = {
        _nth_weekday(fall, 10, 0, 2),  # Indigenous Peoples' Day
        date(fall, 11, 11),  # Veterans Day
        _nth_weekday(spring, 1, 0, 3),  # MLK Day
        _last_weekday(spring, 5, 0),  # Memorial Day
    }
    thanksgiving = _nth_weekday(fall, 11, 3, 4)
    days |= {thanksgiving - timedelta(days=1), thanksgiving, thanksgiving + timedelta(days=1)}
    d = date(fall, 12, 24)
    while d <= date(spring, 1, 1):
        days.add(d)
        d += timedelta(days=1)
    for month in (2, 4):  # February and April vacation weeks
        monday = _nth_weekday(spring, month, 0, 3)
        days |= {monday + timedelta(days=i) for i in range(5)}
    if school_year == 2021:
        days.add(date(2020, 11, 3))  # election day, schools used as polling places
    return days
