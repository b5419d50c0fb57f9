"""``fintrust serve``: the merchant app (notifications, API, pages) under uvicorn."""

from __future__ import annotations

import click

from fintrust.cli._services import build_services, load_settings

__all__ = ["serve"]


@click.command("serve", short_help="Serve the merchant app (notifications, API, pages).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option(
    "--port", type=click.IntRange(1, 65535), default=8000, show_default=True, help="Port."
)
@click.option(
    "--log-level",
    type=click.Choice(["critical", "error", "warning", "info", "debug"]),
    default="info",
    show_default=True,
    help="Log level of the app and uvicorn (FINTRUST_LOG_FORMAT: json, console or auto).",
)
@click.option(
    "--no-upgrade", is_flag=True, help="Do not apply database migrations before starting."
)
def serve(*, host: str, port: int, log_level: str, no_upgrade: bool) -> None:
    """Serve the merchant app: POST /trustly/notifications, the merchant API (OpenAPI at
    /docs) and the customer pages. Applies the database migrations first (as `fintrust db
    upgrade`). Run `fintrust worker` beside it to send calls to Trustly.

    Settings come from FINTRUST_* variables (or .env): at least FINTRUST_TRUSTLY_USERNAME,
    FINTRUST_TRUSTLY_PASSWORD, FINTRUST_TRUSTLY_PRIVATE_KEY_FILE, FINTRUST_NOTIFICATION_URL and
    FINTRUST_DATABASE_URL.

    \b
    Examples:
      fintrust serve
      fintrust serve --host 0.0.0.0 --port 8080
    """
    import uvicorn  # noqa: PLC0415 - the web server is imported only to serve

    from fintrust.adapters.db.migrate import upgrade  # noqa: PLC0415
    from fintrust.logs import configure_logging  # noqa: PLC0415
    from fintrust.web.app import create_app  # noqa: PLC0415
    from fintrust.web.notifications import PATH  # noqa: PLC0415

    settings = load_settings()
    # Each notification has a line of its own (fintrust.notifications); uvicorn's access line
    # would repeat it, with less in it, at ~15 µs more a notification.
    configure_logging(log_level, log_format=settings.log_format, quiet_paths={PATH})
    services = build_services(settings)
    if not no_upgrade:
        try:
            upgrade(services.engine)
        except Exception as exc:
            raise click.ClickException(
                f"cannot upgrade the database at "
                f"{services.engine.url.render_as_string(hide_password=True)}: {exc}"
            ) from None
    if services.settings.acceptance_hook:
        click.secho(
            "FINTRUST_ACCEPTANCE_HOOK is on: /_acceptance creates customers and books money "
            "without Trustly. Never turn it on in production.",
            fg="yellow",
            err=True,
        )
    try:
        # log_config=None: uvicorn's records go through our handler, in our format.
        uvicorn.run(
            create_app(services), host=host, port=port, log_level=log_level, log_config=None
        )
    finally:
        services.engine.dispose()
        services.trustly.client.close()
