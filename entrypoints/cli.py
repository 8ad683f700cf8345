"""Operator commands: `pytake run | api | worker | migrate | create-superadmin | ...`."""

from __future__ import annotations

import asyncio
import getpass
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import typer
from pydantic import SecretStr

from entrypoints.config import Settings, load_settings

app = typer.Typer(help="PyTake operator commands", no_args_is_help=True, add_completion=False)


@app.command()
def run() -> None:
    """Serve the API and the worker (embedded PostgreSQL when DATABASE_URL is unset). Ctrl-C stops all."""
    from entrypoints.supervisor import main as supervise

    supervise()


def _server_environment(settings: Settings) -> dict[str, str]:
    """The environment of the API/worker processes: the database URL resolved once (an embedded server is started
    here, not by every process), the settings checked before anything starts (production refuses to)."""
    from entrypoints.runtime import resolve_database_url

    return dict(os.environ, DATABASE_URL=resolve_database_url(settings), DATA_DIR=str(settings.data_dir))


@app.command()
def api() -> None:
    """Serve the API only (HOST, PORT; API_WORKERS server processes). Migrations are `pytake migrate`'s job."""
    from entrypoints.supervisor import api_command

    settings = load_settings()
    env = _server_environment(settings)
    command = api_command(settings.host, settings.port, settings.api_workers)
    os.execve(command[0], command, env)  # the server becomes this process: signals reach it directly


@app.command()
def worker() -> None:
    """Run the worker only: WORKER_PROCESSES processes (metrics on WORKER_METRICS_PORT, + 1, ... when set).
    SIGTERM finishes the jobs in flight, then stops."""
    from entrypoints.supervisor import start, supervise, worker_command, worker_environments

    settings = load_settings()
    env = _server_environment(settings)
    command = worker_command()
    if settings.worker_processes == 1:
        os.execve(command[0], command, env)
    environments = worker_environments(env, settings.worker_processes, settings.worker_metrics_port)
    status = supervise(start([(command, worker_env) for worker_env in environments]),
                       f"PyTake worker: {settings.worker_processes} processes running")
    raise typer.Exit(code=status)


@app.command()
def migrate() -> None:
    """Apply every pending database migration."""
    from entrypoints.maintenance import apply_migrations
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


def _vault_keys_source(settings: Settings) -> Path | None:
    """The generated development file the keys came from, or None when VAULT_MASTER_KEYS is in the environment."""
    if any(name.upper() == "VAULT_MASTER_KEYS" for name in os.environ) or settings.env == "production":
        return None
    return Path(settings.data_dir) / "secrets" / "vault_master_keys.json"


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(temporary, path)


async def _with_container(settings: Settings, work: Callable[[Any], Awaitable[None]]) -> None:
    from entrypoints.container import Container
    from entrypoints.runtime import resolve_database_url

    container = Container(settings=settings, database_url=resolve_database_url(settings))
    await container.init_resources()  # type: ignore[misc]
    try:
        await work(container)
    finally:
        await container.shutdown_resources()  # type: ignore[misc]


