"""Celery tasks for documents. Thin wrappers: they take primary keys and call a service."""
