"""Fixtures of the account tests: two organisers with one account of each role, and a clean slate for axes."""

from types import SimpleNamespace

import pytest
from axes.utils import reset as axes_reset

from tests.factories import (
    FacilitatorFactory,
    FacilitatorUserFactory,
    OperatorFactory,
    OrganiserFactory,
    StaffFactory,
    region,
)


@pytest.fixture(autouse=True)
def _axes_clean_slate(db):
    """Failed-login records never leak from one test into the next."""
    axes_reset()
    yield
    axes_reset()


@pytest.fixture
def world(db):
    upt = OrganiserFactory(code="UPT-PTKS", name="UPT PTKS Malang")
    other = OrganiserFactory(code="DINSOS-SBY", name="Dinsos Kota Surabaya")
    return SimpleNamespace(
        upt=upt,
        other=other,
        staff=StaffFactory(username="staf.upt", organiser=upt, is_staff=True),
        other_staff=StaffFactory(username="staf.lain", organiser=other, is_staff=True),
        operator=OperatorFactory(username="dinsos.situbondo", organiser=upt, kabupaten=region("35.12")),
        other_operator=OperatorFactory(username="dinsos.gresik", organiser=other, kabupaten=region("35.25")),
        facilitator_user=FacilitatorUserFactory(username="widya.upt", organiser=upt),
        free_facilitator=FacilitatorFactory(organiser=upt, name="Dra. Sri Wahyuni"),
        other_free_facilitator=FacilitatorFactory(organiser=other, name="Budi Santoso"),
    )
