"""Reference data: social-pillar types, administrative regions and the organisers that run trainings."""

from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

nip_validator = RegexValidator(r"^\d{18}$", _("NIP must be 18 digits."))
REGION_CODE_RE = r"^\d{2}(\.\d{2}(\.\d{2}(\.\d{4})?)?)?$"
region_code_validator = RegexValidator(
    REGION_CODE_RE, _("Region code must look like 35, 35.12, 35.12.01 or 35.12.01.2001.")
)


class PillarType(models.Model):
    """A kind of social pillar (PSM, TKSK, Karang Taruna, …). Staff extend the table in the admin."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=120, unique=True)
    abbreviation = models.CharField(_("abbreviation"), max_length=30, blank=True)
    description = models.TextField(_("description"), blank=True)
    sort_order = models.PositiveSmallIntegerField(_("order"), default=100)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["sort_order", "name"]
        verbose_name = _("pillar type")
        verbose_name_plural = _("pillar types")

    def __str__(self):
        return self.abbreviation or self.name


class Region(models.Model):
    """A province, kabupaten/kota or kecamatan, keyed by its Kemendagri code ("35", "35.12", "35.12.01")."""

    class Level(models.IntegerChoices):
        PROVINCE = 1, _("province")
        REGENCY = 2, _("regency/city")
        DISTRICT = 3, _("district (kecamatan)")
        VILLAGE = 4, _("village (desa/kelurahan)")

    code = models.CharField(_("code"), max_length=13, unique=True, validators=[region_code_validator])
    name = models.CharField(_("name"), max_length=120)
    level = models.PositiveSmallIntegerField(_("level"), choices=Level.choices)
    parent = models.ForeignKey(
        "self", models.PROTECT, null=True, blank=True, related_name="children", verbose_name=_("parent")
    )

    class Meta:
        ordering = ["code"]
        verbose_name = _("region")
        verbose_name_plural = _("regions")
        constraints = [
            models.CheckConstraint(
                condition=Q(level=1, parent__isnull=True) | Q(level__gt=1, parent__isnull=False),
                name="region_parent_matches_level",
            ),
        ]

    def __str__(self):
        return self.name

    @property
    def is_city(self) -> bool:
        """Kota codes run from 71 upwards; kabupaten codes below."""
        return self.level == self.Level.REGENCY and int(self.code.split(".")[1]) >= 71


class Organiser(models.Model):
    """Who runs a training (penyelenggara): UPT PTKS Malang, a provincial or kabupaten Dinsos."""

    name = models.CharField(_("name"), max_length=200)
    code = models.CharField(
        _("short code"),
        max_length=20,
        unique=True,
        validators=[RegexValidator(r"^[A-Z0-9.\-]+$", _("Use capital letters, digits, dots or dashes."))],
        help_text=_("Used in certificate numbers, e.g. UPT-PTKS."),
    )
    city = models.CharField(_("city"), max_length=80)
    address = models.TextField(_("address"), blank=True)
    phone = models.CharField(_("phone"), max_length=40, blank=True)
    email = models.EmailField(_("e-mail"), blank=True)
    region = models.ForeignKey(
        Region, models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("region")
    )
    head_name = models.CharField(
        _("head's name"), max_length=120, blank=True, help_text=_("Without academic titles, for signatures.")
    )
    head_title = models.CharField(_("head's position"), max_length=120, blank=True)
    head_nip = models.CharField(_("head's NIP"), max_length=18, blank=True, validators=[nip_validator])
    logo = models.ImageField(_("logo"), upload_to="organisers/", blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("organiser")
        verbose_name_plural = _("organisers")

    def __str__(self):
        return self.name
