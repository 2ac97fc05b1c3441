"""HTML/CSS templates to PDF with WeasyPrint. Pure functions of the data they are given: they read no rows and
write no files, so the services decide what is rendered when, and the benchmark measures the same path.

A certificate's front has two layers. What every certificate of a batch shares (letterhead, title, the training,
the signatory, the frame and images) is rendered once per batch; the participant's own facts (number, name,
birth, pillar and origin, date of issue, verification address) are rendered a chunk at a time as one WeasyPrint
document, one page each, and pikepdf (qpdf) lays the shared page under each one as a form XObject and appends
the back page, also rendered once per batch. Each fact has a fixed box on the page (FRONT_BOXES), so the layers
never collide. The QR code is vector: segno's modules drawn as filled rectangles straight into each page's
content stream, in the box the template leaves for it. Laying out text is what costs in WeasyPrint: a layer of
seven lines renders about twice as fast as the whole front."""

import base64
import io
import mimetypes
from dataclasses import dataclass

import pikepdf
import pydyf
import segno
from django.template.loader import render_to_string
from django.utils import translation
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
QR_BOXES = {"portrait": {"left": 24, "bottom": 30, "size": 28}, "landscape": {"left": 24, "bottom": 20, "size": 28}}
# The top edge (mm from the page's top) of each block of the front, and the fixed heights of the name's box and
# of the logo; the shared layer and the participant's layer both follow them.
FRONT_BOXES = {
    "portrait": {
        "page_height": 296,
        "head": 20,
        "head_height": 50,
        "logo": 20,
        "titles": 74,
        "number": 95,
        "given": 104,
        "name": 111,
        "name_height": 22,
        "id": 134,
        "course": 162,
        "issued": 226,
        "sign": 232,
    },
    "landscape": {
        "page_height": 209,
        "head": 13,
        "head_height": 29,
        "logo": 12,
        "titles": 43,
        "number": 63,
        "given": 68,
        "name": 74,
        "name_height": 18,
        "id": 92,
        "course": 113,
        "issued": 152,
        "sign": 158,
    },
}
QR_BORDER = 2  # modules of white around the code, inside the box


def qr_matrix(url: str) -> tuple:
    """The QR code's modules (rows of 0/1). A fixed mask saves segno trying all eight; any mask is valid."""
    return segno.make(url, error="m", micro=False, mask=4, boost_error=False).matrix


def _qr_stream(matrix, box: dict) -> pydyf.Stream:
    """Filled rectangles, one per run of dark modules in a row, in PDF points from the page's bottom-left."""
    n = len(matrix) + 2 * QR_BORDER
    module = box["size"] * MM / n
    left, top = box["left"] * MM, (box["bottom"] + box["size"]) * MM
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


def _draw_qr_codes(matrices, box: dict):
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
            stream = _qr_stream(matrix, box)
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

    @property
    def name_size(self) -> str:
        """Long names get a smaller type, so that they stay within the name's box."""
        length = len(self.full_name)
        return "" if length <= 30 else "long" if length <= 50 else "longer"


def _language():
    from django.conf import settings

    return translation.override(settings.LANGUAGE_CODE)


def _context(batch: CertificateBatch, **extra) -> dict:
    orientation = batch.look.orientation
    return {"batch": batch, "box": FRONT_BOXES[orientation], "qr": QR_BOXES[orientation], **extra}


def certificate_fronts_html(batch: CertificateBatch, entries: list[CertificateEntry], part: str = "full") -> str:
    """The fronts of `entries`, one page each: `part` "variable" (the participants' layer), "static" (the shared
    layer, one page, entries unused) or "full" (both)."""
    with _language():
        return render_to_string("certificates/pdf/certificate_front.html", _context(batch, entries=entries, part=part))


def certificate_back_html(batch: CertificateBatch) -> str:
    with _language():
        return render_to_string("certificates/pdf/certificate_back.html", _context(batch))


class PageCountError(RuntimeError):
    """A certificate's layer did not fit on exactly one page."""


def render_certificate_static(batch: CertificateBatch) -> bytes:
    """The layer every front of the batch shares."""
    return html_to_pdf(certificate_fronts_html(batch, [], part="static"))


def render_certificate_back(batch: CertificateBatch) -> bytes:
    return html_to_pdf(certificate_back_html(batch))


def render_certificates(
    batch: CertificateBatch, entries: list[CertificateEntry], *, static_pdf: bytes, back_pdf: bytes
) -> list[bytes]:
    """One PDF per entry (its front over the batch's shared layer, then the back page), from a single WeasyPrint
    document for the whole chunk."""
    if not entries:
        return []
    matrices = [qr_matrix(entry.verification_url) for entry in entries]
    html = certificate_fronts_html(batch, entries, part="variable")
    fronts_pdf = html_to_pdf(html, _draw_qr_codes(matrices, QR_BOXES[batch.look.orientation]))
    files = []
    with (
        pikepdf.open(io.BytesIO(fronts_pdf)) as fronts,
        pikepdf.open(io.BytesIO(static_pdf)) as static,
        pikepdf.open(io.BytesIO(back_pdf)) as back,
    ):
        if len(fronts.pages) != len(entries):
            raise PageCountError(f"{len(entries)} certificates gave {len(fronts.pages)} pages")
        shared = static.pages[0].as_form_xobject()
        for page in fronts.pages:
            with pikepdf.new() as single:
                single.pages.append(page)
                single.pages[0].add_underlay(single.copy_foreign(shared))
                single.pages.extend(back.pages)
                buffer = io.BytesIO()
                single.save(buffer)
            files.append(buffer.getvalue())
    return files


def render_certificate_naive(batch: CertificateBatch, entry: CertificateEntry) -> bytes:
    """Front and back as a document of its own, as a one-at-a-time renderer would; for comparison only."""
    with _language():
        html = render_to_string(
            "certificates/pdf/certificate_single.html", _context(batch, entries=[entry], part="full")
        )
    return html_to_pdf(html, _draw_qr_codes([qr_matrix(entry.verification_url)], QR_BOXES[batch.look.orientation]))


def merge_pdfs(files) -> bytes:
    """Several PDFs (bytes or readable binary files) as one, for printing."""
    sources = []
    try:
        with pikepdf.new() as merged:
            for item in files:
                source = pikepdf.open(io.BytesIO(item if isinstance(item, bytes) else item.read()))
                sources.append(source)
                merged.pages.extend(source.pages)
            buffer = io.BytesIO()
            merged.save(buffer)
            return buffer.getvalue()
    finally:
        for source in sources:
            source.close()


def render_attendance_sheets(sheets: list[dict]) -> bytes:
    """Attendance sheets (daftar hadir) from `certificates.sheets.attendance_sheets()` as one document for
    printing; each sheet starts on a new page and keeps its own page numbers."""
    from .sheets import render_attendance_sheet  # sheets builds on this module

    return merge_pdfs([render_attendance_sheet(sheet) for sheet in sheets])
