"""Ship Indonesia's 38 provinces, Jawa Timur's 38 kabupaten/kota (with the kecamatan of the demo
kabupaten) and the pillar types counted by Dinsos Jatim."""

import csv
from pathlib import Path

from django.db import migrations

DATA = Path(__file__).resolve().parent.parent / "data"


def _rows(name):
    with open(DATA / name, encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def load(apps, schema_editor):
    Region = apps.get_model("pillars", "Region")
    PillarType = apps.get_model("pillars", "PillarType")
    by_code = {}
    for row in _rows("provinces.csv") + _rows("jawa_timur.csv"):
        code = row["code"]
        parent = by_code.get(code.rsplit(".", 1)[0]) if "." in code else None
        region, _ = Region.objects.update_or_create(
            code=code, defaults={"name": row["name"], "level": code.count(".") + 1, "parent": parent}
        )
        by_code[code] = region
    for row in _rows("pillar_types.csv"):
        PillarType.objects.update_or_create(
            code=row["code"],
            defaults={"name": row["name"], "abbreviation": row["abbreviation"], "sort_order": int(row["sort_order"])},
        )


class Migration(migrations.Migration):
    dependencies = [("pillars", "0001_initial")]
    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