@app.command("rotate-master-key")
def rotate_master_key(
    keys_file: Path | None = typer.Option(
        None, "--keys-file", envvar="VAULT_MASTER_KEYS_FILE",
        help="Write the new VAULT_MASTER_KEYS JSON here (0600) when the keys come from the environment"),
    resume: bool = typer.Option(False, "--resume", help="Re-wrap with the newest loaded key; add no new key"),
    batch_size: int = typer.Option(500, min=1, max=10_000, help="Data keys re-wrapped per transaction"),
) -> None:
    """Add a master key version and re-wrap every data key under it (values are never decrypted).

    Resumable: run it again with --resume to finish an interrupted run."""
    from tqdm import tqdm

    from entrypoints.maintenance import add_vault_master_key, vault_master_key_versions
    from entrypoints.runtime import provided

    settings = load_settings()
    current = settings.vault_master_keys.get_secret_value() if settings.vault_master_keys else ""
    if not resume:
        new_text, version = add_vault_master_key(current)
        source = _vault_keys_source(settings)
        target = source if source is not None else keys_file
        if target is None:
            typer.echo("VAULT_MASTER_KEYS comes from the environment. Install this new value (it keeps the old "
                       "versions), restart the API and worker, then run `pytake rotate-master-key --resume`:")
            typer.echo(new_text)
            typer.echo("(or pass --keys-file PATH to have it written to a file and continue now)")
            raise typer.Exit(code=2)
        _write_private(target, new_text)
        typer.echo(f"added master key version {version}; VAULT_MASTER_KEYS written to {target}")
        settings.vault_master_keys = SecretStr(new_text)
        current = new_text
    versions = vault_master_key_versions(current)
    typer.echo(f"re-wrapping data keys under master key version {versions[-1]} (loaded: {versions})")

    async def _go(container: Any) -> None:
        bar = tqdm(total=0, unit="key", desc="re-wrap", disable=None)

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.n = done
            bar.refresh()

        try:
            rotation = await provided(container.rotate_master_key(batch_size=batch_size))
            report = await rotation.execute(progress)
        finally:
            bar.close()
        status = await (await provided(container.describe_vault())).execute()
        typer.echo(f"re-wrapped {report.rewrapped} data key(s); master key versions in use: "
                   f"{sorted(status.kek_versions_in_use) or 'none'}")
        removable = sorted(status.removable_key_versions)
        if status.versions_below_active == 0 and removable:
            typer.echo(f"master key version(s) {removable} can now be removed from VAULT_MASTER_KEYS")

    asyncio.run(_with_container(settings, _go))


@app.command("vault-status")
def vault_status() -> None:
    """Print the master key versions loaded, in use by stored secrets, and what still needs a re-wrap."""
    from entrypoints.runtime import provided

    settings = load_settings()

    async def _go(container: Any) -> None:
        status = await (await provided(container.describe_vault())).execute()
        typer.echo(f"active master key version: {status.active_key_version}")
        typer.echo(f"loaded master key versions: {sorted(status.loaded_key_versions)}")
        typer.echo(f"master key versions in use: {sorted(status.kek_versions_in_use)}")
        typer.echo(f"data keys below the active version: {status.versions_below_active}")
        if status.missing_key_versions:
            typer.echo(f"SEALED: missing master key version(s) {sorted(status.missing_key_versions)}")
            raise typer.Exit(code=1)

    asyncio.run(_with_container(settings, _go))


def openapi_document() -> dict[str, Any]:
    """The API's OpenAPI document, built without a database: the app is created with placeholder secrets and
    a URL it never connects to (connections only open in the lifespan, which does not run here)."""
    from entrypoints.http.app import create_app

    placeholder = SecretStr("openapi-export-placeholder-secret-0123456789")
    settings = Settings(
        env="development", jwt_secret=placeholder, vault_master_keys=placeholder, whatsapp_app_secret=placeholder,
        whatsapp_verify_token=placeholder, log_level="WARNING")
    application = create_app(settings, database_url="postgresql://openapi-export@127.0.0.1:9/unused")
    document: dict[str, Any] = application.openapi()
    return document


@app.command("openapi")
def openapi(
    output: Path | None = typer.Option(None, "--output", "-o", help="Write here instead of standard output"),
) -> None:
    """Print (or write) the OpenAPI document as stable JSON (sorted keys); needs no database."""
    import json

    document = openapi_document()
    text = json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    if output is None:
        typer.echo(text, nl=False)
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    if not output.exists() or output.read_text(encoding="utf-8") != text:  # unchanged: keep the file's mtime
        output.write_text(text, encoding="utf-8")
    typer.echo(f"OpenAPI {document['openapi']} document of {document['info']['title']} "
               f"{document['info']['version']} written to {output}", err=True)


def main() -> None:
    from entrypoints.config import SettingsError
    from entrypoints.embedded_db import EmbeddedDatabaseUnavailable

    try:
        app()
    except (SettingsError, EmbeddedDatabaseUnavailable) as error:  # a configuration to fix: no traceback
        typer.echo(f"pytake: {error}", err=True)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
