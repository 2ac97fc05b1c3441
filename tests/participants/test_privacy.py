"""participants.privacy: an operator never sees a registry value of a person registered in another kabupaten
that they did not type themselves, and "is this NIK registered?" gets the same answer for a NIK the registry
does not know as for one registered elsewhere.

Tested as a property: for generated registry records (with a training history and a certificate) and generated
typed values, the Gresik operator nominates the Situbondo person's NIK under another name, by form and by
spreadsheet; then every URL of the participants, trainings and certificates apps is requested with every id
in play, and no response body, file or flash message may hold any stored value of that person."""

import io
import re
import subprocess
import zipfile
from datetime import date, datetime, time, timedelta

import pytest
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook, load_workbook

from certificates.models import Certificate
from certificates.selectors import certificates_visible_to
from participants import services
from participants.imports import COLUMNS, SHEET_PARTICIPANTS
from participants.models import Enrollment, Nomination, NominationUpload, Person
from tests.factories import BatchFactory, ModuleFactory, OperatorFactory, OrganiserFactory, StaffFactory, pillar, region
from trainings.models import Batch, QuotaAllocation, Session

pytestmark = pytest.mark.django_db

SITUBONDO, GRESIK = "35.12", "35.25"
APPS = ("participants", "trainings", "certificates")
RECORDED = timezone.make_aware(datetime(2025, 1, 1, 12, 0))

word = st.from_regex(r"[A-Z][a-z]{6,10}", fullmatch=True)
phone = st.from_regex(r"08[1-9][0-9]{8,10}", fullmatch=True)


@st.composite
def records(draw) -> dict:
    """A registry record of Situbondo and what the Gresik operator types for its NIK: another name, phone,
    address and birth place (the birth date and gender must agree with the NIK, so they are the same)."""
    values = {
        "full_name": f"{draw(word)} {draw(word)}",
        "phone": draw(phone),
        "address": f"Jl. {draw(word)} No. {draw(st.integers(1, 999))}",
        "birth_place": draw(word),
        "birth_date": draw(st.dates(date(1960, 1, 1), date(2005, 12, 31))),
        "serial": draw(st.integers(1, 9999)),
        "history": f"Angkatan {draw(word)}",
        "waiting": f"Angkatan {draw(word)}",
        "typed_name": f"{draw(word)} {draw(word)}",
        "typed_phone": draw(phone),
        "typed_address": f"Jl. {draw(word)} No. {draw(st.integers(1, 999))}",
        "typed_birth_place": draw(word),
    }
    stored = [values[k] for k in ("full_name", "phone", "address", "birth_place", "history", "waiting")]
    typed = " ".join(values[k] for k in ("typed_name", "typed_phone", "typed_address", "typed_birth_place"))
    # A stored value that is part of a typed one (or of another stored one) would be found for the wrong reason.
    assume(all(value not in typed for value in stored))
    assume(all(a == b or a not in b for a in stored for b in stored))
    return values


def nik_of(birth: date, serial: int, region_code: str = "351201") -> str:
    return f"{region_code}{birth:%d%m%y}{serial:04d}"


