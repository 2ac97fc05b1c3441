"""Included at /akun/: login, passwords, and the account management pages of organiser staff."""

from django.urls import path

from . import views

app_name = "accounts"
urlpatterns = [
    path("masuk/", views.LoginView.as_view(), name="login"),
    path("keluar/", views.LogoutView.as_view(), name="logout"),
    path("sandi/ubah/", views.PasswordChangeView.as_view(), name="password_change"),
    path("sandi/ubah/selesai/", views.PasswordChangeDoneView.as_view(), name="password_change_done"),
    path("sandi/lupa/", views.PasswordResetView.as_view(), name="password_reset"),
    path("sandi/lupa/terkirim/", views.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path(
        "atur-sandi/<uidb64>/<token>/",
        views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path("atur-sandi/selesai/", views.PasswordResetCompleteView.as_view(), name="password_reset_complete"),
    path("", views.account_list, name="account_list"),
    path("operator/baru/", views.account_create_operator, name="account_create_operator"),
    path("fasilitator/baru/", views.account_create_facilitator, name="account_create_facilitator"),
    path("<int:pk>/tautan/", views.account_link, name="account_link"),
    path("<int:pk>/nonaktifkan/", views.account_deactivate, name="account_deactivate"),
]
