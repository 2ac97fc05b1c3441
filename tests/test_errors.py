"""The error pages, with DEBUG off as in production: 400, 403, 404, 500, the CSRF failure and the 503 of an
outage are the site's own Indonesian pages in its layout, never Django's bare English text; the 500 and 503
pages render with the database unreachable."""

import pytest
from django.test import Client, override_settings
from django.urls import path

import config.urls
from tests.factories import OperatorFactory, StaffFactory
from tests.outages import database_down

pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]

# This module is also the URLconf of its tests: the site's URLs, its error handler, and one view that fails.


def _fails(request):
    raise RuntimeError("a bug")


urlpatterns = [path("rusak/", _fails), *config.urls.urlpatterns]
handler500 = config.urls.handler500

BARE_DJANGO_TEXTS = ["Server Error (500)", "Not Found", "Bad Request (400)", "403 Forbidden", "CSRF verification"]
LAYOUT = 'class="navbar'


@pytest.fixture
def browser():
    """A visitor whose request errors come back as pages, as in production, instead of being raised."""
    return Client(raise_request_exception=False)


def assert_friendly(response, status: int, page_id: str, text: str):
    html = response.content.decode()
    assert response.status_code == status
    assert f'id="error-{page_id}"' in html
    assert text in html
    assert LAYOUT in html
    for bare in BARE_DJANGO_TEXTS:
        assert bare not in html


@override_settings(DEBUG=False)
def test_an_unknown_address_gets_the_404_page(browser):
    assert_friendly(browser.get("/tidak-ada/"), 404, "404", "Halaman tidak ditemukan")


@override_settings(DEBUG=False)
def test_a_page_outside_the_role_gets_the_403_page(browser):
    browser.force_login(OperatorFactory())
    response = browser.get("/sertifikat/tata-letak/")
    assert_friendly(response, 403, "403", "Anda tidak memiliki akses ke halaman ini.")


@override_settings(DEBUG=False)
def test_a_bad_request_gets_the_400_page(browser):
    response = browser.get("/akun/masuk/", HTTP_HOST="bukan-situs-ini.example")  # a host not allowed
    assert_friendly(response, 400, "400", "Permintaan tidak valid")


@override_settings(DEBUG=False)
def test_a_form_without_its_csrf_token_gets_the_expired_form_page():
    browser = Client(enforce_csrf_checks=True, raise_request_exception=False)
    response = browser.post("/akun/masuk/", {"username": "x", "password": "y"})
    assert_friendly(response, 403, "403", "Formulir sudah kedaluwarsa")
    # Django's CSRF view renders templates/403_csrf.html with the request: the whole layout, switcher included.
    assert 'action="/i18n/setlang/"' in response.content.decode()


@override_settings(DEBUG=False)
def test_a_bug_gets_the_500_page_even_with_the_database_down(browser):
    """Signed in, so that anything on the page reading the session or the user would need the database."""
    browser.force_login(StaffFactory())
    with database_down():
        response = browser.get("/rusak/")
    assert_friendly(response, 500, "500", "Terjadi kesalahan server")


@override_settings(DEBUG=False)
@pytest.mark.parametrize(
    ("method", "url", "data"),
    [
        ("post", "/akun/masuk/", {"username": "staf", "password": "rahasia-sekali"}),
        ("get", "/v/ABCDEFGHJKMN", None),
        ("post", "/sertifikat/unduh/", {"nik": "3512011708850001", "access_code": "ABCDEFGH"}),
    ],
)
def test_with_the_database_down_pages_answer_503_try_again_shortly(browser, method, url, data):
    with database_down():
        response = getattr(browser, method)(url, data) if data else getattr(browser, method)(url)
    assert_friendly(response, 503, "503", "coba lagi sebentar")
    assert response["Retry-After"] == "30"


@override_settings(DEBUG=False)
def test_with_the_database_down_a_signed_in_page_answers_503(browser):
    browser.force_login(StaffFactory())
    with database_down():
        response = browser.get("/pelatihan/angkatan/")
    assert_friendly(response, 503, "503", "coba lagi sebentar")


@override_settings(DEBUG=False)
@pytest.mark.parametrize("url", ["/akun/masuk/", "/sertifikat/unduh/"])
def test_with_the_database_down_forms_that_need_no_data_still_open(browser, url):
    with database_down():
        response = browser.get(url)
    assert response.status_code == 200
    assert 'name="csrfmiddlewaretoken"' in response.content.decode()
