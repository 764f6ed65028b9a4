"""English and Dutch: every message the console's code and templates use has a Dutch
translation in the gettext catalogue, and the language follows the browser or the switch."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from web_helpers import client, console

from exportc.orchestrate import open_history
from exportc.web import i18n

WEB = Path(i18n.__file__).parent


def _used_messages() -> set[str]:
    method_map = [("**.py", "python"), ("**/templates/**.html", "jinja2")]
    found = extract_from_dir(str(WEB), method_map, options_map={"**/templates/**.html": {"trimmed": "true"}},
                             keywords={"_": None, "N_": None})
    return {message for _file, _line, message, _comments, _context in found}


def test_every_message_has_a_dutch_translation_with_the_same_placeholders() -> None:
    with (WEB / "locale" / "nl" / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        catalog = read_po(fh)
    used = _used_messages()
    assert len(used) > 100
    untranslated = [m for m in used if m not in catalog or not catalog[m].string]
    assert untranslated == []
    for m in used:
        assert sorted(re.findall(r"%\(\w+\)s", m)) == sorted(re.findall(r"%\(\w+\)s", catalog[m].string)), m


def test_the_language_follows_the_browser_then_the_switch(tmp_path: Path) -> None:
    assert i18n.choose(None, "nl-NL,nl;q=0.9,en;q=0.8") == "nl"
    assert i18n.choose(None, "de-DE,de;q=0.9,en;q=0.5") == "en"
    assert i18n.choose("en", "nl") == "en"
    store = open_history(f"sqlite:///{tmp_path / 'h.db'}")
    with client(console(store)) as c:
        assert _button(c.get("/login", headers={"Accept-Language": "nl,en;q=0.5"})) == "Inloggen"
        assert _button(c.get("/login", headers={"Accept-Language": "en"})) == "Log in"
        switched = c.get("/lang/nl?next=/login")
        assert switched.status_code == 303 and switched.headers["location"] == "/login"
        assert _button(c.get("/login", headers={"Accept-Language": "en"})) == "Inloggen"


def _button(response: Any) -> str:
    found = re.search(r'<button class="primary" id="login">([^<]+)</button>', response.text)
    assert found
    return found.group(1)


def test_a_redirect_after_switching_stays_on_this_site(tmp_path: Path) -> None:
    store = open_history(f"sqlite:///{tmp_path / 'h.db'}")
    with client(console(store)) as c:
        assert c.get("/lang/nl?next=//evil.example/").headers["location"] == "/"
