"""Language selection: Bahasa Indonesia unless the user chose another language with the switcher.

Django's LocaleMiddleware would follow the browser's Accept-Language, and many phones and office PCs in
Indonesia are set to English; the centre wants Indonesian by default, so only the cookie counts."""

from django.conf import settings
from django.utils import translation


class DefaultLanguageMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self.supported = {code for code, _name in settings.LANGUAGES}

    def __call__(self, request):
        language = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
        if language not in self.supported:
            language = settings.LANGUAGE_CODE
        translation.activate(language)
        request.LANGUAGE_CODE = language
        response = self.get_response(request)
        response.headers.setdefault("Content-Language", language)
        return response
