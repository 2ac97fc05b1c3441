"""HTML/CSS templates to PDF with WeasyPrint. Pure functions of the data they are given: they read no rows and
write no files, so the services decide what is rendered when, and the benchmark measures the same path.

Certificates are rendered a chunk at a time as one document (one page each) and split per participant with
pypdf; the back page, the same for every certificate of a batch, is rendered once and appended to each."""

import base64
import io
import mimetypes
from dataclasses import dataclass, field

import segno
from django.template.loader import render_to_string
from django.utils import translation
from pypdf import PdfReader, PdfWriter
from weasyprint import HTML
from weasyprint.text.fonts import FontConfiguration

# One font configuration per process: WeasyPrint caches the fonts it found in it.
_FONTS = None


def _font_config() -> FontConfiguration:
    global _FONTS  # noqa: PLW0603 - a per-process cache
    if _FONTS is None:
        _FONTS = FontConfiguration()
    return _FONTS


def html_to_pdf(html: str) -> bytes:
    return HTML(string=html, base_url=None).write_pdf(font_config=_font_config())


def file_data_uri(field_file) -> str:
    """An uploaded image as a data: URI, so the PDF needs no URL and works with any storage backend."""
    if not field_file:
        return ""
    mime = mimetypes.guess_type(field_file.name)[0] or "image/png"
    with field_file.open("rb") as handle:
        data = handle.read()
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def qr_svg(url: str) -> str:
    """The verification URL as an inline SVG QR code: vector, small, and the fastest to render."""
    return segno.make(url, error="m", micro=False).svg_inline(scale=1, border=0, omitsize=True)


@dataclass
class CertificateLook:
    """The organiser's layout with its defaults filled in, and its images as data URIs."""

    orientation: str
    primary_colour: str
    accent_colour: str
    logo: str
    background: str
    signature: str
    signatory_name: str
    signatory_title: str
    signatory_nip: str
    issue_place: str
    result_text: str
    show_facilitators: bool


@dataclass
class CertificateBatch:
    """What every certificate of a batch shares."""

    organiser_name: str
    organiser_address: str
    program_title: str
    batch_name: str
    dates: str
    venue: str
    total_jp: int
    curriculum: list[tuple[str, int]]
    facilitators: list[str]
    look: CertificateLook


@dataclass
class CertificateEntry:
    """One certificate's own facts."""

    number: str
    verification_url: str
    full_name: str
    birth: str  # "Situbondo, 17 Agustus 1985"
    pillar: str
    origin: str  # "Kabupaten Situbondo" or an instansi
    issued: str  # "Malang, 16 Oktober 2025"
    preview: bool = False
    qr: str = field(default="", repr=False)


def _language():
    from django.conf import settings

    return translation.override(settings.LANGUAGE_CODE)


def certificate_fronts_html(batch: CertificateBatch, entries: list[CertificateEntry]) -> str:
    for entry in entries:
        entry.qr = entry.qr or qr_svg(entry.verification_url)
    with _language():
        return render_to_string("certificates/pdf/certificate_front.html", {"batch": batch, "entries": entries})


def certificate_back_html(batch: CertificateBatch) -> str:
    with _language():
        return render_to_string("certificates/pdf/certificate_back.html", {"batch": batch})


class PageCountError(RuntimeError):
    """A certificate's front did not fit on exactly one page."""


def render_certificates(batch: CertificateBatch, entries: list[CertificateEntry], back_pdf: bytes) -> list[bytes]:
    """One PDF per entry (front, then the batch's back page), from a single WeasyPrint document."""
    if not entries:
        return []
    fronts = PdfReader(io.BytesIO(html_to_pdf(certificate_fronts_html(batch, entries))))
    if len(fronts.pages) != len(entries):
        raise PageCountError(f"{len(entries)} certificates gave {len(fronts.pages)} pages")
    back = PdfReader(io.BytesIO(back_pdf))
    files = []
    for page in fronts.pages:
        writer = PdfWriter()
        writer.add_page(page)
        for back_page in back.pages:
            writer.add_page(back_page)
        buffer = io.BytesIO()
        writer.write(buffer)
        files.append(buffer.getvalue())
    return files


def render_certificate_back(batch: CertificateBatch) -> bytes:
    return html_to_pdf(certificate_back_html(batch))


def render_certificate_naive(batch: CertificateBatch, entry: CertificateEntry) -> bytes:
    """Front and back as a document of its own, as a one-at-a-time renderer would; for comparison only."""
    entry.qr = qr_svg(entry.verification_url)
    with _language():
        html = render_to_string("certificates/pdf/certificate_single.html", {"batch": batch, "entries": [entry]})
    return html_to_pdf(html)


def merge_pdfs(files) -> bytes:
    """Several PDFs (bytes or readable files) as one, for printing."""
    writer = PdfWriter()
    for item in files:
        writer.append(io.BytesIO(item) if isinstance(item, bytes) else item)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def render_attendance_sheets(sheets: list[dict]) -> bytes:
    """Attendance sheets (daftar hadir) as one document; each sheet starts on a new page."""
    with _language():
        return html_to_pdf(render_to_string("certificates/pdf/attendance_sheet.html", {"sheets": sheets}))
