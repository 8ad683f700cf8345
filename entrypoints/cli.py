"""Operator commands: `pytake run | migrate | create-superadmin | ...`."""

from __future__ import annotations

import asyncio
import getpass

import typer

from entrypoints.config import load_settings

app = typer.Typer(help="PyTake operator commands", no_args_is_help=True, add_completion=False)


@app.command()
def run() -> None:
    """Serve the API and the worker (embedded PostgreSQL when DATABASE_URL is unset). Ctrl-C stops all."""
    from entrypoints.supervisor import main as supervise

    supervise()


@app.command()
def migrate() -> None:
    """Apply every pending database migration."""
    from entrypoints.container import apply_migrations
    from entrypoints.runtime import resolve_database_url

    apply_migrations(resolve_database_url(load_settings()))
    typer.echo("database is at the newest migration")


@app.command("create-superadmin")
def create_superadmin(
    email: str = typer.Option(..., help="Email of the super_admin"),
    name: str = typer.Option("Platform Admin", help="Display name"),
    password: str | None = typer.Option(None, help="Password (prompted when omitted)", envvar="PYTAKE_PASSWORD"),
) -> None:
    """Create a super_admin in a platform organization, or promote an existing user."""
    from application.use_cases.users.create_superadmin import CreateSuperAdminCommand
    from entrypoints.container import Container
    from entrypoints.runtime import provide, resolve_database_url

    secret = password or getpass.getpass("Password: ")
    settings = load_settings()
    url = resolve_database_url(settings)

    async def _go() -> None:
        container = Container(settings=settings, database_url=url)
        await container.init_resources()  # type: ignore[misc]
        try:
            use_case = await provide(container.create_superadmin)
            user, created = await use_case.execute(
                CreateSuperAdminCommand(email=email, name=name, password=secret))
        finally:
            await container.shutdown_resources()  # type: ignore[misc]
        typer.echo(f"{'created' if created else 'promoted'} super_admin {user.email} (id {user.id})")

    asyncio.run(_go())


def main() -> None:
    app()


if __name__ == "__main__":
    main()
