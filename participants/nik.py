"""The one NIK check used everywhere (forms, spreadsheet import, registry import).

A NIK is PPKKCCDDMMYYSSSS: province, kabupaten/kota, kecamatan where it was first issued, the birth date
(day + 40 for women) and a serial from 0001. Format, province, date and serial are checked hard; a
kabupaten or kecamatan code missing from the region table is only a warning, because a NIK keeps the region
it was issued in and old or pre-split codes are real."""

from dataclasses import dataclass, field
from datetime import date

from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils.translation import gettext as _
from stdnum.id import nik as stdnum_nik

from pillars.models import Region

MALE, FEMALE = "L", "P"


@dataclass
class NikCheck:
    nik: str
    birth_date: date
    gender: str
    province_code: str
    kabupaten_code: str
    kecamatan_code: str
    warnings: list = field(default_factory=list)


def region_codes_around(kabupaten_code: str) -> set[str]:
    """The codes nik_check needs for one NIK: every province, the kabupaten and its kecamatan. One query."""
    return set(
        Region.objects.filter(
            Q(level=Region.Level.PROVINCE) | Q(code=kabupaten_code) | Q(parent__code=kabupaten_code)
        ).values_list("code", flat=True)
    )


def all_region_codes() -> set[str]:
    """Province, kabupaten and kecamatan codes, for checking many NIKs with one query."""
    return set(Region.objects.filter(level__lte=Region.Level.DISTRICT).values_list("code", flat=True))


def nik_check(
    value: str,
    *,
    birth_date: date | None = None,
    gender: str | None = None,
    known_codes: set[str] | None = None,
) -> NikCheck:
    """Validate a NIK and, when given, its agreement with the date of birth and gender.

    Raises ValidationError with a message that names the wrong part. `known_codes` (region codes such as
    "35", "35.12", "35.12.01") may be passed by callers that check many NIKs, to avoid a query per NIK."""
    nik = stdnum_nik.compact(str(value or ""))
    if not nik:
        raise ValidationError(_("NIK is empty."), code="empty")
    if not nik.isdigit():
        raise ValidationError(_("NIK may contain digits only."), code="digits")
    if len(nik) != 16:
        raise ValidationError(_("NIK must have 16 digits; this one has %(n)s.") % {"n": len(nik)}, code="length")
    province = nik[:2]
    kabupaten = f"{nik[:2]}.{nik[2:4]}"
    kecamatan = f"{kabupaten}.{nik[4:6]}"
    codes = known_codes if known_codes is not None else region_codes_around(kabupaten)
    if province not in codes:
        raise ValidationError(
            _("NIK digits 1–2 (%(code)s) are not an Indonesian province code.") % {"code": province},
            code="province",
        )
    day, month = int(nik[6:8]), int(nik[8:10])
    nik_gender = FEMALE if day > 40 else MALE
    # Men are born on days 01–31, women on 41–71; stdnum's modulo would also take 81–99.
    if not (1 <= day <= 31 or 41 <= day <= 71) or not 1 <= month <= 12:
        raise ValidationError(
            _("NIK digits 7–12 (%(digits)s) are not a date of birth (DDMMYY, day + 40 for women).")
            % {"digits": nik[6:12]},
            code="date",
        )
    try:
        nik_date = stdnum_nik.get_birth_date(nik)
    except Exception as error:  # stdnum raises its own InvalidComponent for an impossible date
        raise ValidationError(
            _("NIK digits 7–12 (%(digits)s) are not a date of birth (DDMMYY, day + 40 for women).")
            % {"digits": nik[6:12]},
            code="date",
        ) from error
    if nik[12:] == "0000":
        raise ValidationError(_("NIK digits 13–16 (the serial number) cannot be 0000."), code="serial")
    if birth_date is not None:
        if (birth_date.day, birth_date.month, birth_date.year % 100) != (
            nik_date.day,
            nik_date.month,
            nik_date.year % 100,
        ):
            raise ValidationError(
                _("The date of birth %(date)s does not match the NIK, which says %(nik_date)s.")
                % {"date": birth_date.strftime("%d-%m-%Y"), "nik_date": nik_date.strftime("%d-%m-%y")},
                code="birth_date",
            )
        nik_date = birth_date
    if gender is not None and gender != nik_gender:
        raise ValidationError(
            _("The NIK is a woman's (day of birth + 40), but the gender entered is male.")
            if nik_gender == FEMALE
            else _("The NIK is a man's (day of birth without + 40), but the gender entered is female."),
            code="gender",
        )
    check = NikCheck(
        nik=nik,
        birth_date=nik_date,
        gender=nik_gender,
        province_code=province,
        kabupaten_code=kabupaten,
        kecamatan_code=kecamatan,
    )
    if kabupaten not in codes:
        check.warnings.append(
            _("NIK digits 3–4: regency/city code %(code)s is not in the region table (an old code?).")
            % {"code": kabupaten}
        )
    elif kecamatan not in codes and any(code.startswith(kabupaten + ".") for code in codes):
        check.warnings.append(
            _("NIK digits 5–6: kecamatan code %(code)s is not in the region table (an old code?).")
            % {"code": kecamatan}
        )
    return check


def mask_nik(nik: str) -> str:
    """3512••••••••0001: the region and serial stay readable, the birth date does not."""
    return f"{nik[:4]}{'•' * 8}{nik[12:]}" if len(nik) == 16 else "•" * len(nik)
