"""Model permissions that follow from a role, so that no permission rows have to be kept per user.

Organiser staff maintain their reference data in the Django admin (programs and their materi, facilitators,
pillar types, their organiser's details) and read batches and sessions there; what they may touch inside a
model is narrowed to their own organiser by the ModelAdmins. Object-level rules live in each app's rules.py."""

STAFF_MODEL_PERMISSIONS = {
    "pillars": {"pillartype": {"view", "add", "change"}, "organiser": {"view", "change"}, "region": {"view"}},
    "trainings": {
        "program": {"view", "add", "change"},
        "module": {"view", "add", "change", "delete"},
        "facilitator": {"view", "add", "change"},
        "batch": {"view", "change"},
        "session": {"view"},
    },
    # Read-only: nominations and enrolments change only through the review pages and their services.
    "participants": {"person": {"view"}, "nomination": {"view"}, "nominationevent": {"view"}, "enrollment": {"view"}},
}


class RolePermissionBackend:
    """Answers permission questions only: it authenticates nobody and loads no users (no get_user), so
    logins and sessions stay with Django's ModelBackend."""

    def authenticate(self, request, **credentials):
        return None

    def has_perm(self, user_obj, perm, obj=None):
        if obj is not None or not getattr(user_obj, "is_organiser_staff", False):
            return False
        app_label, _dot, codename = perm.partition(".")
        action, _underscore, model = codename.partition("_")
        return action in STAFF_MODEL_PERMISSIONS.get(app_label, {}).get(model, set())

    def has_module_perms(self, user_obj, app_label):
        return getattr(user_obj, "is_organiser_staff", False) and app_label in STAFF_MODEL_PERMISSIONS
