"""The reference data shipped by migration 0002: provinces, Jawa Timur's kabupaten/kota, pillar types."""

import pytest

from pillars.models import PillarType, Region
from tests.factories import region

pytestmark = pytest.mark.django_db

TWIN_NAMES = ["Kediri", "Blitar", "Malang", "Probolinggo", "Pasuruan", "Mojokerto", "Madiun"]


def jawa_timur_children():
    return list(Region.objects.filter(parent__code="35").order_by("code"))


def test_there_are_38_provinces_without_parent():
    provinces = Region.objects.filter(level=Region.Level.PROVINCE)
    assert provinces.count() == 38
    assert not provinces.filter(parent__isnull=False).exists()
    assert region("35").name == "Jawa Timur"


def test_jawa_timur_has_29_kabupaten_and_9_kota():
    children = jawa_timur_children()
    assert len(children) == 38
    assert all(child.level == Region.Level.REGENCY for child in children)

    kabupaten = [c for c in children if not c.is_city]
    kota = [c for c in children if c.is_city]
    assert [c.code for c in kabupaten] == [f"35.{n:02d}" for n in range(1, 30)]
    assert [c.code for c in kota] == [f"35.{n}" for n in range(71, 80)]
    assert all(c.name.startswith("Kabupaten ") for c in kabupaten)
    assert all(c.name.startswith("Kota ") for c in kota)


@pytest.mark.parametrize("name", TWIN_NAMES)
def test_twin_kabupaten_and_kota_both_exist(name):
    kabupaten = Region.objects.get(parent__code="35", name=f"Kabupaten {name}")
    kota = Region.objects.get(parent__code="35", name=f"Kota {name}")
    assert not kabupaten.is_city
    assert kota.is_city
    assert kabupaten.code != kota.code


def test_known_codes_of_the_seed_kabupaten():
    assert region("35.12").name == "Kabupaten Situbondo"
    assert region("35.25").name == "Kabupaten Gresik"
    assert region("35.13").name == "Kabupaten Probolinggo"
    assert region("35.78").name == "Kota Surabaya"
    assert region("35.12").parent == region("35")


def test_is_city_is_false_outside_the_regency_level():
    assert not region("35").is_city
    sumbermalang = region("35.12.01")
    assert sumbermalang.level == Region.Level.DISTRICT
    assert sumbermalang.parent == region("35.12")
    assert not sumbermalang.is_city


def test_demo_kabupaten_ship_their_kecamatan():
    # Situbondo (17), Probolinggo (24: the 2019 bimtek drew PSM from 24 kecamatan) and Gresik (18).
    assert region("35.12").children.count() == 17
    assert region("35.13").children.count() == 24
    assert region("35.25").children.count() == 18
    assert not Region.objects.filter(level=Region.Level.DISTRICT).exclude(parent__level=Region.Level.REGENCY).exists()


@pytest.mark.parametrize(
    ("code", "abbreviation"),
    [
        ("psm", "PSM"),
        ("tksk", "TKSK"),
        ("karang-taruna", "Karang Taruna"),
        ("tagana", "Tagana"),
        ("pendamping-pkh", "Pendamping PKH"),
        ("kasi-kesra", "Kasi Kesra"),
    ],
)
def test_pillar_types_of_dinsos_jatim_exist(code, abbreviation):
    pillar_type = PillarType.objects.get(code=code)
    assert pillar_type.abbreviation == abbreviation
    assert str(pillar_type) == abbreviation
    assert pillar_type.is_active


def test_pillar_types_cover_the_twelve_psks_and_are_ordered():
    codes = list(PillarType.objects.values_list("code", flat=True))
    for psks in [
        "peksos-profesional",
        "psm",
        "tagana",
        "lks",
        "karang-taruna",
        "lk3",
        "keluarga-pioner",
        "wksbm",
        "wpks",
        "penyuluh-sosial",
        "tksk",
        "dunia-usaha",
    ]:
        assert psks in codes
    assert codes[:2] == ["psm", "tksk"]  # the default ordering follows sort_order
