"""The ``pedagogue`` command line: run, demo, migrate, user create and reset-link, token create."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import re
import secrets
import sys
import warnings
from typing import Any

import asyncpg

from pedagogue import __version__
from pedagogue.config import ConfigError, Settings, load_settings
from pedagogue.logs import setup_logging, stop_logging

log = logging.getLogger(__name__)

USERNAME = re.compile(r"[a-z0-9_]{1,30}", re.IGNORECASE)
MIN_PASSWORD_LENGTH = 8
MAX_DISPLAY_NAME_LENGTH = 100
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


class CommandError(Exception):
    """A command that cannot go on; the message is printed for the user."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pedagogue", description="Run and manage a Pedagogue instance."
    )
    parser.add_argument("--version", action="version", version=f"pedagogue {__version__}")
    parser.add_argument("--config", help="TOML configuration file (see config.example.toml)")
    parser.add_argument("--url", help="public URL of the instance, e.g. https://school-a.example")
    parser.add_argument("--data-dir", help="directory for the embedded database, keys and logs")
    parser.add_argument("--database-url", help="PostgreSQL URL; empty uses the embedded server")
    parser.add_argument(
        "--log-level",
        default="INFO",
        type=str.upper,
        choices=LOG_LEVELS,
        help="DEBUG, INFO, WARNING or ERROR",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="serve the instance with its background workers")
    run.add_argument("--listen", help="HOST:PORT to listen on (default 127.0.0.1:8800)")
    run.add_argument(
        "--role",
        choices=("all", "web", "worker"),
        default="all",
        help="all: HTTP and workers in one process (default); web: HTTP only;"
        " worker: inbox and delivery workers only",
    )
    run.add_argument(
        "--dev",
        action="store_true",
        help="allow plain HTTP and loopback or private peers (development and tests only)",
    )
    commands.add_parser("migrate", help="apply pending database migrations")
    demo = commands.add_parser(
        "demo",
        help="start two sample instances on loopback that federate with each other",
    )
    demo.add_argument(
        "--port",
        type=int,
        default=8801,
        help="port of the first instance; the second uses the next one (default 8801)",
    )

    user = commands.add_parser("user", help="manage teacher accounts")
    user_commands = user.add_subparsers(dest="user_command", required=True, metavar="ACTION")
    create = user_commands.add_parser("create", help="create a teacher account")
    create.add_argument("name", help="username: letters, digits and underscores")
    create.add_argument(
        "--display-name",
        default="",
        help=f"name shown on the profile, at most {MAX_DISPLAY_NAME_LENGTH} characters",
    )
    create.add_argument(
        "--approve-followers", action="store_true", help="approve each follower by hand"
    )
    create.add_argument(
        "--admin",
        action="store_true",
        help="give the account the admin role (invites, sign-up approval, reset links)",
    )
    create.add_argument(
        "--allow-reserved-name",
        action="store_true",
        help="allow a name that sign-up rejects as reserved, such as admin or support",
    )
    reset = user_commands.add_parser(
        "reset-link", help="print a one-time link that sets a new password"
    )
    reset.add_argument("name", help="username of the local account")

    token = commands.add_parser("token", help="manage client API tokens")
    token_commands = token.add_subparsers(dest="token_command", required=True, metavar="ACTION")
    token_create = token_commands.add_parser("create", help="print a new bearer token")
    token_create.add_argument("name", help="username of the account the token acts for")
    from pedagogue.domain_cli import add_domain_parser

    add_domain_parser(commands)
    from pedagogue.portability_cli import add_portability_parsers

    add_portability_parsers(commands)
    return parser


def settings_from(args: argparse.Namespace) -> Settings:
    """Load the settings file, then apply the environment and command-line options."""
    overrides: dict[str, dict[str, Any]] = {}
    if args.url:
        overrides.setdefault("instance", {})["url"] = args.url
    if args.data_dir:
        overrides.setdefault("instance", {})["data_dir"] = args.data_dir
    if args.database_url is not None:
        overrides.setdefault("database", {})["url"] = args.database_url
    if getattr(args, "listen", None):
        overrides.setdefault("server", {})["listen"] = args.listen
    if getattr(args, "dev", False):
        overrides.setdefault("federation", {})["dev"] = True
    return load_settings(args.config, overrides=overrides)


def database_dsn(settings: Settings) -> tuple[str, Any]:
    """Return the DSN to use and, for the embedded server, its handle to keep alive."""
    if settings.database.url:
        return settings.database.url, None
    _silence_runtime_dir_warning()
    from storage.embedded import start_embedded

    server, dsn = start_embedded(settings.data_path)
    return dsn, server


def _silence_runtime_dir_warning() -> None:
    # pgserver calls platformdirs.user_runtime_path when it is imported.
    # Run as root without XDG_RUNTIME_DIR, platformdirs warns and falls back to
    # a directory that works, so the warning only confuses the operator.
    try:
        from platformdirs import RuntimeDirWarning
    except ImportError:
        return
    warnings.filterwarnings("ignore", category=RuntimeDirWarning)


def read_password(username: str) -> str:
    """Read a password from the terminal (asked twice) or from standard input."""
    if sys.stdin.isatty():
        first = getpass.getpass(f"Password for {username}: ")
        if first != getpass.getpass("Repeat the password: "):
            raise CommandError("the two passwords differ")
        password = first
    else:
        try:
            password = sys.stdin.readline().rstrip("\r\n")
        except UnicodeDecodeError:
            raise CommandError("the password is not valid UTF-8 text") from None
    try:
        # Under the C locale, undecodable bytes arrive as lone surrogates.
        password.encode("utf-8")
    except UnicodeEncodeError:
        raise CommandError("the password is not valid UTF-8 text") from None
    if len(password) < MIN_PASSWORD_LENGTH:
        raise CommandError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    return password


