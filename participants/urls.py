from .views import coverage, imports, operator, people, registry, review

app_name = "participants"
urlpatterns = [
    *operator.urlpatterns,
    *imports.urlpatterns,
    *review.urlpatterns,
    *registry.urlpatterns,
    *people.urlpatterns,
    *coverage.urlpatterns,
]
