"""The client's address as the login lockout must see it.

Behind N trusted reverse proxies, each appends the address it received the request from to X-Forwarded-For,
so the client is the Nth entry from the right; anything further left was written by the client and can be
forged. With no proxy (SINERGI_PROXY_COUNT=0) only the connection's own address counts."""

from django.conf import settings


def client_ip(request) -> str | None:
    remote = request.META.get("REMOTE_ADDR")
    count = settings.TRUSTED_PROXY_COUNT
    if count <= 0:
        return remote
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
    if len(forwarded) < count:
        return remote
    return forwarded[-count]
