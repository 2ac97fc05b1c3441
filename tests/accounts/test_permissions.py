"""Who may open which account page: a matrix of role × view, the rule itself, and scoped lookups."""

import pytest
from django.contrib.auth.models import AnonymousUser
from django.urls import reverse

from accounts.models import User
from accounts.selectors import accounts_managed_by
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

LOGIN = reverse("accounts:login")

# (view name, method, needs the target account's id)
VIEWS = [
    ("account_list", "get", False),
    ("account_create_operator", "get", False),
    ("account_create_facilitator", "get", False),
    ("account_link", "post", True),
    ("account_deactivate", "post", True),
]
ALLOWED = {
    "account_list": 200,
    "account_create_operator": 200,
    "account_create_facilitator": 200,
    "account_link": 200,
    "account_deactivate": 302,
}
EXPECTED = {
    "anonymous": {name: "login" for name, _m, _t in VIEWS},
    "staff_own": ALLOWED,
    # Another organiser's staff may use the pages, but not find the account.
    "staff_other": {**ALLOWED, "account_link": 404, "account_deactivate": 404},
    "operator": {name: 403 for name, _m, _t in VIEWS},
    "facilitator": {name: 403 for name, _m, _t in VIEWS},
}
USERS = {
    "staff_own": "staff",
    "staff_other": "other_staff",
    "operator": "operator",
    "facilitator": "facilitator_user",
}


@pytest.mark.parametrize("role", list(EXPECTED))
@pytest.mark.parametrize(("view", "method", "with_target"), VIEWS, ids=[v[0] for v in VIEWS])
def test_permission_matrix(client, world, settings, role, view, method, with_target):
    settings.EMAIL_ENABLED = False
    if role != "anonymous":
        client.force_login(getattr(world, USERS[role]))
    target = world.operator
    url = reverse(f"accounts:{view}", args=[target.pk] if with_target else [])
    response = getattr(client, method)(url)
    expected = EXPECTED[role][view]
    if expected == "login":
        assert response.status_code == 302
        assert response["Location"].startswith(LOGIN)
    else:
        assert response.status_code == expected
    target.refresh_from_db()
    assert target.is_active is (not (role == "staff_own" and view == "account_deactivate"))


@pytest.mark.parametrize("view", ["account_link", "account_deactivate"])
def test_unknown_ids_and_unmanaged_accounts_give_404(client, world, view):
    client.force_login(world.staff)
    superuser = UserFactory(username="root", is_superuser=True, is_staff=True, organiser=world.upt)
    for pk in (999_999, world.staff.pk, world.other_operator.pk, superuser.pk):
        assert client.post(reverse(f"accounts:{view}", args=[pk])).status_code == 404
    assert User.objects.filter(is_active=False).count() == 0


@pytest.mark.parametrize("view", ["account_link", "account_deactivate"])
def test_post_only_views_refuse_get(client, world, view):
    client.force_login(world.staff)
    assert client.get(reverse(f"accounts:{view}", args=[world.operator.pk])).status_code == 405


def test_rule_on_objects(world):
    perm = "accounts.account.manage"
    staff = world.staff
    assert staff.has_perm(perm)
    assert staff.has_perm(perm, world.operator)
    assert staff.has_perm(perm, world.facilitator_user)
    assert not staff.has_perm(perm, world.other_operator)
    assert not staff.has_perm(perm, world.other_staff)
    assert not staff.has_perm(perm, staff)
    colleague = UserFactory(username="rekan", role="staff", organiser=world.upt)
    assert not staff.has_perm(perm, colleague)
    assert not world.operator.has_perm(perm)
    assert not world.operator.has_perm(perm, world.facilitator_user)
    assert not world.facilitator_user.has_perm(perm)
    assert not AnonymousUser().has_perm(perm)
    staff.is_active = False
    assert not staff.has_perm(perm, world.operator)


def test_managed_queryset(world):
    assert set(accounts_managed_by(world.staff)) == {world.operator, world.facilitator_user}
    assert set(accounts_managed_by(world.other_staff)) == {world.other_operator}
    assert not accounts_managed_by(world.operator).exists()
    assert not accounts_managed_by(AnonymousUser()).exists()
