"""Every write to accounts goes through these functions: organiser staff create Dinsos operator and
facilitator accounts, hand out one-time set-password links and switch accounts on and off.

New accounts never get a password from the staff member: they start with an unusable password and a
set-password link (Django's password-reset token), which stops working once the password is set."""

import logging
import smtplib

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.core.validators import RegexValidator, validate_email
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from pillars.models import Region
from trainings.models import Facilitator

from .models import Role, User
from .rules import MANAGED_ROLES

logger = logging.getLogger(__name__)

phone_validator = RegexValidator(
    r"^\+?[0-9][0-9 ().\-]{5,28}$",
    gettext_lazy("Enter a phone number such as 0812 3456 7890 or +62 812 3456 7890."),
)


def _check_creator(created_by) -> None:
    if not (created_by is not None and created_by.is_authenticated and created_by.is_organiser_staff):
        raise PermissionDenied(_("Only organiser staff can create accounts."))


def account_username_clean(username: str) -> str:
    """The normalised username, or a ValidationError (keyed "username") if it is malformed or taken in any
    letter case. Forms call it too, to show the error before anything else is checked."""
    username = User.normalize_username((username or "").strip())
    if not username:
        raise ValidationError({"username": _("Enter a username.")})
    try:
        User.username_validator(username)
    except ValidationError as error:
        raise ValidationError({"username": error.messages}) from error
    if User.objects.filter(username__iexact=username).exists():
        raise ValidationError({"username": _("The username “%(username)s” is already taken.") % {"username": username}})
    return username


EMAIL_MAX_LENGTH = User._meta.get_field("email").max_length


def _clean_email(email: str) -> str:
    email = User.objects.normalize_email((email or "").strip())
    if len(email) > EMAIL_MAX_LENGTH:
        raise ValidationError(
            {"email": _("An e-mail address has at most %(max)s characters.") % {"max": EMAIL_MAX_LENGTH}}
        )
    if email:
        try:
            validate_email(email)
        except ValidationError as error:
            raise ValidationError({"email": error.messages}) from error
    return email


def _clean_phone(phone: str) -> str:
    phone = (phone or "").strip()
    if phone:
        try:
            phone_validator(phone)
        except ValidationError as error:
            raise ValidationError({"phone": error.messages}) from error
    return phone


def _split_name(full_name: str) -> tuple[str, str]:
    """Indonesian names often have one word only: keep the whole name in first_name."""
    full_name = " ".join((full_name or "").split())
    if not full_name:
        raise ValidationError({"full_name": _("Enter the full name.")})
    if len(full_name) > User._meta.get_field("first_name").max_length:
        raise ValidationError({"full_name": _("The name is too long.")})
    return full_name, ""


def _save_new_user(user: User) -> None:
    """Save a new account; a username taken at the same moment by someone else is a form error too."""
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError as error:
        raise ValidationError(
            {"username": _("The username “%(username)s” is already taken.") % {"username": user.username}}
        ) from error


@transaction.atomic
def account_create_operator(*, created_by, username: str, full_name: str, email: str, phone: str, kabupaten) -> User:
    """Create a Dinsos operator account of created_by's organiser for one kabupaten/kota."""
    _check_creator(created_by)
    errors = {}
    cleaned = {}
    for key, clean, value in (
        ("username", account_username_clean, username),
        ("full_name", _split_name, full_name),
        ("email", _clean_email, email),
        ("phone", _clean_phone, phone),
    ):
        try:
            cleaned[key] = clean(value)
        except ValidationError as error:
            errors.update(error.message_dict)
    if kabupaten is None or not isinstance(kabupaten, Region) or kabupaten.level != Region.Level.REGENCY:
        errors["kabupaten"] = [_("Choose a regency or city (kabupaten/kota).")]
    if errors:
        raise ValidationError(errors)
    first_name, last_name = cleaned["full_name"]
    user = User(
        username=cleaned["username"],
        first_name=first_name,
        last_name=last_name,
        email=cleaned["email"],
        phone=cleaned["phone"],
        role=Role.OPERATOR,
        organiser_id=created_by.organiser_id,
        kabupaten=kabupaten,
        is_staff=False,
    )
    user.set_unusable_password()
    _save_new_user(user)
    logger.info("account %s (operator) created by user %s", user.pk, created_by.pk)
    return user


