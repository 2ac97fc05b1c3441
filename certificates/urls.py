"""Certificate and document pages, under /sertifikat/. The public verification page stays at /v/<code>
(config/urls.py), short for the QR code."""

from django.urls import path

from . import views

app_name = "certificates"

urlpatterns = [
    path("angkatan/<int:pk>/", views.batch_documents, name="batch_documents"),
    path("angkatan/<int:pk>/terbitkan/", views.batch_issue, name="batch_issue"),
    path("angkatan/<int:pk>/pratinjau/", views.batch_preview, name="batch_preview"),
    path("angkatan/<int:pk>/daftar-hadir/", views.batch_sheets, name="batch_sheets"),
    path("angkatan/<int:pk>/laporan/", views.batch_report, name="batch_report"),
    path("angkatan/<int:pk>/zip/", views.batch_zip, name="batch_zip"),
    path("angkatan/<int:pk>/cetak.pdf", views.batch_print, name="batch_print"),
    path("<int:pk>/unduh/", views.certificate_download, name="certificate_download"),
    path("<int:pk>/cabut/", views.certificate_revoke, name="certificate_revoke"),
    path("<int:pk>/terbitkan-ulang/", views.certificate_reissue, name="certificate_reissue"),
    path("dokumen/<int:pk>/", views.job_detail, name="job_detail"),
    path("dokumen/<int:pk>/progres/", views.job_progress, name="job_progress"),
    path("dokumen/<int:pk>/ulang/", views.job_retry, name="job_retry"),
    path("dokumen/<int:pk>/zip/", views.job_zip, name="job_zip"),
    path("berkas/<int:pk>/", views.file_download, name="file_download"),
    path("tata-letak/", views.layout_edit, name="layout_edit"),
    path("tata-letak/pratinjau/", views.layout_preview, name="layout_preview"),
    path("unduh/", views.participant_download, name="participant_download"),
    path("unduh/<int:pk>/", views.participant_certificate, name="participant_certificate"),
]
