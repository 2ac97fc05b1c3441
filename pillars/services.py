"""Writes to the reference data: importing regions from Kemendagri-style CSV files."""

import csv
import io
import re
from dataclasses import dataclass, field

from django.db import transaction
from django.utils.translation import gettext as _

from .models import REGION_CODE_RE, Region


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list = field(default_factory=list)  # (line number, message)

    @property
    def ok(self) -> bool:
        return not self.errors


NAME_MAX = Region._meta.get_field("name").max_length


def _level(code: str) -> int:
    return code.count(".") + 1


def regions_import_csv(*, text: str) -> ImportReport:
    """Import `code,name` rows (a header row is optional). Every row is checked first; if any row is bad,
    nothing is written and each bad row is reported by line. Re-importing the same file changes nothing."""
    report = ImportReport()
    rows = []
    seen = {}
    pattern = re.compile(REGION_CODE_RE)
    for line_no, row in enumerate(csv.reader(io.StringIO(text.lstrip("\ufeff"))), start=1):
        if not row or all(not cell.strip() for cell in row):
            continue
        if line_no == 1 and row[0].strip().lower() in {"code", "kode"}:
            continue
        if len(row) != 2:
            report.errors.append((line_no, _("expected 2 columns (code,name), found %(n)s") % {"n": len(row)}))
            continue
        code, name = row[0].strip(), row[1].strip()
        if not pattern.match(code):
            report.errors.append(
                (
                    line_no,
                    _("code “%(code)s” must look like 35, 35.12, 35.12.01 or 35.12.01.2001") % {"code": code},
                )
            )
            continue
        if not name:
            report.errors.append((line_no, _("the name is empty")))
            continue
        if len(name) > NAME_MAX:
            report.errors.append((line_no, _("the name is longer than %(max)s characters") % {"max": NAME_MAX}))
            continue
        if code in seen:
            report.errors.append(
                (
                    line_no,
                    _("code %(code)s already appears on line %(line)s") % {"code": code, "line": seen[code]},
                )
            )
            continue
        seen[code] = line_no
        rows.append((line_no, code, name))

    existing = {
        r.code: r
        for r in Region.objects.filter(
            code__in=[c for _l, c, _n in rows] + [c.rsplit(".", 1)[0] for _l, c, _n in rows if "." in c]
        )
    }
    known_codes = set(existing) | set(seen)
    for line_no, code, _name in rows:
        if "." in code and code.rsplit(".", 1)[0] not in known_codes:
            report.errors.append(
                (
                    line_no,
                    _("parent region %(parent)s is neither in the file nor in the database")
                    % {"parent": code.rsplit(".", 1)[0]},
                )
            )
    if report.errors:
        report.errors.sort()
        return report

    with transaction.atomic():
        # Parents before children: codes sort by length of their parts.
        for _line_no, code, name in sorted(rows, key=lambda r: (_level(r[1]), r[1])):
            parent = existing.get(code.rsplit(".", 1)[0]) if "." in code else None
            region = existing.get(code)
            if region is None:
                region = Region.objects.create(code=code, name=name, level=_level(code), parent=parent)
                existing[code] = region
                report.created += 1
            elif region.name != name:
                region.name = name
                region.save(update_fields=["name"])
                report.updated += 1
            else:
                report.unchanged += 1
    return report
