"""How documents write dates, times and official numbers, the Indonesian way."""

from datetime import date

from django.utils.formats import date_format


def long_date(value: date) -> str:
    """16 Oktober 2025 (in the active language)."""
    return date_format(value, "j F Y")


def day_and_date(value: date) -> str:
    """Selasa, 14 Oktober 2025."""
    return date_format(value, "l, j F Y")


def date_span(start: date, end: date) -> str:
    """13 s.d. 16 Oktober 2025; 30 September s.d. 2 Oktober 2025; one day: 9 Desember 2019."""
    if start == end:
        return long_date(start)
    if (start.year, start.month) == (end.year, end.month):
        return f"{start.day} s.d. {long_date(end)}"
    if start.year == end.year:
        return f"{date_format(start, 'j F')} s.d. {long_date(end)}"
    return f"{long_date(start)} s.d. {long_date(end)}"


def format_nip(nip: str) -> str:
    """19860926 201505 1 001: birth date, start date, sex, serial."""
    if len(nip) != 18 or not nip.isdigit():
        return nip
    return f"{nip[:8]} {nip[8:14]} {nip[14]} {nip[15:]}"
