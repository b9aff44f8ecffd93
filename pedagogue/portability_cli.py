"""``pedagogue export``, ``import``, ``alias`` and ``move``: account data and migration.

Each command starts a runtime of its own on the instance's database. Activities
it queues (Follow, Move, Update) are delivered by the running server, which
the queue's NOTIFY wakes.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from pedagogue.config import Settings


class PortabilityError(Exception):
    """A command that cannot go on; the message is printed for the user."""


def add_portability_parsers(commands: Any) -> None:
    """Add the export, import, alias and move commands to the CLI's subparsers."""
    export = commands.add_parser(
        "export",
        help="write a teacher's profile, posts, plans, follows and media as a ZIP",
    )
    export.add_argument("name", help="username of the local teacher")
    export.add_argument(
        "--output",
        help="archive file to write (default: NAME-export.zip); - for stdout",
    )
    imported = commands.add_parser(
        "import", help="read an archive written by export into a local teacher"
    )
    imported.add_argument("name", help="username of the local teacher to import into")
    imported.add_argument("file", help="archive file written by pedagogue export")
    alias = commands.add_parser(
        "alias", help="set the accounts a teacher is also known as (before a move here)"
    )
    alias.add_argument("name", help="username of the local teacher")
    alias.add_argument(
        "addresses",
        nargs="*",
        help="old accounts as name@domain or actor URL; none clears the list",
    )
    move = commands.add_parser(
        "move", help="move a teacher to another account and tell the followers"
    )
    move.add_argument("name", help="username of the local teacher that moves")
    move.add_argument("target", help="new account as name@domain or actor URL")


async def run_portability_command(
    settings: Settings, dsn: str, args: argparse.Namespace
) -> None:
    """Run one of the commands that ``add_portability_parsers`` adds.

    Raises PortabilityError with a message for the user.
    """
    from outbox.actions import ActionError
    from pedagogue.portability import ArchiveError
    from pedagogue.runtime import Runtime
    from pedagogue.server import apply_migrations

    await apply_migrations(dsn)
    runtime = Runtime(settings, dsn)
    await runtime.start()
    try:
        await _run(runtime, args)
    except (ArchiveError, ActionError) as error:
        raise PortabilityError(str(error)) from None
    finally:
        await runtime.stop()


async def _run(runtime: Any, args: argparse.Namespace) -> None:
    from outbox.migration import MigrationActions
    from pedagogue.portability import export_account, import_account
    from storage import accounts

    if args.command == "export":
        data = await export_account(runtime, args.name)
        _write(data, args.output or f"{args.name}-export.zip")
        return
    if args.command == "import":
        try:
            data = Path(args.file).read_bytes()
        except OSError as error:
            raise PortabilityError(
                f"cannot read {args.file}: {error.strerror}"
            ) from None
        report = await import_account(runtime, args.name, data)
        print(f"imported into {args.name}: {report.summary()}")
        for line in report.skipped:
            print(f"skipped {line}", file=sys.stderr)
        return
    account = await accounts.local_by_username(runtime.pool, args.name)
    if account is None or account["actor_type"] != "Person":
        raise PortabilityError(f"no local teacher named {args.name}")
    migration = MigrationActions(runtime)
    if args.command == "alias":
        aliases = await migration.set_aliases(account, args.addresses)
        print(f"{args.name} is also known as: {', '.join(aliases) or '(none)'}")
    elif args.command == "move":
        moved = await migration.move(account, args.target)
        print(f"{args.name} moved to {moved['moved_to_actor_id']}")


def _write(data: bytes, output: str) -> None:
    if output == "-":
        sys.stdout.buffer.write(data)
        return
    try:
        Path(output).write_bytes(data)
    except OSError as error:
        raise PortabilityError(f"cannot write {output}: {error.strerror}") from None
    print(f"wrote {output} ({len(data)} bytes)")
