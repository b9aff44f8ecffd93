"""The gettext catalogue covers every interface message in the sources."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
METHODS = [("web/ui/**.py", "python"), ("web/templates/**.html", "jinja2")]
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2)}


def _source_messages() -> set[str]:
    found = set()
    for _filename, _line, message, _comments, _context in extract_from_dir(
        str(ROOT), METHODS, keywords=KEYWORDS
    ):
        found.add(message if isinstance(message, str) else message[0])
    return found


def _catalogue_messages(path: Path) -> set[str]:
    with open(path, "rb") as handle:
        catalog = read_po(handle)
    # A plural message's id is the tuple (singular, plural); compare the singular.
    return {
        message.id if isinstance(message.id, str) else message.id[0]
        for message in catalog
        if message.id
    }


def test_template_lists_every_message() -> None:
    missing = _source_messages() - _catalogue_messages(ROOT / "web/translations/messages.pot")
    assert missing == set(), "run pybabel extract -F babel.cfg (see README)"


def test_english_catalogue_lists_every_message() -> None:
    english = ROOT / "web/translations/en/LC_MESSAGES/messages.po"
    missing = _source_messages() - _catalogue_messages(english)
    assert missing == set(), "run pybabel update (see README)"