@transaction.atomic
def account_create_facilitator(*, created_by, facilitator: Facilitator, username: str, email: str) -> User:
    """Create an account for a facilitator record of created_by's organiser that has none yet, and link
    the two. The record is locked so two staff members cannot link it twice."""
    _check_creator(created_by)
    errors = {}
    cleaned = {}
    for key, clean, value in (("username", account_username_clean, username), ("email", _clean_email, email)):
        try:
            cleaned[key] = clean(value)
        except ValidationError as error:
            errors.update(error.message_dict)
    if facilitator is None:
        errors["facilitator"] = [_("Choose a facilitator.")]
    else:
        facilitator = Facilitator.objects.select_for_update().get(pk=facilitator.pk)
        if facilitator.organiser_id != created_by.organiser_id:
            errors["facilitator"] = [_("This facilitator belongs to another organiser.")]
        elif facilitator.user_id is not None:
            errors["facilitator"] = [_("This facilitator already has an account.")]
        elif not facilitator.is_active:
            errors["facilitator"] = [_("This facilitator is no longer active.")]
    if errors:
        raise ValidationError(errors)
    first_name, last_name = _split_name(facilitator.name)
    user = User(
        username=cleaned["username"],
        first_name=first_name,
        last_name=last_name,
        email=cleaned["email"],
        phone=facilitator.phone,
        role=Role.FACILITATOR,
        organiser_id=created_by.organiser_id,
        is_staff=False,
    )
    user.set_unusable_password()
    _save_new_user(user)
    facilitator.user = user
    facilitator.save(update_fields=["user"])
    logger.info("account %s (facilitator %s) created by user %s", user.pk, facilitator.pk, created_by.pk)
    return user


def account_set_password_link(*, user: User, request_or_base_url=None) -> str:
    """Return an absolute one-time link with which the account's owner sets a (new) password.

    The link stops working once the password is set (the token covers the password hash) or after
    PASSWORD_RESET_TIMEOUT. For an account that has no password yet, earlier links are revoked: the
    unusable password is drawn anew, which changes the hash the earlier tokens were made from.
    `request_or_base_url` is a request (its host is used), a base URL such as "https://sinergi.example",
    or None for settings.SITE_URL."""
    if not user.is_active:
        raise ValidationError(_("This account is inactive; activate it before sending a link."))
    if user.role not in MANAGED_ROLES:
        raise ValidationError(_("Links are only issued for operator and facilitator accounts."))
    if not user.has_usable_password():
        user.set_unusable_password()
        user.save(update_fields=["password"])
    path = reverse(
        "accounts:password_reset_confirm",
        kwargs={
            "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
            "token": default_token_generator.make_token(user),
        },
    )
    if hasattr(request_or_base_url, "build_absolute_uri"):
        return request_or_base_url.build_absolute_uri(path)
    base_url = (request_or_base_url or settings.SITE_URL).rstrip("/")
    return f"{base_url}{path}"


def account_email_password_link(*, user: User, url: str) -> bool:
    """E-mail a set-password link to the account's owner when e-mail is configured and the account has
    an address. Returns whether the message went out; a mail-server failure is logged, not raised."""
    if not (settings.EMAIL_ENABLED and user.email):
        return False
    context = {
        "user": user,
        "url": url,
        "organiser": user.organiser,
        "timeout_days": max(1, settings.PASSWORD_RESET_TIMEOUT // 86400),
    }
    subject = " ".join(render_to_string("accounts/email/set_password_subject.txt", context).split())
    body = render_to_string("accounts/email/set_password_body.txt", context)
    try:
        send_mail(subject, body, None, [user.email])
    except (smtplib.SMTPException, OSError):
        logger.exception("could not e-mail the set-password link of account %s", user.pk)
        return False
    return True


@transaction.atomic
def account_set_active(*, actor, user: User, active: bool) -> User:
    """Switch an operator or facilitator account on or off. A deactivated account cannot log in (its open
    sessions end at the next request) but keeps its history and its facilitator link."""
    if not actor.has_perm("accounts.account.manage", user):
        raise PermissionDenied(_("You may not manage this account."))
    user = User.objects.select_for_update().get(pk=user.pk)
    if user.is_active != bool(active):
        user.is_active = bool(active)
        user.save(update_fields=["is_active"])
        logger.info("account %s %s by user %s", user.pk, "activated" if active else "deactivated", actor.pk)
    return user
