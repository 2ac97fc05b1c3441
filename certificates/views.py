"""The certificate pages: the public verification page; the staff's documents page of a batch (issue, revoke and
re-issue certificates, print attendance sheets and the batch report), their document jobs with live progress,
and the certificate layout; every download (a certificate, a batch's certificates as ZIP or as one PDF, a job's
files), always through a view that checks the role and the object; and the participant's own download with
their NIK and personal access code. Thin: parse, check the role and the object, call a service or selector,
render."""

import hashlib
import hmac
import re
import tempfile
import zipfile
from datetime import date

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.db.models import Exists, OuterRef
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from config import throttle
from config.forms import add_service_errors
from config.views_helpers import id_or_404, parse_id, require
from participants.models import Enrollment
from trainings.models import Batch, Session
from trainings.selectors import attendance_matrix, batches_visible_to

from . import rendering, selectors, services
from .forms import LayoutForm, ParticipantAccessForm, RevokeForm
from .models import CODE_ALPHABET, CODE_LENGTH, Certificate, DocumentFile, DocumentJob

# A participant's download session ends after half an hour: the phone or warnet computer may be shared.
PARTICIPANT_SESSION_SECONDS = 30 * 60
PARTICIPANT_SESSION_KEY = "certificates_person"
JOB_LIST_LENGTH = 20


# --------------------------------------------------------------------------------- public verification


@never_cache
@require_GET
def verify(request, code: str):
    """Public. A known code's page is always served and never counted (a room scanning its QR codes from one
    address is honest use); unknown codes are counted per address, and past config.throttle.VERIFY_MISSES
    they get the throttled page instead of the 404."""
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
        if throttle.VERIFY_MISSES.count(request):
            return render(request, "certificates/verify_throttled.html", status=429)
        return render(request, "certificates/verify_unknown.html", status=404)
    batch = certificate.enrollment.batch
    total_jp = sum(session.jp for session in batch.sessions.all())
    return render(
        request,
        "certificates/verify.html",
        {"certificate": certificate, "person": certificate.enrollment.person, "batch": batch, "total_jp": total_jp},
    )


# ------------------------------------------------------------------------------------------- downloads


def _ascii_name(text: str) -> str:
    """A file name part from a certificate number or a key: ASCII letters, digits and hyphens only."""
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-") or "dokumen"


def certificate_filename(certificate: Certificate) -> str:
    return f"sertifikat-{_ascii_name(certificate.number)}.pdf"


def _no_store(response):
    response["Cache-Control"] = "no-store"
    return response


def _stored_file(name: str, filename: str, content_type: str = "application/pdf") -> FileResponse:
    """A stored file as an attachment; a file missing from the storage is a 404, not a 500."""
    try:
        handle = default_storage.open(name, "rb")
    except OSError as exc:
        raise Http404 from exc
    return _no_store(FileResponse(handle, as_attachment=True, filename=filename, content_type=content_type))


def _zip_response(members, filename: str) -> FileResponse:
    """`members` are (name inside the ZIP, stored file name) pairs; the ZIP is built in a temporary file."""
    archive = tempfile.TemporaryFile()  # noqa: SIM115 - FileResponse closes (and so deletes) it
    try:
        with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zipped:
            for member, stored in members:
                with default_storage.open(stored, "rb") as handle:
                    zipped.writestr(member, handle.read())
    except OSError as exc:
        archive.close()
        raise Http404 from exc
    archive.seek(0)
    return _no_store(FileResponse(archive, as_attachment=True, filename=filename, content_type="application/zip"))


def _valid_with_pdf(certificates):
    return certificates.filter(revoked_at__isnull=True).exclude(pdf="").order_by("seq")


@login_required
@require_GET
def certificate_download(request, pk):
    """One certificate's PDF: for the staff of its organiser, or an operator of the participant's kabupaten."""
    certificate = get_object_or_404(
        selectors.certificates_visible_to(request.user).select_related("enrollment__nomination"), pk=pk
    )
    require(request.user, "certificates.certificate.download", certificate)
    if not certificate.pdf:
        raise Http404
    return _stored_file(certificate.pdf.name, certificate_filename(certificate))


