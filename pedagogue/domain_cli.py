"""``pedagogue domain``: list, block and unblock domains, and manage the allowlist.

Changes go through the same queries as the admin pages and are recorded in
the audit log as made from the command line. A running server applies them
at once when it listens for the NOTIFY these queries send, and otherwise
within storage.domain_policy.RELOAD_SECONDS.
"""

from __future__ import annotations

import argparse
from typing import Any

import asyncpg

from storage.moderation import SEVERITIES


def add_domain_parser(commands: Any) -> None:
    """Add the ``domain`` command and its actions to the CLI's subparsers."""
    domain = commands.add_parser("domain", help="block domains and manage the allowlist")
    actions = domain.add_subparsers(dest="domain_command", required=True, metavar="ACTION")
    actions.add_parser("list", help="print the domain blocks and the allowed domains")
    block = actions.add_parser("block", help="block a domain, or change its block")
    block.add_argument("domain", help="host name, such as example.org; subdomains are covered")
    block.add_argument(
        "--severity",
        choices=SEVERITIES,
        default="silence",
        help="silence: off public timelines, follows need approval (default);"
        " suspend: nothing accepted or delivered, follows end;"
        " noop: only the --reject-* options",
    )
    block.add_argument("--reject-media", action="store_true", help="drop media of new posts from the domain")
    block.add_argument("--reject-reports", action="store_true", help="ignore reports (Flag) from the domain")
    block.add_argument("--obfuscate", action="store_true", help="partly hide the name in the public list")
    block.add_argument("--public-comment", default="", help="reason shown on the about page")
    block.add_argument("--private-comment", default="", help="note for moderators only")
    unblock = actions.add_parser("unblock", help="lift the block of a domain")
    unblock.add_argument("domain")
    allow = actions.add_parser("allow", help="add a domain to the allowlist")
    allow.add_argument("domain")
    disallow = actions.add_parser("disallow", help="remove a domain from the allowlist")
    disallow.add_argument("domain")


async def run_domain_command(settings: Any, dsn: str, args: argparse.Namespace) -> None:
    """Run one ``domain`` action; raise CommandError with a message for the user."""
    from pedagogue.server import apply_migrations

    await apply_migrations(dsn)
    connection = await asyncpg.connect(dsn)
    try:
        async with connection.transaction():
            await _run(connection, settings, args)
    finally:
        await connection.close()


async def _run(connection: asyncpg.Connection, settings: Any, args: argparse.Namespace) -> None:
    from outbox.actions import ActionError
    from outbox.moderation import DomainBlockFields, apply_domain_block, normalize_domain
    from pedagogue.cli import CommandError
    from storage import moderation

    command = args.domain_command
    if command == "list":
        for row in await moderation.domain_blocks(connection):
            flags = [name for name in ("reject_media", "reject_reports", "obfuscate") if row[name]]
            comment = f"  {row['public_comment']}" if row["public_comment"] else ""
            print(f"block  {row['domain']}  {row['severity']}  {','.join(flags) or '-'}{comment}")
        for row in await moderation.domain_allows(connection):
            print(f"allow  {row['domain']}")
        print(f"federation mode: {settings.federation.federation_mode}")
        return
    try:
        domain = normalize_domain(args.domain)
        if command == "block":
            fields = DomainBlockFields(
                domain=domain,
                severity=args.severity,
                reject_media=args.reject_media,
                reject_reports=args.reject_reports,
                obfuscate=args.obfuscate,
                public_comment=args.public_comment,
                private_comment=args.private_comment,
            )
            row = await apply_domain_block(connection, None, fields, settings.domain)
            print(f"blocked {row['domain']} ({row['severity']})")
        elif command == "unblock":
            await _lift(connection, domain, "domain_blocks", "destroy_domain_block")
            print(f"unblocked {domain}")
        elif command == "allow":
            await moderation.add_domain_allow(connection, domain)
            await moderation.record_action(connection, None, "create_domain_allow", "domain", domain)
            print(f"allowed {domain}")
        elif command == "disallow":
            await _lift(connection, domain, "domain_allows", "destroy_domain_allow")
            print(f"removed {domain} from the allowlist")
    except ActionError as error:
        raise CommandError(error.message) from None


async def _lift(connection: asyncpg.Connection, domain: str, table: str, action: str) -> None:
    from pedagogue.cli import CommandError
    from storage import moderation

    lookup = {"domain_blocks": "id FROM domain_blocks", "domain_allows": "id FROM domain_allows"}[table]
    row_id = await connection.fetchval(f"SELECT {lookup} WHERE domain = $1", domain)
    if row_id is None:
        listed = "blocked" if table == "domain_blocks" else "on the allowlist"
        raise CommandError(f"{domain} is not {listed}; see `pedagogue domain list`")
    if table == "domain_blocks":
        await moderation.delete_domain_block(connection, row_id)
    else:
        await moderation.delete_domain_allow(connection, row_id)
    await moderation.record_action(connection, None, action, "domain", domain)
