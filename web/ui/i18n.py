"""Interface text through gettext catalogues, and times in the viewer's zone.

Catalogues are the ``.po`` files under ``web/translations/<language>/LC_MESSAGES``.
They are compiled in memory when the app starts, so a district that edits a
translation needs no separate compile step. A language without a catalogue
falls back to the English source text.
"""

from __future__ import annotations

import io
import logging
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale, UnknownLocaleError
from babel.dates import format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

log = logging.getLogger(__name__)

TRANSLATIONS = Path(__file__).resolve().parent.parent / "translations"
DOMAIN = "messages"


@lru_cache(maxsize=8)
def translations(language: str) -> NullTranslations:
    """Return the compiled catalogue of ``language``, or the untranslated source."""
    path = TRANSLATIONS / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    try:
        with open(path, "rb") as handle:
            catalog = read_po(handle, locale=language, domain=DOMAIN)
    except FileNotFoundError:
        log.warning("no catalogue for language %s at %s; showing English", language, path)
        return NullTranslations()
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


def locale_of(language: str) -> Locale:
    try:
        return Locale.parse(language)
    except (ValueError, UnknownLocaleError):
        return Locale.parse("en")


def zone_named(name: str | None, fallback: str) -> ZoneInfo:
    """Return the zone called ``name``, else ``fallback``, else UTC."""
    for candidate in (name, fallback):
        if not candidate:
            continue
        try:
            return ZoneInfo(candidate)
        except (ZoneInfoNotFoundError, ValueError):
            continue
    return ZoneInfo("UTC")


def format_moment(moment: datetime, zone: ZoneInfo, language: str) -> str:
    """Return ``moment`` as medium-length local text, such as ``Dec 4, 2026, 7:05:00 PM``."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return format_datetime(moment, "medium", tzinfo=zone, locale=locale_of(language))


def iso_utc(moment: datetime) -> str:
    """Return the machine-readable form for a ``<time datetime>`` attribute."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def gettext(language: str, message: str, **variables: Any) -> str:
    text = translations(language).gettext(message)
    return text % variables if variables else text


def ngettext_in(language: str, singular: str, plural: str, number: int, **variables: Any) -> str:
    """Choose the plural form for ``number`` and fill in ``num`` and ``variables``."""
    text = translations(language).ngettext(singular, plural, number)
    return text % {"num": number, **variables}


def _(message: str, **variables: Any) -> str:
    """Translate ``message`` into the interface language, then fill in ``variables``.

    Needs an app context, because the language is an instance setting.
    """
    from quart import current_app

    from web.app import runtime_of

    return gettext(runtime_of(current_app).settings.instance.language, message, **variables)


def ngettext(singular: str, plural: str, number: int, **variables: Any) -> str:
    """Translate the form of a counted message that fits ``number``.

    ``%(num)s`` in the message is ``number``, as in Jinja's ``ngettext``.
    Needs an app context, like ``_``.
    """
    from quart import current_app

    from web.app import runtime_of

    language = runtime_of(current_app).settings.instance.language
    return ngettext_in(language, singular, plural, number, **variables)
