"""The account pages of organiser staff: list, create operator and facilitator accounts, one-time
set-password links, e-mailing them, and switching accounts off."""

from urllib.parse import urlparse

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import Role, User
from tests.factories import region

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "Tagana-Situbondo-2025"


@pytest.fixture
def staff_client(client, world):
    client.force_login(world.staff)
    return client


def create_operator(client, **overrides):
    data = {
        "kabupaten": region("35.12").pk,
        "full_name": "Siti Aminah",
        "username": "siti.situbondo",
        "email": "siti@dinsos.situbondokab.go.id",
        "phone": "0812 3456 7890",
        **overrides,
    }
    return client.post(reverse("accounts:account_create_operator"), data)


def set_password_with(url, password=NEW_PASSWORD):
    """Follow a set-password link in a fresh browser and choose a password; returns the final response."""
    browser = Client()
    response = browser.get(urlparse(url).path, follow=True)
    assert response.context["validlink"] is True
    return browser.post(response.redirect_chain[-1][0], {"new_password1": password, "new_password2": password})


def test_list_shows_own_operator_and_facilitator_accounts_only(staff_client, world):
    response = staff_client.get(reverse("accounts:account_list"))
    assert response.status_code == 200
    usernames = {account.username for account in response.context["accounts"]}
    assert usernames == {"dinsos.situbondo", "widya.upt"}
    content = response.content.decode()
    assert "Kabupaten Situbondo" in content
    assert world.facilitator_user.facilitator.name in content


def test_list_filters_by_role_and_search(staff_client, world):
    response = staff_client.get(reverse("accounts:account_list"), {"role": Role.FACILITATOR})
    assert [a.username for a in response.context["accounts"]] == ["widya.upt"]
    response = staff_client.get(reverse("accounts:account_list"), {"q": "situbondo"})
    assert [a.username for a in response.context["accounts"]] == ["dinsos.situbondo"]


def test_list_runs_a_fixed_number_of_queries(staff_client, world, django_assert_max_num_queries):
    from tests.factories import FacilitatorUserFactory, OperatorFactory

    for number in range(10):
        OperatorFactory(username=f"operator{number}", organiser=world.upt)
        FacilitatorUserFactory(username=f"widya{number}", organiser=world.upt)
    with django_assert_max_num_queries(8):
        response = staff_client.get(reverse("accounts:account_list"))
    assert len(response.context["accounts"]) == 22


def test_create_operator_page_offers_regencies_ordered_by_code(staff_client):
    response = staff_client.get(reverse("accounts:account_create_operator"))
    assert response.status_code == 200
    codes = [r.code for r in response.context["form"].fields["kabupaten"].queryset]
    assert codes == sorted(codes)
    assert "35.12" in codes and "35.25" in codes
    assert all(code.count(".") == 1 for code in codes)


def test_staff_creates_an_operator_and_the_link_works_once(staff_client, world, settings):
    settings.EMAIL_ENABLED = False
    response = create_operator(staff_client)
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    account = User.objects.get(username="siti.situbondo")
    assert account.role == Role.OPERATOR
    assert account.organiser == world.upt
    assert account.kabupaten == region("35.12")
    assert account.get_full_name() == "Siti Aminah"
    assert not account.has_usable_password()
    url = response.context["url"]
    assert url.startswith("http://testserver/akun/atur-sandi/")
    assert url in response.content.decode()
    assert response.context["emailed"] is False

    done = set_password_with(url)
    assert done.status_code == 302
    assert done["Location"] == reverse("accounts:password_reset_complete")

    browser = Client()
    login = browser.post(reverse("accounts:login"), {"username": "siti.situbondo", "password": NEW_PASSWORD})
    assert login.status_code == 302
    assert int(browser.session["_auth_user_id"]) == account.pk

    again = Client().get(urlparse(url).path, follow=True)
    assert again.status_code == 200
    assert again.context["validlink"] is False


def test_link_is_emailed_when_email_is_enabled(staff_client, settings, mailoutbox):
    settings.EMAIL_ENABLED = True
    response = create_operator(staff_client)
    assert response.context["emailed"] is True
    assert len(mailoutbox) == 1
    message = mailoutbox[0]
    assert message.to == ["siti@dinsos.situbondokab.go.id"]
    assert response.context["url"] in message.body
    assert "siti.situbondo" in message.body
    assert "siti@dinsos.situbondokab.go.id" in response.content.decode()


