"""Realistic demo participants: names, NIKs and pillars as a Dinsos in Jawa Timur would send them.
Deterministic, so that `seed_demo` gives the same people every time."""

import random
from datetime import date

from pillars.models import PillarType, Region

from .services import PersonData

MEN = [
    "Ahmad",
    "Moh.",
    "Abdul",
    "Slamet",
    "Hendra",
    "Rudi",
    "Imam",
    "Syaiful",
    "Agus",
    "Fathor",
    "Hasan",
    "Bayu",
    "Yusuf",
    "Nur",
    "Eko",
    "Dedi",
    "Rizky",
    "Fajar",
    "Taufik",
    "Samsul",
]
WOMEN = [
    "Siti",
    "Nur",
    "Dewi",
    "Sri",
    "Lilik",
    "Umi",
    "Rina",
    "Wulan",
    "Fitri",
    "Anisa",
    "Yuli",
    "Endang",
    "Kartini",
    "Rahmawati",
    "Ika",
    "Lailatul",
    "Ratna",
    "Yuliana",
    "Hosniyah",
    "Maimunah",
]
MEN_SURNAMES = [
    "Hidayat",
    "Rahman",
    "Wahyudi",
    "Santoso",
    "Kurniawan",
    "Fauzi",
    "Prasetyo",
    "Setiawan",
    "Zainal",
    "Arifin",
    "Hariyanto",
    "Firdaus",
    "Anwar",
    "Hakim",
    "Syahputra",
]
WOMEN_SURNAMES = [
    "Hasanah",
    "Maulidia",
    "Rohmah",
    "Sholehah",
    "Mufidah",
    "Lestari",
    "Susanti",
    "Wulandari",
    "Rahayu",
    "Fitriani",
    "Nurjanah",
    "Aisyah",
    "Kusumawati",
    "Handayani",
    "Safitri",
]
VILLAGE_STARTS = ["Sumber", "Kali", "Tanjung", "Wringin", "Curah"]
VILLAGE_ENDS = ["anyar", "rejo", "sari", "wetan", "kulon"]
EDUCATION = ["sma", "sma", "sma", "s1", "s1", "diploma", "smp"]

# The pillars of the Situbondo batch (October 2025), 40 people in all.
SITUBONDO_PILLARS = [
    ("psm", 10),
    ("tksk", 6),
    ("lks", 5),
    ("karang-taruna", 5),
    ("pendamping-pkh", 5),
    ("tagana", 4),
    ("pendamping-disabilitas", 3),
    ("peksos-profesional", 2),
]

PILLAR_DETAILS = {
    "tksk": "TKSK Kecamatan {kecamatan}",
    "lks": "LKS Al-Hikmah {kecamatan}",
    "karang-taruna": "Karang Taruna Desa {village}",
    "tagana": "Tagana Kabupaten {kabupaten}",
    "psm": "PSM Desa {village}",
}


def demo_people(*, kabupaten_code: str, pillars: list[tuple[str, int]], seed: int, first_serial: int = 1):
    """PersonData for `sum(counts)` people of the kabupaten, spread over its kecamatan."""
    rng = random.Random(seed)  # noqa: S311 - demo data, not security
    kabupaten = Region.objects.get(code=kabupaten_code)
    kecamatan = list(Region.objects.filter(parent=kabupaten).order_by("code"))
    pillar_types = {p.code: p for p in PillarType.objects.filter(code__in=[code for code, _n in pillars])}
    people, serial = [], first_serial
    for code, count in pillars:
        for _index in range(count):
            woman = rng.random() < 0.45
            born = date(rng.randint(1968, 2001), rng.randint(1, 12), rng.randint(1, 28))
            place = rng.choice(kecamatan) if kecamatan else None
            village = rng.choice(VILLAGE_STARTS) + rng.choice(VILLAGE_ENDS)
            region_digits = (place.code if place else f"{kabupaten_code}.01").replace(".", "")
            day = born.day + (40 if woman else 0)
            nik = f"{region_digits}{day:02d}{born:%m%y}{serial:04d}"
            first = rng.choice(WOMEN if woman else MEN)
            detail = PILLAR_DETAILS.get(code, "").format(
                kecamatan=place.name if place else "", village=village, kabupaten=kabupaten.name.split(" ", 1)[1]
            )
            people.append(
                PersonData(
                    nik=nik,
                    full_name=f"{first} {rng.choice(WOMEN_SURNAMES if woman else MEN_SURNAMES)}",
                    gender="P" if woman else "L",
                    birth_place=kabupaten.name.split(" ", 1)[1],
                    birth_date=born,
                    kabupaten=kabupaten,
                    kecamatan=place,
                    village=village,
                    address=f"Dusun Krajan RT {rng.randint(1, 9):03d}/RW {rng.randint(1, 5):03d}",
                    phone=f"08{rng.choice(['12', '13', '52', '53', '77', '81'])}{rng.randint(10000000, 99999999)}",
                    pillar_type=pillar_types[code],
                    pillar_detail=detail,
                    education=rng.choice(EDUCATION),
                )
            )
            serial += 1
    return people
