# The production image. `gunicorn` serves the site (static files through whitenoise); the same image runs the
# Celery workers. docker-compose.yml shows the whole set.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# The Debian packages the application needs to render documents (Pango, HarfBuzz's subsetter, fonts): the same
# list `make run` checks, kept in scripts/system-packages.
COPY scripts/system-packages scripts/
RUN scripts/system-packages run && rm -rf /var/lib/apt/lists/*

# Dependencies first, so that a code change does not reinstall them; the s3 extra lets media live in
# S3-compatible storage (AWS_STORAGE_BUCKET_NAME).
COPY pyproject.toml README.md ./
RUN pip install ".[s3]"

COPY . .

# Static files are collected into the image (whitenoise serves them with hashed names); the key is a
# placeholder for this build step only (and so is SITE_URL), the running containers get theirs from the environment.
# The compiled translations (.mo) are part of the repository.
RUN DEBUG=0 SECRET_KEY=collectstatic-at-build-time-only SITE_URL=https://build.invalid \
    python manage.py collectstatic --noinput --verbosity 0 \
    && groupadd --system sinergi \
    && useradd --system --gid sinergi --home-dir /app --no-create-home sinergi \
    && mkdir -p /app/var/media \
    && chown -R sinergi:sinergi /app/var

USER sinergi
EXPOSE 8000
CMD ["gunicorn", "config.wsgi:application", "--bind", "0.0.0.0:8000"]
