"""Login, logout, lockout after repeated failures, and the password pages."""

import pytest
from django.urls import reverse

from tests.factories import PASSWORD, OperatorFactory

pytestmark = pytest.mark.django_db

LOGIN = reverse("accounts:login")


def test_login_page_is_indonesian_and_mobile_ready(client):
    response = client.get(LOGIN)
    assert response.status_code == 200
    content = response.content.decode()
    # Django's own strings already have Indonesian translations: the field labels and the button.
    form = response.context["form"]
    assert form["username"].label == "Nama pengguna"
    assert form["password"].label in {"Sandi", "Kata sandi"}  # Django says "Sandi"; a project .po may override
    assert "Nama pengguna" in content
    assert response["Content-Language"] == "id"
    assert 'name="viewport"' in content
    assert "Sinergi" in content
    assert reverse("accounts:password_reset") in content


def test_login_success_redirects_to_home(client, world):
    response = client.post(LOGIN, {"username": "staf.upt", "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == reverse("home")
    assert int(client.session["_auth_user_id"]) == world.staff.pk


def test_login_respects_safe_next(client, world):
    target = reverse("accounts:account_list")
    response = client.post(LOGIN + f"?next={target}", {"username": "staf.upt", "password": PASSWORD, "next": target})
    assert response.status_code == 302
    assert response["Location"] == target


def test_login_refuses_a_wrong_password_with_a_message(client, world):
    response = client.post(LOGIN, {"username": "staf.upt", "password": "wrong"})
    assert response.status_code == 200
    assert response.context["form"].non_field_errors()
    assert "_auth_user_id" not in client.session


def test_authenticated_user_is_sent_away_from_the_login_page(client, world):
    client.force_login(world.staff)
    response = client.get(LOGIN)
    assert response.status_code == 302


def test_lockout_after_five_failures_for_that_username(client, world):
    for _attempt in range(4):
        response = client.post(LOGIN, {"username": "dinsos.situbondo", "password": "salah"})
        assert response.status_code == 200
    response = client.post(LOGIN, {"username": "dinsos.situbondo", "password": "salah"})
    assert response.status_code == 429
    assert "accounts/locked.html" in [t.name for t in response.templates]
    assert "15" in response.content.decode()

    # Even the right password is refused now ...
    response = client.post(LOGIN, {"username": "dinsos.situbondo", "password": PASSWORD})
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session
    # ... while another username from the same address still logs in.
    response = client.post(LOGIN, {"username": "staf.upt", "password": PASSWORD})
    assert response.status_code == 302


def test_successful_login_resets_the_failure_count(client, world):
    for _attempt in range(4):
        client.post(LOGIN, {"username": "dinsos.situbondo", "password": "salah"})
    assert client.post(LOGIN, {"username": "dinsos.situbondo", "password": PASSWORD}).status_code == 302
    client.post(reverse("accounts:logout"))
    for _attempt in range(4):
        assert client.post(LOGIN, {"username": "dinsos.situbondo", "password": "salah"}).status_code == 200


def test_inactive_account_cannot_log_in(client, db):
    OperatorFactory(username="nonaktif", is_active=False)
    response = client.post(LOGIN, {"username": "nonaktif", "password": PASSWORD})
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


def test_logout_is_post_only(client, world):
    client.force_login(world.staff)
    assert client.get(reverse("accounts:logout")).status_code == 405
    response = client.post(reverse("accounts:logout"))
    assert response.status_code == 302
    assert response["Location"] == LOGIN
    assert "_auth_user_id" not in client.session


def test_password_change(client, world):
    url = reverse("accounts:password_change")
    assert client.get(url).status_code == 302  # login first
    client.force_login(world.operator)
    assert client.get(url).status_code == 200
    response = client.post(
        url,
        {
            "old_password": PASSWORD,
            "new_password1": "Sinergi-Situbondo-2025",
            "new_password2": "Sinergi-Situbondo-2025",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:password_change_done")
    assert client.get(response["Location"]).status_code == 200
    world.operator.refresh_from_db()
    assert world.operator.check_password("Sinergi-Situbondo-2025")


def test_password_change_keeps_errors_next_to_fields(client, world):
    client.force_login(world.operator)
    response = client.post(
        reverse("accounts:password_change"),
        {"old_password": "salah", "new_password1": "Sinergi-2025-x", "new_password2": "Sinergi-2025-x"},
    )
    assert response.status_code == 200
    assert "old_password" in response.context["form"].errors


def test_password_reset_page_without_email_says_to_ask_staff(client, settings, db):
    settings.EMAIL_ENABLED = False
    response = client.get(reverse("accounts:password_reset"))
    assert response.status_code == 200
    assert response.context["email_enabled"] is False
    assert '<form method="post" novalidate>' not in response.content.decode()


def test_password_reset_by_email(client, settings, mailoutbox, world):
    settings.EMAIL_ENABLED = True
    response = client.post(reverse("accounts:password_reset"), {"email": world.operator.email})
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:password_reset_done")
    assert len(mailoutbox) == 1
    message = mailoutbox[0]
    assert message.to == [world.operator.email]
    assert "http://testserver/akun/atur-sandi/" in message.body
    assert "dinsos.situbondo" in message.body
    assert "&amp;" not in message.body


def test_behind_a_proxy_the_lockout_is_per_client_address(client, world, settings):
    """Behind one reverse proxy every request comes from the proxy's address; the lockout must use the client
    address the proxy forwards, or five bad guesses from anyone would lock the account for everybody."""
    settings.TRUSTED_PROXY_COUNT = 1
    # The attacker also forges an X-Forwarded-For entry of the owner's address; the proxy appends the real one.
    attacker = {"REMOTE_ADDR": "172.18.0.2", "HTTP_X_FORWARDED_FOR": "198.51.100.7, 203.0.113.9"}
    owner = {"REMOTE_ADDR": "172.18.0.2", "HTTP_X_FORWARDED_FOR": "198.51.100.7"}
    for _attempt in range(5):
        response = client.post(LOGIN, {"username": "dinsos.situbondo", "password": "salah"}, **attacker)
    assert response.status_code == 429
    response = client.post(LOGIN, {"username": "dinsos.situbondo", "password": PASSWORD}, **owner)
    assert response.status_code == 302


def test_without_a_proxy_a_forged_forwarded_header_does_not_dodge_the_lockout(client, world):
    for attempt in range(5):
        forged = {"HTTP_X_FORWARDED_FOR": f"203.0.113.{attempt}"}
        response = client.post(LOGIN, {"username": "dinsos.situbondo", "password": "salah"}, **forged)
    assert response.status_code == 429
