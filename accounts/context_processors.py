"""Template context shared by every page: the navigation the signed-in user's role may use."""


def navigation(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "nav_is_staff": user.is_organiser_staff,
        "nav_is_operator": user.is_operator,
        "nav_is_facilitator": user.is_facilitator,
    }