class World:
    """A Situbondo person with a finished batch and certificate, a waiting nomination elsewhere, and an open
    batch that gives Gresik a quota; the Gresik operator."""

    def __init__(self, values: dict):
        upt = OrganiserFactory(code="UPT-PTKS")
        self.staff = StaffFactory(organiser=upt)
        self.operator = OperatorFactory(kabupaten=region(GRESIK))
        today = timezone.localdate()
        self.batch = BatchFactory(
            organiser=upt,
            status=Batch.Status.NOMINATION_OPEN,
            start_date=today + timedelta(days=30),
            end_date=today + timedelta(days=33),
        )
        for code in (SITUBONDO, GRESIK):
            QuotaAllocation.objects.create(batch=self.batch, kind="kabupaten", region=region(code), seats=10)
        self.person = Person.objects.create(
            nik=nik_of(values["birth_date"], values["serial"]),
            full_name=values["full_name"],
            gender="L",
            birth_place=values["birth_place"],
            birth_date=values["birth_date"],
            address=values["address"],
            phone=values["phone"],
            kabupaten=region(SITUBONDO),
            kecamatan=region(f"{SITUBONDO}.01"),
            pillar_type=pillar("psm"),
        )
        # Their history: a finished batch of the same program, with a certificate; a waiting nomination.
        history = BatchFactory(
            organiser=upt,
            program=self.batch.program,
            name=values["history"],
            status=Batch.Status.FINISHED,
            start_date=date(2024, 3, 4),
            end_date=date(2024, 3, 6),
        )
        Session.objects.create(
            batch=history,
            date=history.start_date,
            start_time=time(8),
            end_time=time(9, 30),
            module=ModuleFactory(program=history.program, jp=2),
            jp=2,
        )
        enrollment = Enrollment.objects.create(
            batch=history, person=self.person, nomination=self._nominate(history, SITUBONDO, "accepted")
        )
        self.certificate = Certificate.objects.create(
            enrollment=enrollment,
            organiser=upt,
            year=2024,
            seq=7,
            number=f"007/UPT-PTKS/III/2024/{values['serial']}",
            issued_at=RECORDED,
            issued_by=self.staff,
            pdf="certificates/test-7.pdf",
        )
        waiting = BatchFactory(
            organiser=upt,
            name=values["waiting"],
            status=Batch.Status.NOMINATION_OPEN,
            start_date=self.batch.start_date,
            end_date=self.batch.end_date,
        )
        self._nominate(waiting, SITUBONDO, "pending")
        # Both are Situbondo's batches: the Gresik operator cannot find them, only (before) hear of them.
        for other in (history, waiting):
            QuotaAllocation.objects.create(batch=other, kind="kabupaten", region=region(SITUBONDO), seats=40)
        self.secrets = {
            "name": values["full_name"],
            "nik": self.person.nik,
            "phone": values["phone"],
            "address": values["address"],
            "birth place": values["birth_place"],
            "history batch": values["history"],
            "waiting batch": values["waiting"],
            "certificate number": self.certificate.number,
            "certificate code": self.certificate.verification_code,
        }
        # Not the birth date: it is written in the NIK itself (DDMMYY), so whoever typed the NIK typed it too, and
        # the NIK check makes the typed date the registry's. Shown back as typed, it tells the operator nothing.

    def _nominate(self, batch, kabupaten, status) -> Nomination:
        return Nomination.objects.create(
            batch=batch,
            person=self.person,
            kabupaten=region(kabupaten),
            pillar_type=pillar("psm"),
            status=status,
            nominated_by=self.staff,
        )

    def form(self, nik: str, values: dict) -> dict:
        """The one-by-one nomination form as the Gresik operator fills it in."""
        return {
            "nik": nik,
            "full_name": values["typed_name"],
            "gender": "L",
            "birth_place": values["typed_birth_place"],
            "birth_date": values["birth_date"].isoformat(),
            "pillar_type": pillar("psm").pk,
            "kecamatan": region(f"{GRESIK}.01").pk,
            "address": values["typed_address"],
            "phone": values["typed_phone"],
        }

    def sheet(self, nik: str, values: dict) -> SimpleUploadedFile:
        """The same as a nomination spreadsheet."""
        cells = {
            "nik": nik,
            "full_name": values["typed_name"],
            "gender": "L",
            "birth_place": values["typed_birth_place"],
            "birth_date": f"{values['birth_date']:%d-%m-%Y}",
            "kecamatan": f"{GRESIK}.01",
            "address": values["typed_address"],
            "phone": values["typed_phone"],
            "pillar_type": "PSM",
        }
        workbook = Workbook()
        sheet = workbook.active
        sheet.title = SHEET_PARTICIPANTS
        sheet.append([column.header for column in COLUMNS])
        sheet.append([cells.get(column.key, "") for column in COLUMNS])
        buffer = io.BytesIO()
        workbook.save(buffer)
        return SimpleUploadedFile("usulan.xlsx", buffer.getvalue())


# ------------------------------------------------------------------------------------------ reading answers


def body_text(response) -> str:
    """Everything a response carries that a person could read: the page, or the cells of a spreadsheet, the
    text of a PDF, the members of a ZIP."""
    content = b"".join(response.streaming_content) if response.streaming else response.content
    return file_text(content, response.get("Content-Type", ""))


