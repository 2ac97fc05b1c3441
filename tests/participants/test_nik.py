"""The NIK validator: generated valid NIKs pass; a changed region, an impossible date, a gender or birth-date
mismatch and a zero serial fail with a message naming the wrong part."""

from datetime import date, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils.translation import override
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from participants.nik import FEMALE, MALE, all_region_codes, mask_nik, nik_check

pytestmark = pytest.mark.django_db

# Hypothesis runs many examples inside one test (one database transaction); the region codes are read once.
HYPOTHESIS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture
def codes():
    return all_region_codes()


def build_nik(region: str, born: date, gender: str, serial: int) -> str:
    day = born.day + (40 if gender == FEMALE else 0)
    return f"{region.replace('.', '')}{day:02d}{born:%m%y}{serial:04d}"


kecamatan_codes = st.sampled_from(["35.12.01", "35.12.17", "35.13.19", "35.25.10"])
birth_dates = st.dates(min_value=date(1950, 1, 1), max_value=date(2008, 12, 31))
genders = st.sampled_from([MALE, FEMALE])
serials = st.integers(min_value=1, max_value=9999)


@HYPOTHESIS
@given(region=kecamatan_codes, born=birth_dates, gender=genders, serial=serials)
def test_generated_valid_niks_pass(codes, region, born, gender, serial):
    nik = build_nik(region, born, gender, serial)
    check = nik_check(nik, birth_date=born, gender=gender, known_codes=codes)
    assert check.nik == nik
    assert check.gender == gender
    assert (check.birth_date.day, check.birth_date.month) == (born.day, born.month)
    assert check.kabupaten_code == region[:5]
    assert check.warnings == []


@HYPOTHESIS
@given(region=kecamatan_codes, born=birth_dates, gender=genders, serial=serials)
def test_separators_are_ignored(codes, region, born, gender, serial):
    nik = build_nik(region, born, gender, serial)
    spaced = f"{nik[:6]} {nik[6:12]}.{nik[12:]}"
    assert nik_check(spaced, known_codes=codes).nik == nik


@HYPOTHESIS
@given(province=st.integers(min_value=0, max_value=99), born=birth_dates, serial=serials)
def test_a_changed_province_code_fails_unless_it_is_a_real_province(codes, province, born, serial):
    nik = f"{province:02d}1201{born:%d%m%y}{serial:04d}"
    with override("en"):
        if f"{province:02d}" in codes:
            assert nik_check(nik, known_codes=codes).province_code == f"{province:02d}"
        else:
            with pytest.raises(ValidationError) as excinfo:
                nik_check(nik, known_codes=codes)
            assert excinfo.value.code == "province"
            assert "digits 1–2" in excinfo.value.messages[0]


@HYPOTHESIS
@given(
    day=st.integers(min_value=0, max_value=99),
    month=st.integers(min_value=0, max_value=99),
    year=st.integers(min_value=0, max_value=99),
    serial=serials,
)
def test_impossible_dates_fail_with_the_date_message(codes, day, month, year, serial):
    nik = f"351201{day:02d}{month:02d}{year:02d}{serial:04d}"
    real_day = day - 40 if day > 40 else day
    possible = False
    if (1 <= day <= 31 or 41 <= day <= 71) and 1 <= month <= 12:
        for century in (1900, 2000):
            try:
                date(century + year, month, real_day)
            except ValueError:
                continue
            possible = True
    if possible:
        assert nik_check(nik, known_codes=codes).nik == nik
    else:
        with pytest.raises(ValidationError) as excinfo:
            nik_check(nik, known_codes=codes)
        assert excinfo.value.code == "date"


@HYPOTHESIS
@given(region=kecamatan_codes, born=birth_dates, gender=genders, serial=serials)
def test_a_gender_mismatch_fails_with_the_gender_message(codes, region, born, gender, serial):
    nik = build_nik(region, born, gender, serial)
    other = FEMALE if gender == MALE else MALE
    with override("en"), pytest.raises(ValidationError) as excinfo:
        nik_check(nik, gender=other, known_codes=codes)
    assert excinfo.value.code == "gender"
    assert ("woman's" if gender == FEMALE else "man's") in excinfo.value.messages[0]


@HYPOTHESIS
@given(region=kecamatan_codes, born=birth_dates, gender=genders, serial=serials, shift=st.integers(1, 3000))
def test_a_birth_date_that_disagrees_with_the_nik_fails(codes, region, born, gender, serial, shift):
    nik = build_nik(region, born, gender, serial)
    entered = born + timedelta(days=shift)
    if (entered.day, entered.month, entered.year % 100) == (born.day, born.month, born.year % 100):
        return  # a whole century later: the NIK cannot tell
    with pytest.raises(ValidationError) as excinfo:
        nik_check(nik, birth_date=entered, known_codes=codes)
    assert excinfo.value.code == "birth_date"


def test_serial_0000_length_and_digits_are_refused(codes):
    with override("en"):
        for value, code in [
            ("3512011708850000", "serial"),
            ("351201170885001", "length"),
            ("35120117088500011", "length"),
            ("35120117O8850001", "digits"),
            ("", "empty"),
        ]:
            with pytest.raises(ValidationError) as excinfo:
                nik_check(value, known_codes=codes)
            assert excinfo.value.code == code, value


def test_unknown_kabupaten_or_kecamatan_is_only_a_warning(codes):
    with override("en"):
        # 35.30 does not exist (yet); 35.12.99 is not a kecamatan of Situbondo.
        check = nik_check("3530011708850001", known_codes=codes)
        assert check.warnings and "35.30" in check.warnings[0]
        check = nik_check("3512991708850001", known_codes=codes)
        assert check.warnings and "35.12.99" in check.warnings[0]
        # A kabupaten whose kecamatan are not loaded gives no kecamatan warning.
        assert nik_check("3578991708850001", known_codes=codes).warnings == []


def test_without_known_codes_it_reads_the_region_table(django_assert_max_num_queries):
    with django_assert_max_num_queries(1):
        assert nik_check("3512015708850001").gender == FEMALE


def test_masking_keeps_region_and_serial_only():
    assert mask_nik("3512015708850001") == "3512••••••••0001"
