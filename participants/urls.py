from .views import imports, operator, review

app_name = "participants"
urlpatterns = [*operator.urlpatterns, *imports.urlpatterns, *review.urlpatterns]