def file_text(content: bytes, content_type: str = "") -> str:
    if content.startswith(b"PK"):
        archive = zipfile.ZipFile(io.BytesIO(content))
        if any(name.startswith("xl/") for name in archive.namelist()):
            workbook = load_workbook(io.BytesIO(content), read_only=True)
            return "\n".join(
                str(cell)
                for sheet in workbook.worksheets
                for row in sheet.iter_rows(values_only=True)
                for cell in row
                if cell is not None
            )
        return "\n".join(name + "\n" + file_text(archive.read(name)) for name in archive.namelist())
    if content.startswith(b"%PDF"):
        return subprocess.run(["pdftotext", "-", "-"], input=content, capture_output=True, check=True).stdout.decode()
    return content.decode("utf-8", "replace")


def flashes(response) -> str:
    return "\n".join(str(message) for message in get_messages(response.wsgi_request))


def leaks(text: str, secrets: dict) -> list[str]:
    # The NIK field echoing what the operator typed into it is theirs, not the registry's.
    text = re.sub(r'<input [^>]*name="nik"[^>]*>', "", text)
    return [label for label, value in secrets.items() if value in text]


def app_urls(ids) -> list[str]:
    """Every URL of the participants, trainings and certificates apps, with each id in play for each of its
    arguments (ids of different tables overlap, so the set stays small)."""
    urls = set()
    for resolver in get_resolver().url_patterns:
        if not isinstance(resolver, URLResolver) or resolver.namespace not in APPS:
            continue
        for pattern in resolver.url_patterns:
            assert isinstance(pattern, URLPattern)
            names = list(pattern.pattern.converters)
            name = f"{resolver.namespace}:{pattern.name}"
            if not names:
                urls.add(reverse(name))
            for value in ids:
                kwargs = {
                    key: (value if type(converter).__name__ == "IntConverter" else "x")
                    for key, converter in pattern.pattern.converters.items()
                }
                urls.add(reverse(name, kwargs=kwargs))
    return sorted(urls)


@pytest.fixture
def rolled_back():
    """Each generated example in a savepoint of its own, undone afterwards."""

    class Savepoint:
        def __enter__(self):
            self.atomic = transaction.atomic()
            self.atomic.__enter__()

        def __exit__(self, *exc):
            transaction.set_rollback(True)
            return self.atomic.__exit__(*exc)

    return Savepoint


# ------------------------------------------------------------------------------------------------- property


