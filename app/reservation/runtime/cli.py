"""`reservation serve | migrate | relay`. Settings are checked before anything starts."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys

from ..relay.kafka_producer import KafkaSettings
from ..relay.relay import MetricsReporting, RelayConfig, run_relay
from ..shared.logs import configure_logging
from ..shared.settings import Command, Settings, SettingsError, load_settings
from ..store.app_role import AppRoleError
from ..store.db_credentials import database_connect
from ..store.migrate import load_app_role, migrate
from ..store.pg_pool import connection_options
from .server import ServeOptions, ServerKind, serve

log = logging.getLogger(__name__)


def _settings(command: Command) -> Settings:
    try:
        return load_settings(command=command)
    except SettingsError as exc:
        for problem in exc.problems:
            print(f"configuration error: {problem}", file=sys.stderr)
        raise SystemExit(2) from None


def _serve(args: argparse.Namespace) -> None:
    settings = _settings(Command.SERVE)
    if settings.dev_mode:
        print("RESERVATION_DEV_MODE is on: development defaults in use, never deploy this", file=sys.stderr)
    serve(settings, ServeOptions(ServerKind(args.server), args.host, args.workers, args.redis_batching))


async def _migrate_with_role(settings: Settings) -> list[str]:
    role = await load_app_role(settings.app_login)
    if role is None:
        log.info("no DB_APP_LOGIN_ARN or DB_APP_USER: no application role to set up")
    return await migrate(settings.database_url, connect=database_connect(settings), app_role=role)


def _migrate(_: argparse.Namespace) -> None:
    settings = _settings(Command.MIGRATE)
    try:
        applied = asyncio.run(_migrate_with_role(settings))
    except AppRoleError as exc:  # a bad name or password in the app role's secret, or a role given powers
        print(f"configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    log.info("applied %d migration(s): %s", len(applied), ", ".join(applied) or "none pending")


def _relay(_: argparse.Namespace) -> None:
    settings = _settings(Command.RELAY)
    try:
        config = RelayConfig.from_env(os.environ)
        kafka = KafkaSettings.from_settings(settings, config.delivery_timeout_ms)
    except ValueError as exc:  # the RELAY_* tuning values; load_settings already checked the Kafka ones
        print(f"configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    connect, options = database_connect(settings), connection_options(settings)
    reporting = MetricsReporting(settings.emf_enabled, settings.metrics_namespace)
    raise SystemExit(asyncio.run(run_relay(settings.database_url, kafka, config, connect, options, reporting)))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="reservation", description="Flash-sale reservation service")
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("serve", help="HTTP API on $PORT, with the hold reaper and Redis rebuild checks")
    p.add_argument("--server", choices=[k.value for k in ServerKind], default=ServerKind.UVICORN.value)
    p.add_argument("--host", default="0.0.0.0")
    p.add_argument("--workers", type=int, default=1)
    p.add_argument(
        "--redis-batching",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="coalesce concurrent Lua calls into one pipeline per event-loop tick (default on)",
    )
    p.set_defaults(func=_serve)
    m = commands.add_parser("migrate", help="apply pending SQL migrations under an advisory lock")
    m.set_defaults(func=_migrate)
    r = commands.add_parser("relay", help="publish outbox rows to Kafka; /health on $RELAY_HEALTH_PORT (8001)")
    r.set_defaults(func=_relay)
    return parser


def main(argv: list[str] | None = None) -> None:
    configure_logging()
    args = build_parser().parse_args(argv)
    args.func(args)
