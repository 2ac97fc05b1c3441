"""Bahasa Indonesia is the default whatever the browser asks for; English is one switch away; and every
message of the project has its Indonesian translation, compiled."""

import gettext
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

LOCALE = Path(settings.BASE_DIR) / "locale"


def _po_entries(path: Path):
    """(msgid, msgstr, fuzzy) for each entry of a .po file, plural forms folded into msgstr."""
    entries, msgid, msgstr, fuzzy, target = [], None, [], False, None
    for raw in path.read_text(encoding="utf-8").splitlines() + [""]:
        line = raw.strip()
        if not line:
            if msgid is not None:
                entries.append((msgid, "".join(msgstr), fuzzy))
            msgid, msgstr, fuzzy, target = None, [], False, None
        elif line.startswith("#,") and "fuzzy" in line:
            fuzzy = True
        elif line.startswith("msgid "):
            msgid, target = line[6:].strip('"'), "id"
        elif line.startswith("msgid_plural"):
            target = "plural"
        elif line.startswith("msgstr"):
            msgstr.append(line.split(" ", 1)[1].strip('"'))
            target = "str"
        elif line.startswith('"'):
            if target == "id":
                msgid += line.strip('"')
            elif target == "str":
                msgstr.append(line.strip('"'))
    return [e for e in entries if e[0]]


@pytest.mark.django_db
def test_pages_are_indonesian_even_when_the_browser_asks_for_english(client):
    response = client.get(reverse("accounts:login"), HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")
    assert response["Content-Language"] == "id"
    assert 'lang="id"' in response.content.decode()
    page = response.content.decode()
    assert "Nama pengguna" in page  # Django's own translation
    assert "Lupa kata sandi?" in page  # the project's translation


@pytest.mark.django_db
def test_the_language_switcher_gives_english(client):
    response = client.post(reverse("set_language"), {"language": "en", "next": reverse("accounts:login")})
    assert response.status_code == 302
    page = client.get(reverse("accounts:login")).content.decode()
    assert 'lang="en"' in page
    assert "Forgot your password?" in page


def test_every_indonesian_message_is_translated_and_compiled():
    po = LOCALE / "id" / "LC_MESSAGES" / "django.po"
    entries = _po_entries(po)
    assert len(entries) > 100
    untranslated = [msgid for msgid, msgstr, fuzzy in entries if not msgstr or fuzzy]
    assert untranslated == []
    # The committed .mo must match the .po: every entry translates the same way through gettext.
    with po.with_suffix(".mo").open("rb") as handle:
        catalog = gettext.GNUTranslations(handle)
    stale = [
        msgid
        for msgid, msgstr, _fuzzy in entries
        if "\\" not in msgid and "\\" not in msgstr and msgstr and catalog.gettext(msgid) == msgid != msgstr
    ]
    assert stale == []


@pytest.mark.django_db
def test_dates_are_written_the_indonesian_way():
    from datetime import date

    from django.utils.formats import date_format
    from django.utils.translation import override

    with override("id"):
        assert date_format(date(2025, 10, 14), "l, j F Y") == "Selasa, 14 Oktober 2025"