# Few examples, no shrinking: each one requests every URL; a failure names the URL and the value found.
@settings(
    max_examples=3,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(values=records())
def test_no_operator_facing_answer_holds_a_value_of_a_person_registered_elsewhere(client, rolled_back, values):
    with rolled_back():
        world = World(values)
        secrets = world.secrets
        client.force_login(world.operator)
        batch = world.batch
        found = []

        def check(label, response):
            found.extend(f"{label}: {what}" for what in leaks(body_text(response) + flashes(response), secrets))

        check(
            "lookup", client.post(reverse("participants:person_lookup"), {"nik": world.person.nik, "batch": batch.pk})
        )
        page = reverse("participants:batch_nominations", args=[batch.pk])
        response = client.post(page, world.form(world.person.nik, values), follow=True)
        check("nominate", response)
        nomination = Nomination.objects.get(batch=batch, person=world.person)
        assert nomination.kabupaten == region(GRESIK) and nomination.submitted["full_name"] == values["typed_name"]
        # The registry record stays as it was.
        world.person.refresh_from_db()
        assert (world.person.full_name, world.person.phone) == (values["full_name"], values["phone"])

        upload = reverse("participants:import_upload", args=[batch.pk])
        check("spreadsheet", client.post(upload, {"file": world.sheet(world.person.nik, values)}, follow=True))

        ids = set()
        for model in (Batch, Nomination, Person, Enrollment, Certificate, Session, NominationUpload):
            ids |= set(model.objects.values_list("pk", flat=True))
        for url in app_urls(sorted(ids)):
            check(url, client.get(url))
        check("withdraw", client.post(reverse("participants:nomination_withdraw", args=[nomination.pk]), follow=True))
        assert not found, "\n".join(found)


# -------------------------------------------------------------------------------------- the same answer


def normalised(text: str, nik: str) -> str:
    """An answer with the NIK asked about, CSRF tokens and ids taken out."""
    text = text.replace(nik, "NIK").replace(Person(nik=nik).masked_nik, "NIK")
    text = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", text)
    text = re.sub(r'"csrfToken": "[^"]+"|X-CSRFToken": "[^"]+"', "", text)
    return re.sub(r"\d+", "N", text)


def answers(client, world: World, nik: str, values: dict) -> list[str]:
    """What the Gresik operator hears about `nik`: the NIK fill-in, the spreadsheet check, the one-by-one
    form with a mistake and without, and both again once it is nominated."""
    batch = world.batch
    page = reverse("participants:batch_nominations", args=[batch.pk])
    upload = reverse("participants:import_upload", args=[batch.pk])
    replies = [client.post(reverse("participants:person_lookup"), {"nik": nik, "batch": batch.pk})]
    replies.append(client.post(upload, {"file": world.sheet(nik, values)}, follow=True))
    replies.append(client.post(page, {**world.form(nik, values), "email": "bukan-surel"}))
    replies.append(client.post(page, world.form(nik, values), follow=True))
    # Once nominated, the same NIK again: their own nomination holds the seat either way.
    replies.append(client.post(page, world.form(nik, values)))
    replies.append(client.post(upload, {"file": world.sheet(nik, values)}, follow=True))
    return [normalised(body_text(reply) + flashes(reply), nik) for reply in replies]


# Few examples, no shrinking: each one requests every URL; a failure names the URL and the value found.
@settings(
    max_examples=3,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(values=records())
def test_a_nik_registered_elsewhere_gets_the_answers_of_an_unknown_nik(client, rolled_back, values):
    unknown_nik = nik_of(values["birth_date"], values["serial"] % 9999 + 1)
    with rolled_back():
        world = World(values)
        client.force_login(world.operator)
        unknown = answers(client, world, unknown_nik, values)
    with rolled_back():
        world = World(values)
        client.force_login(world.operator)
        registered = answers(client, world, world.person.nik, values)
    for reply_unknown, reply_registered in zip(unknown, registered, strict=True):
        assert reply_registered == reply_unknown


# ------------------------------------------------------------------------------------ staff, and afterwards

VALUES = {
    "full_name": "Taufik Santoso",
    "phone": "081234500001",
    "address": "Jl. Mawar No. 5",
    "birth_place": "Panarukan",
    "birth_date": date(1998, 3, 17),
    "serial": 1,
    "history": "Angkatan Situbondo 2024",
    "waiting": "Angkatan Situbondo Lain",
    "typed_name": "Orang Lain",
    "typed_phone": "085799900002",
    "typed_address": "Jl. Kenanga No. 9",
    "typed_birth_place": "Gresik",
}


@pytest.fixture
def nominated(client):
    """The issue's case: operator.gresik nominates 3512011703980001 (Taufik Santoso of Situbondo) as
    "Orang Lain"."""
    world = World(VALUES)
    client.force_login(world.operator)
    page = reverse("participants:batch_nominations", args=[world.batch.pk])
    response = client.post(page, world.form(world.person.nik, VALUES), follow=True)
    assert "Orang Lain" in flashes(response)
    world.nomination = Nomination.objects.get(batch=world.batch, person=world.person)
    client.logout()
    return world


def test_staff_see_the_conflict_on_the_nominations_page(client, nominated):
    client.force_login(nominated.staff)
    response = client.get(reverse("participants:nomination_detail", args=[nominated.nomination.pk]))
    html = response.content.decode()
    assert 'id="registry-conflict"' in html and "Kabupaten Situbondo" in html
    conflicts = {(c.submitted, c.registry) for c in response.context["conflicts"]}
    assert {("Orang Lain", "Taufik Santoso"), ("085799900002", "081234500001"), ("Gresik", "Panarukan")} <= conflicts
    assert "Panarukan" in html and "Taufik Santoso" in html


def test_the_operator_sees_no_conflict_box_and_the_name_they_typed(client, nominated):
    client.force_login(nominated.operator)
    response = client.get(reverse("participants:nomination_detail", args=[nominated.nomination.pk]))
    html = response.content.decode()
    assert 'id="registry-conflict"' not in html and 'id="as-submitted"' in html
    assert "Orang Lain" in html and "Taufik Santoso" not in html and "3512••••••••0001" in html


def test_once_accepted_the_operator_sees_the_participant_as_typed_and_gets_no_certificate(client, nominated):
    """The participant list and its .xlsx show what the operator typed; the certificate, which carries the
    registry's name and birth data, is not theirs to download (the participant downloads it with the access
    code, or the staff hand it over)."""
    services.nominations_decide(
        actor=nominated.staff,
        batch=nominated.batch,
        nomination_ids=[nominated.nomination.pk],
        decision=services.Decision.ACCEPT,
    )
    enrollment = Enrollment.objects.get(nomination=nominated.nomination)
    certificate = Certificate.objects.create(
        enrollment=enrollment,
        organiser=nominated.batch.organiser,
        year=2026,
        seq=8,
        number="008/UPT-PTKS/XII/2026",
        issued_at=RECORDED,
        issued_by=nominated.staff,
        pdf="certificates/test-8.pdf",
    )
    client.force_login(nominated.operator)
    for name in ("enrollments", "enrollments_export"):
        text = body_text(client.get(reverse(f"participants:{name}", args=[nominated.batch.pk])))
        assert "Orang Lain" in text
        assert not leaks(text, nominated.secrets), name
    assert not certificates_visible_to(nominated.operator).filter(pk=certificate.pk).exists()
    assert not nominated.operator.has_perm("certificates.certificate.download", certificate)
    assert client.get(reverse("certificates:certificate_download", args=[certificate.pk])).status_code == 404


def test_once_accepted_and_running_no_operator_facing_url_shows_the_registry_values(client, nominated):
    """The same crawl once the staff accepted the nomination and the batch runs: the participant list, the
    attendance recap and its export show the participant as the operator typed them."""
    services.nominations_decide(
        actor=nominated.staff,
        batch=nominated.batch,
        nomination_ids=[nominated.nomination.pk],
        decision=services.Decision.ACCEPT,
    )
    Batch.objects.filter(pk=nominated.batch.pk).update(status=Batch.Status.RUNNING)
    client.force_login(nominated.operator)
    ids = {nominated.batch.pk, nominated.nomination.pk, nominated.person.pk}
    ids.add(Enrollment.objects.get(nomination=nominated.nomination).pk)
    found = []
    for url in app_urls(sorted(ids)):
        found.extend(f"{url}: {what}" for what in leaks(body_text(client.get(url)), nominated.secrets))
    assert not found, "\n".join(found)


def test_the_review_list_marks_a_nominee_registered_elsewhere(client, nominated):
    client.force_login(nominated.staff)
    html = client.get(reverse("participants:review", args=[nominated.batch.pk])).content.decode()
    row = html[html.index(f'data-nomination="{nominated.nomination.pk}"') :].split("</tr>")[0]
    assert 'data-conflict="elsewhere"' in row and "Kabupaten Situbondo" in row
    assert html.count('data-conflict="elsewhere"') == 1


def test_staff_nominating_for_another_kabupaten_do_not_move_the_person_there(client):
    """A nomination, also staff's on behalf of another kabupaten, never changes where a person is registered:
    moving them would hand their whole record to that kabupaten's operator."""
    world = World(VALUES)
    client.force_login(world.staff)
    page = reverse("participants:batch_nominations", args=[world.batch.pk]) + f"?kabupaten={region('35.25').pk}"
    form = world.form(world.person.nik, VALUES)
    form.update(full_name=VALUES["full_name"], birth_place=VALUES["birth_place"], address="", phone="")
    client.post(page, form)
    nomination = Nomination.objects.get(batch=world.batch, person=world.person)
    assert nomination.kabupaten == region("35.25")
    world.person.refresh_from_db()
    assert world.person.kabupaten == region("35.12")

    # Staff typed the registry's name and birth place into the nomination they made for Gresik, so Gresik's
    # operator sees those; no other value of the record reaches them.
    registry_only = {key: value for key, value in world.secrets.items() if key not in ("name", "birth place")}
    client.force_login(world.operator)
    assert client.get(reverse("participants:person_detail", args=[world.person.pk])).status_code == 404
    for url in (
        reverse("participants:batch_nominations", args=[world.batch.pk]),
        reverse("participants:nomination_detail", args=[nomination.pk]),
    ):
        assert leaks(body_text(client.get(url)), registry_only) == []
