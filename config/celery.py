"""The Celery app. Its broker is Redis with REDIS_URL, otherwise a folder under var/ (see config/settings.py);
the test suite runs tasks in-process."""

import os
from pathlib import Path

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("sinergi")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_configure.connect
def _create_broker_folders(sender, **kwargs):
    """kombu's filesystem transport expects its folders to exist; the web process and the worker both send."""
    if sender.conf.broker_url.startswith("filesystem://"):
        options = sender.conf.broker_transport_options
        for key in ("data_folder_in", "data_folder_out", "control_folder", "processed_folder"):
            Path(options[key]).mkdir(parents=True, exist_ok=True)
