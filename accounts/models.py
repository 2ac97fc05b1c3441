"""Users and their roles. A role decides what someone may do; its scope (organiser, kabupaten, facilitator
record) decides on which objects."""

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    STAFF = "staff", _("Organiser staff")
    OPERATOR = "operator", _("Dinsos operator")
    FACILITATOR = "facilitator", _("Facilitator")


class User(AbstractUser):
    role = models.CharField(_("role"), max_length=20, choices=Role.choices, blank=True)
    organiser = models.ForeignKey(
        "pillars.Organiser",
        models.PROTECT,
        null=True,
        blank=True,
        related_name="users",
        verbose_name=_("organiser"),
        help_text=_("The organiser a staff member works for, or that manages this account."),
    )
    kabupaten = models.ForeignKey(
        "pillars.Region",
        models.PROTECT,
        null=True,
        blank=True,
        related_name="operators",
        verbose_name=_("regency/city"),
        limit_choices_to={"level": 2},
    )
    phone = models.CharField(_("phone"), max_length=30, blank=True)

    class Meta(AbstractUser.Meta):
        verbose_name = _("user")
        verbose_name_plural = _("users")
        constraints = [
            models.CheckConstraint(
                condition=~Q(role="staff") | Q(organiser__isnull=False), name="user_staff_has_organiser"
            ),
            models.CheckConstraint(
                condition=~Q(role="operator") | Q(kabupaten__isnull=False), name="user_operator_has_kabupaten"
            ),
        ]

    @property
    def is_organiser_staff(self) -> bool:
        return self.is_active and self.role == Role.STAFF and self.organiser_id is not None

    @property
    def is_operator(self) -> bool:
        return self.is_active and self.role == Role.OPERATOR and self.kabupaten_id is not None

    @property
    def is_facilitator(self) -> bool:
        return self.is_active and self.role == Role.FACILITATOR

    @property
    def facilitator_record(self):
        """The trainings.Facilitator linked to this account, or None."""
        try:
            return self.facilitator
        except models.ObjectDoesNotExist:
            return None
