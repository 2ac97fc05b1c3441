"""HTML/CSS templates to PDF with WeasyPrint. Pure functions of the data they are given: they read no rows and
write no files, so the services decide what is rendered when, and the benchmark measures the same path.

Certificates are rendered a chunk at a time as one document (one page each) and split per participant with
pypdf; the back page, the same for every certificate of a batch, is rendered once and appended to each. The QR
code is vector: segno's modules drawn as filled rectangles straight into each page's content stream, in the box
the template leaves for it (laying out an SVG path took WeasyPrint a third of a certificate's time)."""

import base64
import io
import mimetypes
from dataclasses import dataclass

import pydyf
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


def html_to_pdf(html: str, finisher=None) -> bytes:
    return HTML(string=html, base_url=None).write_pdf(font_config=_font_config(), finisher=finisher)


def file_data_uri(field_file) -> str:
    """An uploaded image as a data: URI, so the PDF needs no URL and works with any storage backend."""
    if not field_file:
        return ""
    mime = mimetypes.guess_type(field_file.name)[0] or "image/png"
    with field_file.open("rb") as handle:
        data = handle.read()
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


MM = 72 / 25.4  # PDF points per millimetre
# Where the QR code goes on a certificate's front, in mm from the page's bottom-left corner; the template leaves
# this box empty and prints the verification address under it.
QR_BOX = {"left": 24, "bottom": 30, "size": 28}
QR_BORDER = 2  # modules of white around the code, inside the box


def qr_matrix(url: str) -> tuple:
    """The QR code's modules (rows of 0/1). A fixed mask saves segno trying all eight; any mask is valid."""
    return segno.make(url, error="m", micro=False, mask=4, boost_error=False).matrix


def _qr_stream(matrix) -> pydyf.Stream:
    """Filled rectangles, one per run of dark modules in a row, in PDF points from the page's bottom-left."""
    n = len(matrix) + 2 * QR_BORDER
    module = QR_BOX["size"] * MM / n
    left, top = QR_BOX["left"] * MM, (QR_BOX["bottom"] + QR_BOX["size"]) * MM
    # A hair taller than a module, so that no seam shows between rows.
    height = module + 0.02
    ops = ["q 0 0 0 rg"]
    for r, row in enumerate(matrix):
        y = top - (QR_BORDER + r + 1) * module - 0.01
        c, width = 0, len(row)
        while c < width:
            if row[c]:
                start = c
                while c < width and row[c]:
                    c += 1
                x = left + (QR_BORDER + start) * module
                ops.append(f"{x:.2f} {y:.2f} {(c - start) * module:.2f} {height:.2f} re")
            else:
                c += 1
    ops.append("f Q")
    return pydyf.Stream(["\n".join(ops)], compress=True)


def _draw_qr_codes(matrices):
    """A WeasyPrint finisher: adds QR code i to page i. WeasyPrint's own content is wrapped in q … Q so that
    whatever transformation it leaves in force does not move the code."""

    def finisher(document, pdf):
        save, restore = pydyf.Stream(), pydyf.Stream()
        save.push_state()
        restore.pop_state()
        pdf.add_object(save)
        pdf.add_object(restore)
        numbers = pdf.pages["Kids"][::3]  # the page tree lists "number 0 R" triplets
        for number, matrix in zip(numbers, matrices, strict=False):
            page = pdf.objects[number]
            stream = _qr_stream(matrix)
            pdf.add_object(stream)
            page["Contents"] = pydyf.Array([save.reference, page["Contents"], restore.reference, stream.reference])

    return finisher


@dataclass
class CertificateLook:
    """The organiser's layout with its defaults filled in, and its images as data URIs."""

    orientation: str
    header: list[str]
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


def _language():
    from django.conf import settings

    return translation.override(settings.LANGUAGE_CODE)


def certificate_fronts_html(batch: CertificateBatch, entries: list[CertificateEntry]) -> str:
    with _language():
        return render_to_string(
            "certificates/pdf/certificate_front.html", {"batch": batch, "entries": entries, "qr": QR_BOX}
        )


def certificate_back_html(batch: CertificateBatch) -> str:
    with _language():
        return render_to_string("certificates/pdf/certificate_back.html", {"batch": batch, "qr": QR_BOX})


class PageCountError(RuntimeError):
    """A certificate's front did not fit on exactly one page."""


def render_certificates(batch: CertificateBatch, entries: list[CertificateEntry], back_pdf: bytes) -> list[bytes]:
    """One PDF per entry (front, then the batch's back page), from a single WeasyPrint document."""
    if not entries:
        return []
    matrices = [qr_matrix(entry.verification_url) for entry in entries]
    fronts = PdfReader(io.BytesIO(html_to_pdf(certificate_fronts_html(batch, entries), _draw_qr_codes(matrices))))
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
    with _language():
        html = render_to_string(
            "certificates/pdf/certificate_single.html", {"batch": batch, "entries": [entry], "qr": QR_BOX}
        )
    return html_to_pdf(html, _draw_qr_codes([qr_matrix(entry.verification_url)]))


def merge_pdfs(files) -> bytes:
    """Several PDFs (bytes or readable files) as one, for printing."""
    writer = PdfWriter()
    for item in files:
        writer.append(io.BytesIO(item) if isinstance(item, bytes) else item)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def render_attendance_sheets(sheets: list[dict]) -> bytes:
    """Attendance sheets (daftar hadir) from `certificates.sheets.attendance_sheets()` as one document for
    printing; each sheet starts on a new page and keeps its own page numbers."""
    from .sheets import render_attendance_sheet  # sheets builds on this module

    return merge_pdfs([render_attendance_sheet(sheet) for sheet in sheets])
