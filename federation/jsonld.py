"""JSON-LD processing with bundled context documents only.

Remote activities name their JSON-LD contexts by URL. Fetching those URLs on
every delivery would make inbox processing depend on third-party servers, and
any sender could make us issue requests. So the context documents are bundled in
``federation/contexts/``, and the pyld document loader here serves nothing else.
An unknown URL raises ContextNotBundled and no request is made. The W3C note
"JSON-LD Best Practices" recommends caching contexts locally ("Cache JSON-LD
Contexts").

Litepub contexts are host-specific (Pleroma and Akkoma serve one at
``https://<host>/schemas/litepub-0.1.jsonld``), so every URL with that path maps
to the one bundled litepub document.
"""

from __future__ import annotations

import copy
import functools
import json
import logging
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

from cachetools import LRUCache
from pyld import jsonld
from pyld.context_resolver import ContextResolver
from pyld.jsonld import JsonLdError

log = logging.getLogger(__name__)

AS_CONTEXT = "https://www.w3.org/ns/activitystreams"
SECURITY_V1_CONTEXT = "https://w3id.org/security/v1"
AS_NAMESPACE = "https://www.w3.org/ns/activitystreams#"
LITEPUB_PATH = "/schemas/litepub-0.1.jsonld"
SCHEMA_ORG_FILE = "schema-org-lrmi.json"

# Context URL -> file in federation/contexts/. contexts/README.md names the
# source of each file.
BUNDLED_CONTEXTS: dict[str, str] = {
    AS_CONTEXT: "activitystreams.json",
    SECURITY_V1_CONTEXT: "security-v1.json",
    "https://w3id.org/identity/v1": "identity-v1.json",
    "https://w3id.org/security/multikey/v1": "security-multikey-v1.json",
    "https://w3id.org/security/data-integrity/v1": "security-data-integrity-v1.json",
    "https://purl.archive.org/socialweb/webfinger": "webfinger.json",
    "https://gotosocial.org/ns": "gotosocial.json",
    "https://join-lemmy.org/context.json": "join-lemmy.json",
    # Mastodon has never served a context at this URL, but some servers put it
    # in their @context (GoToSocial before 0.16, Bonfire). The bundled document
    # defines the toot: terms Mastodon inlines in its own activities.
    "http://joinmastodon.org/ns": "joinmastodon.json",
    # A trimmed schema.org context with the CreativeWork and learning-resource
    # (LRMI) terms that lesson plans use; the full document is about 200 kB.
    "https://schema.org/": SCHEMA_ORG_FILE,
}
# Spellings of a bundled URL that peers send. The ActivityStreams namespace
# document is the same over http, and older software writes it that way.
CONTEXT_ALIASES: dict[str, str] = {
    "http://www.w3.org/ns/activitystreams": AS_CONTEXT,
    # schema.org serves its context at each of these spellings.
    "https://schema.org": "https://schema.org/",
    "http://schema.org": "https://schema.org/",
    "http://schema.org/": "https://schema.org/",
}
LITEPUB_FILE = "litepub-0.1.json"
# NOTE: the bundled schema.org context defines only the terms listed in
# contexts/schema-org-lrmi.json. Other schema.org terms in a document that names
# it expand to nothing and are dropped, as pyld drops any undefined term.


class ContextNotBundled(Exception):
    """A document names a JSON-LD context URL that is not bundled with Pedagogue."""

    def __init__(self, url: str) -> None:
        super().__init__(
            f"JSON-LD context {url!r} is not bundled; Pedagogue never fetches "
            "contexts from the network"
        )
        self.url = url


class InvalidJsonLd(Exception):
    """A document is not valid JSON-LD (for example a malformed @context)."""


def bundled_file_for(url: str) -> str | None:
    """Return the bundled file name that serves a context URL, or None."""
    canonical = CONTEXT_ALIASES.get(url, url)
    name = BUNDLED_CONTEXTS.get(canonical)
    if name is not None:
        return name
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme in ("http", "https") and parts.path == LITEPUB_PATH:
        return LITEPUB_FILE
    return None


@functools.cache
def _read_bundled(name: str) -> dict[str, Any]:
    text = (
        resources.files("federation")
        .joinpath("contexts", name)
        .read_text(encoding="utf-8")
    )
    document: dict[str, Any] = json.loads(text)
    return document


def get_context(url: str) -> dict[str, Any]:
    """Return a copy of the bundled context document for ``url``.

    The document is the whole file, with its ``@context`` key. Raises
    ContextNotBundled when no bundled document serves ``url``.
    """
    name = bundled_file_for(url)
    if name is None:
        raise ContextNotBundled(url)
    return copy.deepcopy(_read_bundled(name))


def load_document(url: str, options: dict[str, Any] | None = None) -> dict[str, Any]:
    """Serve ``url`` to pyld from the bundled contexts, as a pyld RemoteDocument.

    This is the only document loader our JSON-LD calls use; it never opens a
    network connection. Raises ContextNotBundled for any URL it does not serve.
    """
    name = bundled_file_for(url)
    if name is None:
        log.info("JSON-LD context not bundled, refusing to load: url=%s", url)
        raise ContextNotBundled(url)
    return {
        "contentType": "application/ld+json",
        "contextUrl": None,
        "documentUrl": url,
        "document": copy.deepcopy(_read_bundled(name)),
    }


# Resolved contexts, keyed by URL or by the canonical text of an inline context.
# Our own cache rather than pyld's module-wide one, so that no context resolved
# elsewhere in the process (possibly with a network loader) is ever reused here.
_RESOLVED_CONTEXTS: LRUCache[str, Any] = LRUCache(maxsize=100)


def _options() -> dict[str, Any]:
    # A ContextResolver keeps an unbounded per-operation cache that includes
    # every inline context it resolves, so each call gets a fresh one.
    return {
        "documentLoader": load_document,
        "contextResolver": ContextResolver(_RESOLVED_CONTEXTS, load_document),
    }


def expand(document: dict[str, Any]) -> list[dict[str, Any]]:
    """Return the JSON-LD expanded form of ``document``, using bundled contexts.

    Raises ContextNotBundled when the document names a context that is not
    bundled, and InvalidJsonLd when the document is not valid JSON-LD. The inbox
    responds to both with 400.
    """
    try:
        expanded: list[dict[str, Any]] = jsonld.expand(document, _options())
    except JsonLdError as error:
        raise _translate(error) from error
    return expanded


def compact(document: dict[str, Any], context: Any) -> dict[str, Any]:
    """Return ``document`` compacted against ``context``, using bundled contexts.

    ``context`` is a context URL, a context object or a list of them. Raises
    ContextNotBundled and InvalidJsonLd as ``expand`` does.
    """
    try:
        compacted: dict[str, Any] = jsonld.compact(document, context, _options())
    except JsonLdError as error:
        raise _translate(error) from error
    return compacted


def _translate(error: JsonLdError) -> Exception:
    """Map a pyld error to ContextNotBundled when our loader caused it.

    pyld wraps loader exceptions in its own JsonLdError and keeps the original in
    the ``__cause__`` chain.
    """
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, ContextNotBundled):
            return ContextNotBundled(cause.url)
        cause = cause.__cause__ or cause.__context__
    return InvalidJsonLd(f"invalid JSON-LD document: {_summary(error)}")


def _summary(error: JsonLdError) -> str:
    # str(JsonLdError) spans several lines with a repr of the details; the first
    # argument is the message and the code names the JSON-LD error kind.
    message = str(error.args[0]) if error.args else "unknown error"
    code = getattr(error, "code", None)
    return f"{message} ({code})" if code else message
