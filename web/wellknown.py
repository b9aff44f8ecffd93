"""WebFinger, host-meta and NodeInfo endpoints."""

import re

from quart import Blueprint, Response, current_app, jsonify, request

from federation import webfinger
from federation.errors import FederationError
from pedagogue import __version__
from storage import accounts, statuses
from web.app import runtime_of

blueprint = Blueprint("wellknown", __name__)

# A URI scheme prefix (RFC 3986 section 3.1). WebFinger resources here are
# acct: URIs, http(s) actor or profile URLs, or a bare user@host.
URI_SCHEME = re.compile(r"[a-z][a-z0-9+.-]*:", re.IGNORECASE)
WEBFINGER_SCHEMES = ("acct", "http", "https")
# Maximum length of a resource echoed back in an error message.
SHOWN_RESOURCE_LENGTH = 100


@blueprint.get("/.well-known/webfinger")
async def webfinger_route() -> Response:
    runtime = runtime_of(current_app)
    resource = request.args.get("resource", "")
    if not resource:
        raise FederationError(400, "resource parameter missing")
    if "\x00" in resource:
        raise FederationError(400, "resource parameter contains a NUL character")
    scheme = URI_SCHEME.match(resource)
    if scheme and scheme.group()[:-1].lower() not in WEBFINGER_SCHEMES:
        raise FederationError(
            400, f"resource must be an acct: or http(s) URI, not {_shown(resource)}"
        )
    try:
        username = webfinger.local_username(
            resource, runtime.settings.domain, runtime.settings.base_url
        )
    except FederationError as error:
        # The messages contain the whole resource, which may be megabytes long.
        message = error.message.replace(resource, _shown(resource))
        raise FederationError(error.status, message, error.cause) from None
    domain = runtime.settings.domain
    if username.lower() == domain:
        document = webfinger.render_webfinger(
            f"acct:{domain}@{domain}", runtime.urls.instance_actor, f"{runtime.urls.base}/about"
        )
    else:
        account = await accounts.local_by_username(runtime.pool, username)
        if account is None or account["actor_type"] == "Application":
            raise FederationError(
                404, f"no account {_shown(username)} on this instance"
            )
        name = account["username"]
        if account["suspended_at"] is not None:
            # 410 Gone, the status of a suspended account's actor document
            # (web/activitypub.py), so that a peer resolving the handle gets
            # the same result as one fetching the actor.
            raise FederationError(410, f"account {name} is suspended")
        document = webfinger.render_webfinger(
            f"acct:{name}@{domain}", runtime.urls.actor(name), runtime.urls.profile(name)
        )
    response = jsonify(document)
    response.content_type = "application/jrd+json"
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


def _shown(text: str) -> str:
    if len(text) <= SHOWN_RESOURCE_LENGTH:
        return text
    return text[:SHOWN_RESOURCE_LENGTH] + "..."


@blueprint.get("/.well-known/host-meta")
async def host_meta() -> Response:
    runtime = runtime_of(current_app)
    if "json" in request.headers.get("Accept", "") or request.args.get("format") == "json":
        return jsonify(webfinger.render_host_meta_json(runtime.settings.base_url))
    xml = webfinger.render_host_meta_xrd(runtime.settings.base_url)
    return Response(xml, content_type="application/xrd+xml")


@blueprint.get("/.well-known/host-meta.json")
async def host_meta_json() -> Response:
    return jsonify(webfinger.render_host_meta_json(runtime_of(current_app).settings.base_url))


@blueprint.get("/.well-known/nodeinfo")
async def nodeinfo_links() -> Response:
    return jsonify(webfinger.render_nodeinfo_links(runtime_of(current_app).settings.base_url))


@blueprint.get("/nodeinfo/<version>")
async def nodeinfo(version: str) -> Response:
    if version not in ("2.0", "2.1"):
        raise FederationError(404, f"NodeInfo version {version} is not served")
    runtime = runtime_of(current_app)
    users = await accounts.count_local_users(runtime.pool)
    active = await runtime.pool.fetchrow(
        "SELECT count(DISTINCT account_id) FILTER (WHERE created_at > now() - interval '30 days') AS month,"
        " count(DISTINCT account_id) FILTER (WHERE created_at > now() - interval '180 days') AS half"
        " FROM statuses WHERE local"
    )
    document = webfinger.render_nodeinfo(
        version,
        software_version=__version__,
        open_registrations=runtime.settings.instance.open_registrations,
        users=users,
        active_month=active["month"],
        active_half_year=active["half"],
        local_posts=await statuses.count_local(runtime.pool),
        node_name=runtime.settings.instance.name,
    )
    response = jsonify(document)
    schema = webfinger.NODEINFO_SCHEMA.format(version)
    response.content_type = f'application/json; profile="{schema}#"'
    return response


@blueprint.get("/.well-known/oauth-authorization-server")
async def oauth_authorization_server() -> Response:
    """Return the authorization server metadata (RFC 8414, section 2)."""
    from web.oauth import GRANT_TYPES
    from web.oauth_scopes import SUPPORTED_SCOPES

    runtime = runtime_of(current_app)
    base = runtime.settings.base_url
    grant_types = [
        grant
        for grant in GRANT_TYPES
        if grant != "password" or runtime.settings.web.allow_password_grant
    ]
    return jsonify(
        {
            "issuer": f"{base}/",
            "service_documentation": "https://docs.joinmastodon.org/",
            "authorization_endpoint": f"{base}/oauth/authorize",
            "token_endpoint": f"{base}/oauth/token",
            "revocation_endpoint": f"{base}/oauth/revoke",
            "app_registration_endpoint": f"{base}/api/v1/apps",
            "scopes_supported": list(SUPPORTED_SCOPES),
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": grant_types,
            "code_challenge_methods_supported": ["S256", "plain"],
            "token_endpoint_auth_methods_supported": [
                "client_secret_basic",
                "client_secret_post",
            ],
        }
    )
