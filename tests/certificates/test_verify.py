"""The public verification page: valid or revoked, never the NIK; unknown codes get a friendly 404 (the throttle
of unknown codes is tested in tests/test_throttles.py)."""

import pytest
from django.urls import reverse

from certificates import services
from tests.certificates.test_services import ISSUED, finished_batch
from tests.factories import StaffFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def issued():
    staff = StaffFactory(organiser__code="UPT-PTKS")
    batch = finished_batch(staff, participants=1)
    certificate = services.certificates_issue(
        actor=staff, batch=batch, enrollments=list(batch.enrollments.all()), now=ISSUED
    )[0]
    return staff, certificate


def url(code):
    return reverse("verify_certificate", args=[code])


def test_a_valid_certificate_shows_the_facts_but_not_the_nik(client, issued):
    _staff, certificate = issued
    response = client.get(url(certificate.verification_code))
    page = response.content.decode()
    assert response.status_code == 200
    assert 'id="status-valid"' in page
    person = certificate.enrollment.person
    assert person.full_name in page and certificate.number in page
    assert person.nik not in page and person.nik[:6] not in page
    assert len(url(certificate.verification_code)) < 20  # short, for a small QR code


def test_a_revoked_certificate_says_why_and_what_replaced_it(client, issued):
    staff, certificate = issued
    services.certificate_revoke(actor=staff, certificate=certificate, reason="salah tulis nama", now=ISSUED)
    new = services.certificate_reissue(actor=staff, certificate=certificate, now=ISSUED)
    page = client.get(url(certificate.verification_code)).content.decode()
    assert 'id="status-revoked"' in page and "salah tulis nama" in page and new.number in page
    assert 'id="status-valid"' in client.get(url(new.verification_code)).content.decode()


@pytest.mark.parametrize("code", ["AAAAAAAAAAAA", "abc", "x" * 200, "%00%00"])
def test_unknown_codes_get_a_friendly_404(client, code):
    response = client.get(url(code))
    assert response.status_code == 404
    assert "certificates/verify_unknown.html" in [t.name for t in response.templates]
