from django.urls import path

from . import attendance_views, dashboard_views, recap_views, views

app_name = "trainings"
urlpatterns = [
    path("angkatan/", views.batch_list, name="batch_list"),
    path("angkatan/baru/", views.batch_create, name="batch_create"),
    path("angkatan/<int:pk>/", views.batch_detail, name="batch_detail"),
    path("angkatan/<int:pk>/ubah/", views.batch_edit, name="batch_edit"),
    path("angkatan/<int:pk>/status/", views.batch_status, name="batch_status"),
    path("angkatan/<int:pk>/kuota/baru/", views.allocation_form, name="allocation_add"),
    path("angkatan/<int:pk>/kuota/<int:allocation_pk>/", views.allocation_form, name="allocation_edit"),
    path(
        "angkatan/<int:pk>/kuota/<int:allocation_pk>/hapus/",
        views.allocation_delete,
        name="allocation_delete",
    ),
    path("angkatan/<int:pk>/tempat/", views.day_venues, name="day_venues"),
    path("angkatan/<int:pk>/jadwal/", views.schedule, name="schedule"),
    path("angkatan/<int:pk>/jadwal/salin-kurikulum/", views.schedule_copy, name="schedule_copy"),
    path("angkatan/<int:pk>/jadwal/sesi/baru/", views.session_form, name="session_add"),
    path("angkatan/<int:pk>/jadwal/sesi/<int:session_pk>/", views.session_form, name="session_edit"),
    path("angkatan/<int:pk>/jadwal/sesi/<int:session_pk>/hapus/", views.session_delete, name="session_delete"),
    path("kalender/", views.calendar_view, name="calendar"),
    path("beban-fasilitator/", views.workload, name="workload"),
    path("saya/", views.my_batches, name="my_batches"),
    *attendance_views.urlpatterns,
    *recap_views.urlpatterns,
    *dashboard_views.urlpatterns,
]