def test_no_email_without_address_or_when_disabled(staff_client, settings, mailoutbox):
    settings.EMAIL_ENABLED = True
    response = create_operator(staff_client, email="")
    assert response.context["emailed"] is False
    settings.EMAIL_ENABLED = False
    response = create_operator(staff_client, username="kedua", email="kedua@example.org")
    assert response.context["emailed"] is False
    assert mailoutbox == []


def test_form_keeps_input_and_shows_errors_next_to_fields(staff_client, world):
    response = create_operator(staff_client, username="DINSOS.Situbondo")  # taken, whatever the case
    assert response.status_code == 200
    form = response.context["form"]
    assert "username" in form.errors
    content = response.content.decode()
    assert 'value="Siti Aminah"' in content
    assert 'value="0812 3456 7890"' in content
    assert not User.objects.filter(first_name="Siti Aminah").exists()

    # Every mistake shows at once, each next to its field.
    response = create_operator(staff_client, kabupaten=region("35.12.01").pk, phone="abc", username="staf.lain")
    form = response.context["form"]
    assert set(form.errors) == {"kabupaten", "phone", "username"}  # a kecamatan is not among the choices


def test_staff_creates_a_facilitator_account(staff_client, world, settings):
    settings.EMAIL_ENABLED = False
    page = staff_client.get(reverse("accounts:account_create_facilitator"))
    choices = list(page.context["form"].fields["facilitator"].queryset)
    assert choices == [world.free_facilitator]  # not linked ones, not another organiser's

    response = staff_client.post(
        reverse("accounts:account_create_facilitator"),
        {"facilitator": world.free_facilitator.pk, "username": "sri.wahyuni", "email": ""},
    )
    assert response.status_code == 200
    account = User.objects.get(username="sri.wahyuni")
    world.free_facilitator.refresh_from_db()
    assert world.free_facilitator.user == account
    assert account.role == Role.FACILITATOR
    assert account.organiser == world.upt
    assert account.get_full_name() == "Dra. Sri Wahyuni"
    assert set_password_with(response.context["url"]).status_code == 302


def test_facilitator_of_another_organiser_cannot_be_chosen(staff_client, world):
    response = staff_client.post(
        reverse("accounts:account_create_facilitator"),
        {"facilitator": world.other_free_facilitator.pk, "username": "budi", "email": ""},
    )
    assert response.status_code == 200
    assert "facilitator" in response.context["form"].errors
    assert not User.objects.filter(username="budi").exists()


def test_a_new_link_revokes_the_earlier_one(staff_client, world, settings):
    settings.EMAIL_ENABLED = False
    first = create_operator(staff_client).context["url"]
    account = User.objects.get(username="siti.situbondo")
    response = staff_client.post(reverse("accounts:account_link", args=[account.pk]))
    assert response.status_code == 200
    second = response.context["url"]
    assert second != first
    assert response.context["created"] is False
    assert Client().get(urlparse(first).path, follow=True).context["validlink"] is False
    assert set_password_with(second).status_code == 302


def test_a_link_for_an_account_with_a_password_lets_it_set_a_new_one(staff_client, world):
    response = staff_client.post(reverse("accounts:account_link", args=[world.operator.pk]))
    assert set_password_with(response.context["url"]).status_code == 302
    world.operator.refresh_from_db()
    assert world.operator.check_password(NEW_PASSWORD)


def test_deactivate_and_activate_again(staff_client, world):
    url = reverse("accounts:account_deactivate", args=[world.operator.pk])
    response = staff_client.post(url)
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:account_list")
    world.operator.refresh_from_db()
    assert world.operator.is_active is False

    # A deactivated account is logged out and cannot log in; no link is issued for it.
    assert (
        Client()
        .post(reverse("accounts:login"), {"username": "dinsos.situbondo", "password": "sinergi-test-pass"})
        .status_code
        == 200
    )
    response = staff_client.post(reverse("accounts:account_link", args=[world.operator.pk]), follow=True)
    assert response.redirect_chain[-1][0] == reverse("accounts:account_list")
    assert "tidak aktif" in str(list(response.context["messages"])[-1])

    staff_client.post(url)
    world.operator.refresh_from_db()
    assert world.operator.is_active is True


def test_deactivated_user_loses_an_open_session(client, world):
    client.force_login(world.operator)
    world.operator.is_active = False
    world.operator.save()
    response = client.get(reverse("accounts:password_change"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))
