"""English and Dutch pages through gettext catalogues (Babel).

Messages are written in English in the templates (``{{ _("…") }}``) and in Python (``_("…")``
or, for constants translated later, ``N_("…")``); ``locale/nl/LC_MESSAGES/messages.po`` holds the
Dutch. The catalogue is read with Babel at start-up (no compiled ``.mo`` in the repository), and
a test checks that every message the code uses has a Dutch translation.
"""

from __future__ import annotations

import gettext as _gettext
import io
from collections.abc import Callable
from functools import cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LOCALE_DIR = Path(__file__).parent / "locale"
LANGUAGES = {"en": "English", "nl": "Nederlands"}
DEFAULT = "en"


def N_(message: str) -> str:
    """Mark a message for extraction; it is translated where it is shown."""
    return message


@cache
def translations(lang: str) -> _gettext.NullTranslations:
    """The catalogue of a language (English: the messages as written)."""
    po = LOCALE_DIR / lang / "LC_MESSAGES" / "messages.po"
    if lang == DEFAULT or not po.is_file():
        return _gettext.NullTranslations()
    with po.open("rb") as fh:
        catalog = read_po(fh, locale=lang)
    buf = io.BytesIO()
    write_mo(buf, catalog)
    buf.seek(0)
    return _gettext.GNUTranslations(buf)


def choose(cookie: str | None, accept_language: str | None) -> str:
    """The language: the one the user switched to, else the browser's first known preference."""
    if cookie in LANGUAGES:
        return cookie
    prefs = []
    for part in (accept_language or "").split(","):
        tag, _sep, q = part.strip().partition(";q=")
        try:
            weight = float(q) if q else 1.0
        except ValueError:
            weight = 0.0
        prefs.append((weight, tag.split("-")[0].lower()))
    for _weight, tag in sorted(prefs, key=lambda p: -p[0]):
        if tag in LANGUAGES:
            return tag
    return DEFAULT


def gettext_for(lang: str) -> Callable[..., str]:
    """``_(message, **values)``: translated, then ``%(name)s`` filled from ``values``."""
    t = translations(lang)

    def _(message: str, **values: object) -> str:
        text = t.gettext(message)
        return text % values if values else text
    return _


# Words the pages show from data (a run's status, a role, a change kind, a phase, a severity):
# marked here so the catalogue has them.
DATA_WORDS = (
    N_("scheduled"), N_("running"), N_("succeeded"), N_("failed"), N_("cancelled"),
    N_("viewer"), N_("operator"), N_("admin"),
    N_("new"), N_("changed"), N_("deleted"), N_("unchanged"),
    N_("starting"), N_("reading"), N_("writing"), N_("validating"), N_("recording"),
    N_("error"), N_("warning"), N_("note"),
)