async def create_user(settings: Settings, dsn: str, args: argparse.Namespace) -> None:
    from pedagogue.accounts import create_teacher, is_reserved_username
    from pedagogue.server import apply_migrations

    if not USERNAME.fullmatch(args.name):
        raise CommandError("a username has 1 to 30 letters, digits or underscores")
    if is_reserved_username(args.name, settings) and not args.allow_reserved_name:
        raise CommandError(
            f"the username {args.name} is reserved for the instance."
            " Choose another or pass --allow-reserved-name"
        )
    if len(args.display_name) > MAX_DISPLAY_NAME_LENGTH:
        raise CommandError(
            f"a display name has at most {MAX_DISPLAY_NAME_LENGTH} characters"
        )
    if not args.display_name.isprintable():
        raise CommandError("a display name cannot contain control characters")
    try:
        args.display_name.encode("utf-8")
    except UnicodeEncodeError:
        raise CommandError("the display name is not valid UTF-8 text") from None
    password = read_password(args.name)
    await apply_migrations(dsn)
    connection = await asyncpg.connect(dsn)
    try:
        row = await create_teacher(
            connection,
            settings,
            username=args.name,
            password=password,
            display_name=args.display_name,
            approve_followers=args.approve_followers,
        )
        if args.admin:
            await connection.execute(
                "UPDATE accounts SET is_admin = true WHERE id = $1", row["id"]
            )
    except asyncpg.UniqueViolationError:
        raise CommandError(f"the username {args.name} is taken") from None
    finally:
        await connection.close()
    role = " with the admin role" if args.admin else ""
    print(f"created @{row['username']}@{settings.domain} ({row['actor_id']}){role}")


async def create_reset_link(settings: Settings, dsn: str, args: argparse.Namespace) -> None:
    from pedagogue.server import apply_migrations
    from storage import accounts
    from web.ui.admin import reset_link

    await apply_migrations(dsn)
    connection = await asyncpg.connect(dsn)
    try:
        account = await accounts.local_by_username(connection, args.name)
        if account is None or account["actor_type"] != "Person":
            raise CommandError(f"no local account named {args.name}")
        link = await reset_link(connection, settings, account)
    finally:
        await connection.close()
    hours = settings.web.reset_link_hours
    log.info("password reset link issued for account %s from the command line", account["id"])
    print(link)
    print(f"The link works once, for {hours:g} hours.", file=sys.stderr)


async def create_token(settings: Settings, dsn: str, args: argparse.Namespace) -> None:
    from pedagogue.server import apply_migrations
    from web.api import hash_token

    await apply_migrations(dsn)
    connection = await asyncpg.connect(dsn)
    try:
        account_id = await connection.fetchval(
            "SELECT id FROM accounts WHERE domain IS NULL AND lower(username) = lower($1)"
            " AND actor_type = 'Person' AND deleted_at IS NULL",
            args.name,
        )
        if account_id is None:
            raise CommandError(f"no local account named {args.name}")
        token = secrets.token_urlsafe(32)
        await connection.execute(
            "INSERT INTO tokens (account_id, token_hash) VALUES ($1, $2)",
            account_id,
            hash_token(token),
        )
    finally:
        await connection.close()
    print(token)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = settings_from(args)
    except ConfigError as error:
        print(f"pedagogue: configuration error: {error}", file=sys.stderr)
        return 2
    log_file = settings.data_path / "logs" / "pedagogue.log" if args.command == "run" else None
    setup_logging(args.log_level if args.command != "demo" else "WARNING", log_file)
    try:
        if args.command == "demo":
            from pedagogue.demo import run_demo

            if not 1024 <= args.port <= 65534:
                raise CommandError("--port must be from 1024 to 65534")
            return run_demo(args.data_dir, args.port)
        return _dispatch(args, settings)
    except CommandError as error:
        print(f"pedagogue: {error}", file=sys.stderr)
        return 1
    except (OSError, asyncpg.PostgresError) as error:
        print(f"pedagogue: {error}", file=sys.stderr)
        return 1
    finally:
        stop_logging()


def _dispatch(args: argparse.Namespace, settings: Settings) -> int:
    dsn, embedded = database_dsn(settings)
    try:
        if args.command == "run":
            from pedagogue.server import run_instance

            asyncio.run(run_instance(settings, dsn, role=args.role))
        elif args.command == "migrate":
            from pedagogue.server import apply_migrations

            applied = asyncio.run(apply_migrations(dsn))
            print(f"applied {len(applied)} migrations" + (": " + ", ".join(applied) if applied else ""))
        elif args.command == "user" and args.user_command == "reset-link":
            asyncio.run(create_reset_link(settings, dsn, args))
        elif args.command == "user":
            asyncio.run(create_user(settings, dsn, args))
        elif args.command == "token":
            asyncio.run(create_token(settings, dsn, args))
        elif args.command == "domain":
            from pedagogue.domain_cli import run_domain_command

            asyncio.run(run_domain_command(settings, dsn, args))
        elif args.command in ("export", "import", "alias", "move"):
            from pedagogue.portability_cli import PortabilityError, run_portability_command

            try:
                asyncio.run(run_portability_command(settings, dsn, args))
            except PortabilityError as error:
                raise CommandError(str(error)) from None
    finally:
        del embedded
    return 0


if __name__ == "__main__":
    sys.exit(main())
