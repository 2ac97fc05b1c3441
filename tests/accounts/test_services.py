"""The account services and the rules they enforce."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from accounts import services
from accounts.models import Role, User
from tests.factories import FacilitatorFactory, region

pytestmark = pytest.mark.django_db


def operator_kwargs(world, **overrides):
    return {
        "created_by": world.staff,
        "username": "operator.baru",
        "full_name": "  Ahmad   Fauzi ",
        "email": "",
        "phone": "",
        "kabupaten": region("35.25"),
        **overrides,
    }


def errors_of(excinfo) -> dict:
    return excinfo.value.message_dict


def test_create_operator(world):
    user = services.account_create_operator(**operator_kwargs(world, email="ahmad@EXAMPLE.org"))
    assert user.role == Role.OPERATOR
    assert user.organiser == world.upt
    assert user.kabupaten.code == "35.25"
    assert user.first_name == "Ahmad Fauzi"
    assert user.email == "ahmad@example.org"
    assert not user.has_usable_password()
    assert not user.is_staff
    assert user.is_operator


@pytest.mark.parametrize("username", ["dinsos.situbondo", "DINSOS.SITUBONDO", "staf.lain"])
def test_duplicate_username_is_refused_whatever_the_case(world, username):
    with pytest.raises(ValidationError) as excinfo:
        services.account_create_operator(**operator_kwargs(world, username=username))
    assert "sudah digunakan" in errors_of(excinfo)["username"][0]


@pytest.mark.parametrize(
    ("overrides", "field", "rule"),
    [
        ({"username": ""}, "username", r"Masukkan nama pengguna\."),
        ({"username": "nama dengan spasi"}, "username", "hanya boleh mengandung karakter, angka"),
        ({"full_name": "   "}, "full_name", "Masukkan nama lengkap"),
        ({"email": "bukan-email"}, "email", "Masukkan alamat email yang valid"),
        ({"phone": "telepon"}, "phone", "Masukkan nomor telepon seperti"),
        ({"kabupaten": None}, "kabupaten", "Pilih kabupaten/kota"),
    ],
)
def test_create_operator_field_errors(world, overrides, field, rule):
    with pytest.raises(ValidationError, match=rule) as excinfo:
        services.account_create_operator(**operator_kwargs(world, **overrides))
    assert field in errors_of(excinfo)
    assert not User.objects.filter(username="operator.baru").exists()


@pytest.mark.parametrize("code", ["35", "35.12.01"])
def test_kabupaten_must_be_a_regency_or_city(world, code):
    with pytest.raises(ValidationError, match="Pilih kabupaten/kota") as excinfo:
        services.account_create_operator(**operator_kwargs(world, kabupaten=region(code)))
    assert "kabupaten" in errors_of(excinfo)


def test_several_errors_are_reported_together(world):
    with pytest.raises(ValidationError) as excinfo:
        services.account_create_operator(**operator_kwargs(world, username="", email="x", kabupaten=region("35")))
    assert set(errors_of(excinfo)) == {"username", "email", "kabupaten"}


@pytest.mark.parametrize("creator", ["operator", "facilitator_user"])
def test_only_organiser_staff_create_accounts(world, creator):
    with pytest.raises(PermissionDenied):
        services.account_create_operator(**operator_kwargs(world, created_by=getattr(world, creator)))
    with pytest.raises(PermissionDenied):
        services.account_create_facilitator(
            created_by=getattr(world, creator), facilitator=world.free_facilitator, username="x", email=""
        )


def test_create_facilitator_links_the_record(world):
    user = services.account_create_facilitator(
        created_by=world.staff, facilitator=world.free_facilitator, username="sri", email="sri@example.org"
    )
    world.free_facilitator.refresh_from_db()
    assert world.free_facilitator.user == user
    assert user.facilitator_record == world.free_facilitator
    assert user.role == Role.FACILITATOR
    assert user.organiser == world.upt
    assert user.is_facilitator


def test_facilitator_of_another_organiser_is_refused(world):
    with pytest.raises(ValidationError) as excinfo:
        services.account_create_facilitator(
            created_by=world.staff, facilitator=world.other_free_facilitator, username="budi", email=""
        )
    assert "penyelenggara lain" in errors_of(excinfo)["facilitator"][0]


def test_facilitator_already_linked_is_refused(world):
    linked = world.facilitator_user.facilitator
    with pytest.raises(ValidationError) as excinfo:
        services.account_create_facilitator(created_by=world.staff, facilitator=linked, username="dua", email="")
    assert "sudah memiliki akun" in errors_of(excinfo)["facilitator"][0]
    inactive = FacilitatorFactory(organiser=world.upt, is_active=False)
    with pytest.raises(ValidationError, match="Fasilitator ini sudah tidak aktif"):
        services.account_create_facilitator(created_by=world.staff, facilitator=inactive, username="tiga", email="")


def test_set_password_link_with_a_base_url(world):
    url = services.account_set_password_link(user=world.operator, request_or_base_url="https://sinergi.example/")
    assert url.startswith("https://sinergi.example/akun/atur-sandi/")


def test_set_password_link_defaults_to_site_url(world, settings):
    settings.SITE_URL = "https://pelatihan.example"
    url = services.account_set_password_link(user=world.operator)
    assert url.startswith("https://pelatihan.example/akun/atur-sandi/")


def test_set_password_link_refuses_inactive_and_unmanaged_accounts(world):
    world.operator.is_active = False
    with pytest.raises(ValidationError, match="Akun ini tidak aktif"):
        services.account_set_password_link(user=world.operator, request_or_base_url="https://x.example")
    with pytest.raises(ValidationError, match="hanya diterbitkan untuk akun operator dan fasilitator"):
        services.account_set_password_link(user=world.staff, request_or_base_url="https://x.example")


def test_email_is_sent_only_when_enabled_and_addressed(world, settings, mailoutbox):
    settings.EMAIL_ENABLED = False
    assert services.account_email_password_link(user=world.operator, url="https://x.example/l") is False
    settings.EMAIL_ENABLED = True
    assert services.account_email_password_link(user=world.operator, url="https://x.example/l") is True
    world.operator.email = ""
    assert services.account_email_password_link(user=world.operator, url="https://x.example/l") is False
    assert len(mailoutbox) == 1
    assert "https://x.example/l" in mailoutbox[0].body
    assert world.upt.name in mailoutbox[0].body


def test_email_failure_is_reported_not_raised(world, settings, monkeypatch):
    settings.EMAIL_ENABLED = True

    def broken(*args, **kwargs):
        raise OSError("connection refused")

    monkeypatch.setattr(services, "send_mail", broken)
    assert services.account_email_password_link(user=world.operator, url="https://x.example/l") is False


def test_set_active(world):
    user = services.account_set_active(actor=world.staff, user=world.operator, active=False)
    assert user.is_active is False
    world.operator.refresh_from_db()
    assert world.operator.is_active is False
    services.account_set_active(actor=world.staff, user=world.operator, active=True)
    world.operator.refresh_from_db()
    assert world.operator.is_active is True


@pytest.mark.parametrize(
    ("actor", "target"),
    [("other_staff", "operator"), ("staff", "other_staff"), ("operator", "facilitator_user")],
)
def test_set_active_is_scoped(world, actor, target):
    with pytest.raises(PermissionDenied):
        services.account_set_active(actor=getattr(world, actor), user=getattr(world, target), active=False)
    assert User.objects.get(pk=getattr(world, target).pk).is_active


def test_an_email_longer_than_the_column_is_refused_with_a_message(world):
    long_email = "a" * 64 + "@" + ".".join(["b" * 60] * 4) + ".id"
    assert len(long_email) > 254
    with pytest.raises(ValidationError) as excinfo:
        services.account_create_operator(**operator_kwargs(world, email=long_email))
    assert "254" in errors_of(excinfo)["email"][0]
    assert not User.objects.filter(username=operator_kwargs(world)["username"]).exists()
