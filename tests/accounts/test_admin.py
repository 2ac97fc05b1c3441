"""The admin: every registered page opens, and organiser staff see only their own organiser's rows."""

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from tests.factories import (
    BatchFactory,
    FacilitatorFactory,
    ModuleFactory,
    SessionFactory,
    UserFactory,
)
from trainings.models import Batch, Program

pytestmark = pytest.mark.django_db

MODELS = [
    "accounts_user",
    "pillars_pillartype",
    "pillars_region",
    "pillars_organiser",
    "trainings_program",
    "trainings_facilitator",
    "trainings_batch",
    "trainings_session",
]


@pytest.fixture
def data(world):
    own_session = SessionFactory(batch=BatchFactory(organiser=world.upt, name="Angkatan I Situbondo"))
    other_session = SessionFactory(batch=BatchFactory(organiser=world.other, name="Angkatan Surabaya"))
    ModuleFactory(program=own_session.batch.program)
    return {"own": own_session, "other": other_session}


@pytest.fixture
def admin_staff(client, world):
    """The UPT's staff member with the model permissions a reference-data group would give."""
    codenames = [
        f"{action}_{model}"
        for model in (
            "program",
            "module",
            "facilitator",
            "batch",
            "session",
            "organiser",
            "region",
            "pillartype",
        )
        for action in ("view", "add", "change")
    ]
    world.staff.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    client.force_login(world.staff)
    return client


@pytest.mark.parametrize("model", MODELS)
def test_superuser_opens_every_changelist_and_add_page(client, world, data, model):
    client.force_login(UserFactory(username="root", is_superuser=True, is_staff=True))
    assert client.get(reverse(f"admin:{model}_changelist")).status_code == 200
    add = client.get(reverse(f"admin:{model}_add"))
    assert add.status_code == (403 if model in {"trainings_batch", "trainings_session"} else 200)


def test_superuser_opens_change_pages(client, world, data):
    client.force_login(UserFactory(username="root", is_superuser=True, is_staff=True))
    batch = data["own"].batch
    for model, obj in [
        ("trainings_batch", batch),
        ("trainings_program", batch.program),
        ("trainings_session", data["own"]),
        ("accounts_user", world.operator),
        ("pillars_organiser", world.upt),
    ]:
        assert client.get(reverse(f"admin:{model}_change", args=[obj.pk])).status_code == 200, model


@pytest.mark.parametrize(
    ("model", "own_name", "other_name"),
    [
        ("trainings_batch", "Angkatan I Situbondo", "Angkatan Surabaya"),
        ("pillars_organiser", "UPT PTKS Malang", "Dinsos Kota Surabaya"),
    ],
)
def test_staff_changelists_are_scoped(admin_staff, data, model, own_name, other_name):
    content = admin_staff.get(reverse(f"admin:{model}_changelist")).content.decode()
    assert own_name in content
    assert other_name not in content


def test_staff_sees_only_own_programs_facilitators_and_sessions(admin_staff, world, data):
    for model, own, other in [
        ("trainings_program", data["own"].batch.program, data["other"].batch.program),
        ("trainings_facilitator", world.free_facilitator, world.other_free_facilitator),
        ("trainings_session", data["own"], data["other"]),
    ]:
        response = admin_staff.get(reverse(f"admin:{model}_changelist"))
        shown = set(response.context["cl"].result_list)
        assert own in shown, model
        assert other not in shown, model
        # Another organiser's row by id: the admin says it does not exist.
        assert admin_staff.get(reverse(f"admin:{model}_change", args=[other.pk])).status_code == 302


def test_staff_organiser_choices_are_scoped(admin_staff, world):
    form = admin_staff.get(reverse("admin:trainings_program_add")).context["adminform"].form
    assert list(form.fields["organiser"].queryset) == [world.upt]
    assert form.initial["organiser"] == world.upt.pk
    form = admin_staff.get(reverse("admin:trainings_facilitator_add")).context["adminform"].form
    assert list(form.fields["organiser"].queryset) == [world.upt]


def test_staff_cannot_save_a_program_for_another_organiser(admin_staff, world):
    response = admin_staff.post(
        reverse("admin:trainings_program_add"),
        {
            "organiser": world.other.pk,
            "title": "Pelatihan Tagana",
            "pass_percent": "90",
            "is_active": "on",
            "modules-TOTAL_FORMS": "0",
            "modules-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 200
    assert "organiser" in response.context["adminform"].form.errors
    assert not Program.objects.filter(title="Pelatihan Tagana").exists()


def test_batch_admin_changes_only_notes_through_the_service(admin_staff, data):
    batch = data["own"].batch
    url = reverse("admin:trainings_batch_change", args=[batch.pk])
    response = admin_staff.post(
        url,
        {
            "notes": "Pembukaan pada hari kedua.",
            "name": "Nama lain",
            "allocations-TOTAL_FORMS": "0",
            "allocations-INITIAL_FORMS": "0",
            "day_venues-TOTAL_FORMS": "0",
            "day_venues-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    batch.refresh_from_db()
    assert batch.notes == "Pembukaan pada hari kedua."
    assert batch.name == "Angkatan I Situbondo"


def test_finished_batch_is_read_only_in_admin(admin_staff, data):
    batch = data["own"].batch
    Batch.objects.filter(pk=batch.pk).update(status=Batch.Status.FINISHED)
    response = admin_staff.get(reverse("admin:trainings_batch_change", args=[batch.pk]))
    assert response.status_code == 200
    assert response.context["has_change_permission"] is False


def test_facilitator_account_link_is_read_only_in_admin(admin_staff, world):
    facilitator = FacilitatorFactory(organiser=world.upt)
    response = admin_staff.get(reverse("admin:trainings_facilitator_change", args=[facilitator.pk]))
    assert "user" not in response.context["adminform"].form.fields


def test_staff_user_admin_is_scoped(client, world):
    world.staff.user_permissions.set(Permission.objects.filter(codename__in=["view_user", "change_user"]))
    client.force_login(world.staff)
    response = client.get(reverse("admin:accounts_user_changelist"))
    shown = {user.username for user in response.context["cl"].result_list}
    assert "dinsos.situbondo" in shown
    assert "dinsos.gresik" not in shown
    assert "staf.upt" not in shown  # staff accounts are the superusers' business
    form = client.get(reverse("admin:accounts_user_change", args=[world.operator.pk])).context["adminform"].form
    assert "is_superuser" not in form.fields
    assert "role" not in form.fields
    assert list(form.fields["organiser"].queryset) == [world.upt]


def test_organiser_staff_use_the_admin_by_their_role_alone(client, world):
    """No permission rows: the role gives staff the reference-data models, and nothing of the accounts."""
    assert not world.staff.user_permissions.exists() and not world.staff.groups.exists()
    client.force_login(world.staff)
    assert client.get(reverse("admin:trainings_program_changelist")).status_code == 200
    assert client.get(reverse("admin:trainings_program_add")).status_code == 200
    assert client.get(reverse("admin:pillars_pillartype_changelist")).status_code == 200
    assert client.get(reverse("admin:pillars_region_add")).status_code == 403
    assert client.get(reverse("admin:accounts_user_changelist")).status_code == 403


def test_operators_and_facilitators_have_no_model_permissions(world):
    for user in (world.operator, world.facilitator_user):
        assert not user.has_perm("trainings.view_program")
        assert not user.has_module_perms("trainings")
