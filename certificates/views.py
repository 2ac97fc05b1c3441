"""The public verification page of a certificate: anyone with the code (or the QR) sees whether it is real.
It shows the training facts and the status, never the NIK or other personal data."""

from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from django_ratelimit.core import is_ratelimited

from config.proxy import client_ip

from .models import CODE_ALPHABET, CODE_LENGTH, Certificate

VERIFY_RATE = "30/m"  # per address: enough for an office checking a pile of certificates, not for guessing


def _client(group, request) -> str:
    return client_ip(request) or "-"


@never_cache
@require_GET
def verify(request, code: str):
    if is_ratelimited(request, group="certificates.verify", key=_client, rate=VERIFY_RATE, increment=True):
        return render(request, "certificates/verify_throttled.html", status=429)
    code = code.strip().upper()
    certificate = None
    if len(code) == CODE_LENGTH and set(code) <= set(CODE_ALPHABET):
        certificate = (
            Certificate.objects.select_related(
                "enrollment__person", "enrollment__batch__program", "organiser", "replaced_by"
            )
            .filter(verification_code=code)
            .first()
        )
    if certificate is None:
        return render(request, "certificates/verify_unknown.html", status=404)
    batch = certificate.enrollment.batch
    total_jp = sum(session.jp for session in batch.sessions.all())
    return render(
        request,
        "certificates/verify.html",
        {"certificate": certificate, "person": certificate.enrollment.person, "batch": batch, "total_jp": total_jp},
    )
