"""Placeholder: filled in by this area's pages."""

urlpatterns: list = []
