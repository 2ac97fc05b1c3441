"""factory_boy factories shared by the whole suite. Regions and pillar types come from the shipped
reference data (loaded by migrations), so factories look them up instead of inventing them."""

from datetime import date, time

import factory
from factory.django import DjangoModelFactory

from accounts.models import Role, User
from pillars.models import Organiser, PillarType, Region
from trainings.models import Batch, Facilitator, Module, Program, Session

PASSWORD = "sinergi-test-pass"


def region(code: str) -> Region:
    return Region.objects.get(code=code)


def pillar(code: str) -> PillarType:
    return PillarType.objects.get(code=code)


class OrganiserFactory(DjangoModelFactory):
    class Meta:
        model = Organiser
        django_get_or_create = ("code",)

    name = factory.Sequence(lambda n: f"UPT Pelatihan {n}")
    code = factory.Sequence(lambda n: f"ORG{n}")
    city = "Malang"
    address = "Jl. Raya Sengkaling No. 1, Malang"
    head_name = "Kepala UPT"
    head_nip = "197001011995031001"


class UserFactory(DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.Sequence(lambda n: f"Pengguna {n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.org")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class StaffFactory(UserFactory):
    role = Role.STAFF
    organiser = factory.SubFactory(OrganiserFactory)


class OperatorFactory(UserFactory):
    role = Role.OPERATOR
    kabupaten = factory.LazyFunction(lambda: region("35.12"))


class FacilitatorFactory(DjangoModelFactory):
    class Meta:
        model = Facilitator

    organiser = factory.SubFactory(OrganiserFactory)
    name = factory.Sequence(lambda n: f"Widyaiswara {n}")
    institution = "UPT PTKS Malang"
    kind = Facilitator.Kind.WIDYAISWARA


class FacilitatorUserFactory(UserFactory):
    """A facilitator account linked to a new facilitator record of `organiser`."""

    role = Role.FACILITATOR

    @factory.post_generation
    def record(obj, create, extracted, **kwargs):
        if create:
            FacilitatorFactory(user=obj, organiser=kwargs.get("organiser") or obj.organiser or OrganiserFactory())


class ProgramFactory(DjangoModelFactory):
    class Meta:
        model = Program

    organiser = factory.SubFactory(OrganiserFactory)
    title = factory.Sequence(lambda n: f"Pelatihan Sinergitas Pilar Sosial {n}")


class ModuleFactory(DjangoModelFactory):
    class Meta:
        model = Module

    program = factory.SubFactory(ProgramFactory)
    order = factory.Sequence(lambda n: n + 1)
    title = factory.Sequence(lambda n: f"Materi {n}")
    jp = 2


class BatchFactory(DjangoModelFactory):
    class Meta:
        model = Batch

    organiser = factory.SubFactory(OrganiserFactory)
    program = factory.SubFactory(ProgramFactory, organiser=factory.SelfAttribute("..organiser"))
    name = factory.Sequence(lambda n: f"Angkatan {n}")
    start_date = date(2025, 10, 13)
    end_date = date(2025, 10, 16)
    venue = "UPT PTKS Malang"
    quota_total = 40


class SessionFactory(DjangoModelFactory):
    class Meta:
        model = Session

    batch = factory.SubFactory(BatchFactory)
    date = factory.SelfAttribute("batch.start_date")
    start_time = time(8, 0)
    end_time = time(9, 30)
    kind = Session.Kind.MATERI
    module = factory.SubFactory(ModuleFactory, program=factory.SelfAttribute("..batch.program"))
    jp = 2
