"""WebFinger (RFC 7033), host-meta (RFC 6415) and NodeInfo documents."""

from typing import Any
from urllib.parse import quote, unquote, urlsplit

from federation.errors import FederationError
from federation.fetch import Fetcher

JRD = "application/jrd+json"
ACTIVITY_JSON = "application/activity+json"
NODEINFO_SCHEMA = "http://nodeinfo.diaspora.software/ns/schema/{}"


def parse_acct(resource: str) -> tuple[str, str]:
    """Split ``acct:user@host[:port]`` (or ``@user@host``) into user and host.

    Raises FederationError(400) when the resource is not of that form.
    """
    text = unquote(resource.strip())
    if text.startswith("acct:"):
        text = text[len("acct:") :]
    text = text.lstrip("@")
    user, separator, host = text.rpartition("@")
    if not separator or not user or not host or "/" in host or "@" in user:
        raise FederationError(400, f"invalid acct resource: {resource}")
    return user, host.lower()


def local_username(resource: str, domain: str, base_url: str) -> str:
    """Return the local username a WebFinger resource names.

    Accepts ``acct:user@domain`` (the domain may carry a port) and the actor or
    profile URLs ``{base}/users/user`` and ``{base}/@user``. Raises
    FederationError(400) for a malformed resource and 404 for another domain.
    """
    if resource.startswith(("http://", "https://")):
        parts = urlsplit(resource)
        if f"{parts.scheme}://{parts.netloc.lower()}" != base_url.lower():
            raise FederationError(404, f"{resource} is not on this instance")
        path = parts.path.rstrip("/")
        for prefix in ("/users/", "/@"):
            if path.startswith(prefix) and "/" not in path[len(prefix) :]:
                return path[len(prefix) :]
        if path == "/actor":
            return domain
        raise FederationError(404, f"{resource} is not an actor")
    user, host = parse_acct(resource)
    if host != domain.lower():
        raise FederationError(404, f"{resource} is not on this instance")
    return user


def render_webfinger(
    subject: str, actor_id: str, profile_url: str | None
) -> dict[str, Any]:
    """Return the JRD for an actor."""
    links: list[dict[str, str]] = [
        {"rel": "self", "type": ACTIVITY_JSON, "href": actor_id},
    ]
    if profile_url:
        links.append(
            {
                "rel": "http://webfinger.net/rel/profile-page",
                "type": "text/html",
                "href": profile_url,
            }
        )
    aliases = [actor_id] + ([profile_url] if profile_url else [])
    return {"subject": subject, "aliases": aliases, "links": links}


def render_host_meta_xrd(base_url: str) -> str:
    template = f"{base_url}/.well-known/webfinger?resource={{uri}}"
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<XRD xmlns="http://docs.oasis-open.org/ns/xri/xrd-1.0">\n'
        f'  <Link rel="lrdd" type="application/xrd+xml" template="{template}"/>\n'
        "</XRD>\n"
    )


def render_host_meta_json(base_url: str) -> dict[str, Any]:
    template = f"{base_url}/.well-known/webfinger?resource={{uri}}"
    return {"links": [{"rel": "lrdd", "type": JRD, "template": template}]}


def render_nodeinfo_links(base_url: str) -> dict[str, Any]:
    return {
        "links": [
            {"rel": NODEINFO_SCHEMA.format(version), "href": f"{base_url}/nodeinfo/{version}"}
            for version in ("2.0", "2.1")
        ]
    }


def render_nodeinfo(
    version: str,
    *,
    software_version: str,
    open_registrations: bool,
    users: int,
    active_month: int,
    active_half_year: int,
    local_posts: int,
    node_name: str,
    repository_url: str = "",
) -> dict[str, Any]:
    """Return a NodeInfo 2.0 or 2.1 document (2.1 may add the repository URL)."""
    software: dict[str, str] = {"name": "pedagogue", "version": software_version}
    if version == "2.1" and repository_url:
        software["repository"] = repository_url
    return {
        "version": version,
        "software": software,
        "protocols": ["activitypub"],
        "services": {"inbound": [], "outbound": []},
        "openRegistrations": open_registrations,
        "usage": {
            "users": {
                "total": users,
                "activeMonth": active_month,
                "activeHalfyear": active_half_year,
            },
            "localPosts": local_posts,
        },
        "metadata": {"nodeName": node_name},
    }


async def lookup(fetcher: Fetcher, user: str, host: str, scheme: str = "https") -> str:
    """Resolve ``user@host`` to an actor id through the host's WebFinger.

    Raises FederationError(404) when the host knows no such account and 502
    when it answers something unusable.
    """
    resource = quote(f"acct:{user}@{host}", safe=":@")
    url = f"{scheme}://{host}/.well-known/webfinger?resource={resource}"
    document = await fetcher.get_json(url, accept=f"{JRD}, application/json")
    if not isinstance(document, dict):
        raise FederationError(502, f"WebFinger answer from {host} is not an object")
    for link in document.get("links") or []:
        if not isinstance(link, dict) or link.get("rel") != "self":
            continue
        media_type = str(link.get("type", ""))
        href = link.get("href")
        if isinstance(href, str) and ("activity+json" in media_type or "ld+json" in media_type):
            return href
    raise FederationError(404, f"no ActivityPub actor for {user}@{host}")
