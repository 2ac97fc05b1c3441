"""Top-level URL map: each app owns its own urls module."""

from django.contrib import admin
from django.urls import include, path

from certificates import views as certificate_views

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    # Short, so that the QR code on a certificate stays small.
    path("v/<str:code>", certificate_views.verify, name="verify_certificate"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("akun/", include("accounts.urls")),
    path("pelatihan/", include("trainings.urls")),
    path("peserta/", include("participants.urls")),
    path("sertifikat/", include("certificates.urls")),
    path("admin/", admin.site.urls),
]

# Django's own views render 400.html, 403.html and 404.html from templates/; the server error needs a view of
# ours, which also answers outages with the 503 page.
handler500 = "config.views.server_error"