def _batch_for(request, pk, perm="certificates.batch.manage") -> Batch:
    """The batch (404 if the user cannot find it at all, 403 if they may not do this with it)."""
    batch = get_object_or_404(batches_visible_to(request.user).select_related("program", "organiser"), pk=pk)
    require(request.user, perm, batch)
    return batch


@login_required
@require_GET
def batch_zip(request, pk):
    """The batch's valid certificates as a ZIP: all of them for its staff, an operator's kabupaten's for them."""
    batch = _batch_for(request, pk, "certificates.batch.download")
    visible = selectors.certificates_visible_to(request.user).filter(enrollment__batch=batch)
    certificates = list(_valid_with_pdf(visible))
    if not certificates:
        raise Http404
    parts = ["sertifikat", f"angkatan-{batch.pk}", slugify(batch.name)[:60]]
    if request.user.is_operator:
        parts.append(_ascii_name(request.user.kabupaten.code))
    return _zip_response(
        [(certificate_filename(c), c.pdf.name) for c in certificates], "-".join(p for p in parts if p) + ".zip"
    )


@login_required
@require_GET
def batch_print(request, pk):
    """The batch's valid certificates as one PDF, for printing (staff only)."""
    batch = _batch_for(request, pk)
    certificates = list(_valid_with_pdf(Certificate.objects.filter(enrollment__batch=batch)))
    if not certificates:
        raise Http404
    handles = []
    try:
        for certificate in certificates:
            handles.append(default_storage.open(certificate.pdf.name, "rb"))
        merged = rendering.merge_pdfs(handles)
    except OSError as exc:
        raise Http404 from exc
    finally:
        for handle in handles:
            handle.close()
    response = HttpResponse(merged, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="sertifikat-angkatan-{batch.pk}-cetak.pdf"'
    return _no_store(response)


def _job_for(request, pk) -> DocumentJob:
    job = get_object_or_404(selectors.jobs_visible_to(request.user).select_related("batch"), pk=pk)
    require(request.user, "certificates.job.view", job)
    return job


def _sheet_filename(document: DocumentFile) -> str:
    if document.job.kind == DocumentJob.Kind.REPORT:
        return f"laporan-angkatan-{document.job.batch_id}.pdf"
    return f"daftar-hadir-angkatan-{document.job.batch_id}-{_ascii_name(document.key)}.pdf"


@login_required
@require_GET
def file_download(request, pk):
    document = get_object_or_404(selectors.files_visible_to(request.user).select_related("job"), pk=pk)
    require(request.user, "certificates.job.view", document.job)
    return _stored_file(document.file.name, _sheet_filename(document))


@login_required
@require_GET
def job_zip(request, pk):
    job = _job_for(request, pk)
    documents = list(job.files.select_related("job").order_by("key"))
    if not documents:
        raise Http404
    return _zip_response(
        [(_sheet_filename(d), d.file.name) for d in documents], f"dokumen-{job.pk}-angkatan-{job.batch_id}.zip"
    )


# ----------------------------------------------------------------------------------- batch documents


def _days(batch: Batch) -> list[date]:
    return sorted(set(Session.objects.filter(batch=batch).values_list("date", flat=True)))


def _render_documents(request, batch, *, posted=None, revoke_forms=None, status=200):
    """The batch documents page; `posted` keeps what was ticked and typed when issuing was refused, and
    `revoke_forms` a revocation form with its error."""
    page = selectors.batch_certificates(batch=batch, user=request.user)
    posted = posted or {}
    revoke_forms = revoke_forms or {}
    included = {parse_id(value) for value in posted.getlist("include")} if posted else set()
    rows = []
    for item in page["rows"]:
        enrollment = item["row"].enrollment
        rows.append(
            {
                **item,
                "enrollment": enrollment,
                "included": enrollment.pk in included,
                "reason": posted.get(f"reason-{enrollment.pk}", "") if posted else "",
                "revoke_form": revoke_forms.get(item["valid"].pk if item["valid"] else None),
            }
        )
    jobs = list(selectors.jobs_visible_to(request.user).filter(batch=batch)[:JOB_LIST_LENGTH])
    valid_count = sum(1 for item in page["rows"] for c in item["certificates"] if c.is_valid and c.pdf)
    return render(
        request,
        "certificates/batch_documents.html",
        {
            "batch": batch,
            "matrix": page["matrix"],
            "rows": rows,
            "jobs": jobs,
            "days": _days(batch),
            "finished": batch.status == Batch.Status.FINISHED,
            "valid_count": valid_count,
        },
        status=status,
    )


@login_required
@require_GET
def batch_documents(request, pk):
    batch = _batch_for(request, pk)
    return _render_documents(request, batch)


@login_required
@require_POST
def batch_issue(request, pk):
    """Issue certificates: everyone who meets the pass rule, and those below it that were ticked (or given a
    reason); a ticked one without a reason is refused by the service, and the page keeps what was typed."""
    batch = _batch_for(request, pk)
    ids = {parse_id(value) for value in request.POST.getlist("include")} - {None}
    reasons = {}
    for key, value in request.POST.items():
        match = re.fullmatch(r"reason-(\d{1,10})", key)
        if match and value.strip() and parse_id(match[1]):
            ids.add(int(match[1]))
            reasons[int(match[1])] = value.strip()
    enrollments = None
    if ids:
        eligible = {row.enrollment.pk for row in attendance_matrix(batch=batch).rows if row.eligible}
        enrollments = list(Enrollment.objects.filter(batch=batch, pk__in=eligible | ids))
    try:
        job = services.document_job_certificates(
            actor=request.user, batch=batch, enrollments=enrollments, included_reasons=reasons
        )
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
        return _render_documents(request, batch, posted=request.POST)
    return _job_started(request, job, _("The certificates are being issued."))


@login_required
@require_GET
def batch_preview(request, pk):
    batch = _batch_for(request, pk)
    try:
        pdf = services.certificate_preview(actor=request.user, batch=batch)
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
        return redirect("certificates:batch_documents", pk=batch.pk)
    return _inline_pdf(pdf, f"pratinjau-sertifikat-angkatan-{batch.pk}.pdf")


def _inline_pdf(pdf: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    return _no_store(response)


@login_required
@require_POST
def batch_sheets(request, pk):
    """Attendance sheets: every sheet of the batch, or one day's (its sessions' sheets and the day's sheet)."""
    from .sheets import sheet_keys

    batch = _batch_for(request, pk)
    keys = None
    if request.POST.get("day"):
        try:
            day = date.fromisoformat(request.POST["day"])
        except ValueError as exc:
            raise Http404 from exc
        sessions = Session.objects.filter(batch=batch, date=day).values_list("pk", flat=True)
        wanted = {f"session-{pk}" for pk in sessions} | {f"day-{day.isoformat()}"}
        keys = [key for key in sheet_keys(batch=batch) if key in wanted]
    try:
        job = services.document_job_attendance_sheets(actor=request.user, batch=batch, keys=keys)
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
        return redirect("certificates:batch_documents", pk=batch.pk)
    return _job_started(request, job, _("The attendance sheets are being prepared."))


@login_required
@require_POST
def batch_report(request, pk):
    """The batch report (laporan penyelenggaraan) as a PDF, made by a job."""
    batch = _batch_for(request, pk)
    try:
        job = services.document_job_batch_report(actor=request.user, batch=batch)
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
        return redirect("certificates:batch_documents", pk=batch.pk)
    return _job_started(request, job, _("The batch report is being prepared."))


def _certificate_to_manage(request, pk) -> Certificate:
    certificate = get_object_or_404(
        selectors.certificates_visible_to(request.user).select_related("enrollment__batch__program", "organiser"),
        pk=pk,
    )
    require(request.user, "certificates.certificate.manage", certificate)
    return certificate


@login_required
@require_POST
def certificate_revoke(request, pk):
    certificate = _certificate_to_manage(request, pk)
    batch = certificate.enrollment.batch
    form = RevokeForm(request.POST)
    if form.is_valid():
        try:
            services.certificate_revoke(actor=request.user, certificate=certificate, reason=form.cleaned_data["reason"])
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, _("Certificate %(number)s was revoked.") % {"number": certificate.number})
            return redirect("certificates:batch_documents", pk=batch.pk)
    messages.error(request, _("The certificate was not revoked."))
    return _render_documents(request, batch, revoke_forms={certificate.pk: form})


@login_required
@require_POST
def certificate_reissue(request, pk):
    certificate = _certificate_to_manage(request, pk)
    batch = certificate.enrollment.batch
    try:
        new = services.certificate_reissue(actor=request.user, certificate=certificate)
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
        return redirect("certificates:batch_documents", pk=batch.pk)
    # The new certificate's PDF is made by a job of its own, like every other certificate's.
    job = services.document_job_certificates(actor=request.user, batch=batch, enrollments=[new.enrollment])
    messages.success(
        request,
        _("Certificate %(new)s was issued in place of %(old)s.") % {"new": new.number, "old": certificate.number},
    )
    return redirect("certificates:job_detail", pk=job.pk)


# ----------------------------------------------------------------------------------------- jobs


def _job_started(request, job: DocumentJob, note: str):
    """To the job's page, with `note` only if the job reached the queue: a job that could not be queued is
    already failed, and its page says what happened and what to do, as the one message."""
    job.refresh_from_db(fields=["status"])
    if job.status != DocumentJob.Status.FAILED:
        messages.success(request, note)
    return redirect("certificates:job_detail", pk=job.pk)


def _job_context(job: DocumentJob) -> dict:
    context = {"job": job, "batch": job.batch, "files": []}
    if job.kind in (DocumentJob.Kind.ATTENDANCE_SHEETS, DocumentJob.Kind.REPORT) and job.is_finished:
        # Also those a failed job produced before it stopped: they are kept.
        context["files"] = list(job.files.order_by("key"))
    return context


@login_required
@require_GET
def job_detail(request, pk):
    job = _job_for(request, pk)
    return render(request, "certificates/job_detail.html", _job_context(job))


@never_cache
@login_required
@require_GET
def job_progress(request, pk):
    """htmx: the job's status and progress bar; it polls itself until the job is finished."""
    job = _job_for(request, pk)
    return render(request, "certificates/job_progress.html", _job_context(job))


@login_required
@require_POST
def job_retry(request, pk):
    job = _job_for(request, pk)
    try:
        services.document_job_retry(actor=request.user, job=job)
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
        return redirect("certificates:job_detail", pk=job.pk)
    return _job_started(request, job, _("The job runs again."))


# ---------------------------------------------------------------------------------------------- layout


def _batches_with_participants(user):
    return (
        Batch.objects.filter(organiser_id=user.organiser_id)
        .filter(Exists(Enrollment.objects.filter(batch=OuterRef("pk"))))
        .select_related("program")
        .order_by("-start_date", "-pk")
    )


@login_required
@require_http_methods(["GET", "POST"])
def layout_edit(request):
    require(request.user, "certificates.layout.change")
    layout = selectors.layout_for(request.user.organiser)
    if request.method == "POST":
        form = LayoutForm(request.POST, request.FILES, instance=layout)
    else:
        form = LayoutForm(instance=layout)
    if request.method == "POST" and form.is_valid():
        services.certificate_layout_update(actor=request.user, layout=form.save(commit=False))
        messages.success(request, _("The certificate layout was saved. It applies to certificates issued from now on."))
        return redirect("certificates:layout_edit")
    return render(
        request,
        "certificates/layout_form.html",
        {
            "form": form,
            "layout": layout,
            "batches": _batches_with_participants(request.user)[:50],
            "qr_address": settings.SITE_URL,
        },
    )


@login_required
@require_GET
def layout_preview(request):
    """A preview certificate with the saved layout, for one of the organiser's batches with participants."""
    require(request.user, "certificates.layout.change")
    batches = _batches_with_participants(request.user)
    if request.GET.get("angkatan"):
        batch = get_object_or_404(batches.select_related("organiser"), pk=id_or_404(request.GET["angkatan"]))
    else:
        batch = batches.select_related("organiser").first()
        if batch is None:
            messages.warning(request, _("None of your batches has participants yet, so there is nothing to preview."))
            return redirect("certificates:layout_edit")
    try:
        pdf = services.certificate_preview(actor=request.user, batch=batch)
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
        return redirect("certificates:layout_edit")
    return _inline_pdf(pdf, "pratinjau-tata-letak-sertifikat.pdf")


# ------------------------------------------------------------------------------- participant download


def _nik_key(nik: str) -> str:
    """The throttle counts per NIK under a keyed hash, so no NIK is written to the cache."""
    return hmac.new(settings.SECRET_KEY.encode(), nik.encode(), hashlib.sha256).hexdigest()[:32]


def _wrong_pairs_blocked(request, nik: str = "") -> bool:
    """Whether this address, or this device for this NIK, is over its limit of wrong pairs (nothing counted).
    Never per NIK alone: a stranger's wrong codes for someone's NIK do not keep the owner out."""
    if throttle.DOWNLOAD_WRONG_PAIRS_BY_ADDRESS.blocked(request):
        return True
    return bool(nik) and throttle.DOWNLOAD_WRONG_PAIRS_BY_CLIENT.blocked(request, _nik_key(nik))


def _count_wrong_pair(request, nik: str) -> bool:
    """Counts a wrong pair for the address and for the (NIK, device) pair; whether either is now over."""
    by_address = throttle.DOWNLOAD_WRONG_PAIRS_BY_ADDRESS.count(request)
    by_client = throttle.DOWNLOAD_WRONG_PAIRS_BY_CLIENT.count(request, _nik_key(nik))
    return by_address or by_client


def _participant_certificates(person_id):
    return (
        Certificate.objects.filter(enrollment__person_id=person_id, revoked_at__isnull=True)
        .exclude(pdf="")
        .select_related("enrollment__batch__program", "organiser")
        .order_by("-issued_at")
    )


def _participant_page(request, template: str, context: dict | None = None, status: int = 200):
    """Every answer of the download page gives the browser its device id (see config/throttle.py)."""
    response = render(request, template, context, status=status)
    return throttle.remember_device(request, response, path=reverse("certificates:participant_download"))


@sensitive_post_parameters("nik", "access_code")
@never_cache
@require_http_methods(["GET", "POST"])
def participant_download(request):
    """A participant's own certificates, after their NIK and personal access code. Only wrong pairs are
    counted, per address and per (NIK, device): a right pair from a device and address that are not themselves
    throttled always goes through. With the throttle's cache down the page refuses pairs with the 503 page
    (config/throttle.py says why). The NIK is never put in a URL, the session or a log: the session keeps the
    person's id."""
    person_id = request.session.get(PARTICIPANT_SESSION_KEY)
    form = ParticipantAccessForm()
    if request.method == "POST":
        if "forget" in request.POST:
            request.session.pop(PARTICIPANT_SESSION_KEY, None)
            return redirect("certificates:participant_download")
        form = ParticipantAccessForm(request.POST)
        nik = form.cleaned_data["nik"] if form.is_valid() else ""
        if _wrong_pairs_blocked(request, nik):
            return _participant_page(request, "certificates/participant_throttled.html", status=429)
        if form.is_valid():
            enrollment = (
                Enrollment.objects.filter(person__nik=nik, access_code=form.cleaned_data["access_code"])
                .only("person_id")
                .first()
            )
            if enrollment is None:
                if _count_wrong_pair(request, nik):
                    return _participant_page(request, "certificates/participant_throttled.html", status=429)
                # The same answer whichever of the two is wrong.
                form.add_error(None, _("NIK or access code does not match."))
            else:
                request.session.cycle_key()
                request.session[PARTICIPANT_SESSION_KEY] = enrollment.person_id
                if not request.user.is_authenticated:
                    request.session.set_expiry(PARTICIPANT_SESSION_SECONDS)
                return redirect("certificates:participant_download")
    certificates = list(_participant_certificates(person_id)) if person_id else None
    return _participant_page(
        request, "certificates/participant_download.html", {"form": form, "certificates": certificates}
    )


@never_cache
@require_GET
def participant_certificate(request, pk):
    person_id = request.session.get(PARTICIPANT_SESSION_KEY)
    if not person_id:
        return redirect(reverse("certificates:participant_download"))
    certificate = get_object_or_404(_participant_certificates(person_id), pk=pk)
    return _stored_file(certificate.pdf.name, certificate_filename(certificate))
