"""The certificate layout form: images checked by their content, size and pixels; the last editor recorded."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from certificates import services
from certificates.forms import MAX_IMAGE_PIXELS, LayoutForm
from certificates.models import CertificateLayout
from tests.factories import StaffFactory

pytestmark = pytest.mark.django_db


def png(width: int, height: int) -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("1", (width, height)).save(buffer, "PNG")
    return SimpleUploadedFile("logo.png", buffer.getvalue(), content_type="image/png")


def form_for(layout, **files):
    data = {
        "orientation": "portrait",
        "primary_colour": "#14532d",
        "accent_colour": "#a16207",
        "number_format": "{seq:03d}/{code}/{month}/{year}",
        "header": "PEMERINTAH PROVINSI JAWA TIMUR\nDINAS SOSIAL",
        "show_facilitators": "on",
    }
    return LayoutForm(data, files, instance=layout)


def test_a_small_file_with_a_huge_picture_is_refused():
    staff = StaffFactory()
    layout = CertificateLayout(organiser=staff.organiser)
    form = form_for(layout, logo=png(MAX_IMAGE_PIXELS + 1, 10))
    assert not form.is_valid()
    assert "logo" in form.errors


def test_saving_records_the_header_and_who_changed_the_layout():
    staff = StaffFactory()
    layout = CertificateLayout(organiser=staff.organiser)
    form = form_for(layout, logo=png(200, 200))
    assert form.is_valid(), form.errors
    saved = services.certificate_layout_update(actor=staff, layout=form.save(commit=False))
    saved.refresh_from_db()
    assert saved.header.splitlines() == ["PEMERINTAH PROVINSI JAWA TIMUR", "DINAS SOSIAL"]
    assert saved.updated_by == staff and saved.logo.name


def test_only_the_organisers_staff_change_its_layout():
    from django.core.exceptions import PermissionDenied

    layout = CertificateLayout(organiser=StaffFactory().organiser)
    with pytest.raises(PermissionDenied):
        services.certificate_layout_update(actor=StaffFactory(), layout=layout)
