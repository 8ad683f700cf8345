"""Contact imports on the fakes: upload checks, the worker's batches, modes, row errors, resuming after a failure
without double counting, retries, tenancy; and the CSV export (SPEC additions of issue #14 part 4)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from application.authorization import Actor
from application.jobs import ImportContacts
from application.ports.uow import TransactionConflict
from application.use_cases.contacts.create_contact import CreateContactCommand
from application.use_cases.contacts.csv_format import FIELDS
from application.use_cases.contacts.start_contact_import import StartImportCommand
from domain.contact_imports import (
    ContactImport,
    ContactImportNotFound,
    ImportFileTooLarge,
    ImportNotRetryable,
    ImportStatus,
    InvalidImportFile,
    InvalidMapping,
    TooManyRows,
)
from domain.contacts import Contact
from domain.errors import InvalidValue, PermissionDenied
from domain.identity import Role
from tests.bootstrap import bootstrap_test_app
from tests.unit.conftest import UseCases

pytestmark = pytest.mark.unit


class Imports:
    def __init__(self, core: UseCases, *, batch_rows: int = 10, max_rows: int = 500_000,
                 max_bytes: int = 20 * 1024 * 1024) -> None:
        self.core = core
        app = bootstrap_test_app(uow=core.uow, clock=core.clock, arguments={
            "start_contact_import": {"max_bytes": max_bytes, "max_rows": max_rows},
            "run_contact_import": {"batch_rows": batch_rows, "max_rows": max_rows}})
        self.start = app.start_contact_import
        self.run = app.run_contact_import
        self.get = app.get_contact_import
        self.list = app.list_contact_imports
        self.retry = app.retry_contact_import
        self.fail = app.fail_contact_import

    async def upload(self, actor: Actor, text: str, **fields: object) -> ContactImport:
        return await self.start.execute(actor, StartImportCommand(content=text.encode(), filename="list.csv",
                                                                  **fields))  # type: ignore[arg-type]

    async def work(self) -> None:
        """What the worker does: every queued import job, once."""
        for job in self.core.store.job_queue.take(ImportContacts.entrypoint):
            await self.run.execute(uuid_of(job.payload["organization_id"]), uuid_of(job.payload["import_id"]))

    async def imported(self, actor: Actor, text: str, **fields: object) -> ContactImport:
        started = await self.upload(actor, text, **fields)
        await self.work()
        return await self.get.execute(actor, started.id)


def uuid_of(value: object) -> object:
    from uuid import UUID

    return UUID(str(value))


def csv_of(count: int, *, start: int = 0, name: str = "Contact {n}", extra: str = "") -> str:
    lines = ["whatsapp_id,name,email,tags" + (",attributes.city" if extra else "")]
    lines += [f"55119{n:08d},{name.format(n=n)},c{n}@example.com,vip" + (f",{extra}" if extra else "")
              for n in range(start, start + count)]
    return "\n".join(lines) + "\n"


def contacts_of(core: UseCases, actor: Actor) -> dict[str, Contact]:
    return {c.whatsapp_id: c for c in core.store.contacts.values() if c.organization_id == actor.organization_id}


def counts(found: ContactImport) -> tuple[int | None, int, int, int, int, int, int]:
    return (found.rows_total, found.rows_processed, found.created, found.updated, found.unchanged, found.duplicates,
            found.failed)


@pytest.fixture
async def admin(core: UseCases) -> Actor:
    return (await core.new_organization())[1]


class TestUpload:
    async def test_stores_the_file_and_queues_the_job(self, core: UseCases, admin: Actor) -> None:
        imports = Imports(core)
        started = await imports.upload(admin, "Telefone;Nome\n5511987654321;Ana\n",
                                       mapping={"Telefone": "whatsapp_id", "Nome": "name"}, mode="upsert")
        assert (started.status, started.mode.value, started.delimiter, started.mapping, started.rows_total) == (
            ImportStatus.QUEUED, "upsert", ";", {"Telefone": "whatsapp_id", "Nome": "name"}, None)
        assert core.store.import_files[started.id] == b"Telefone;Nome\n5511987654321;Ana\n"
        [job] = core.store.job_queue.pending(ImportContacts.entrypoint)
        assert job.payload == {"organization_id": str(admin.organization_id), "import_id": str(started.id)}
        assert contacts_of(core, admin) == {}  # nothing is imported before the worker runs

    async def test_agents_import_and_viewers_may_not(self, core: UseCases, admin: Actor) -> None:
        imports = Imports(core)
        agent = await core.actor_with_role(admin.organization_id, Role.AGENT)
        viewer = await core.actor_with_role(admin.organization_id, Role.VIEWER)
        assert (await imports.upload(agent, csv_of(1))).status is ImportStatus.QUEUED
        with pytest.raises(PermissionDenied):
            await imports.upload(viewer, csv_of(1))
        assert (await imports.get.execute(viewer, (await imports.list.execute(viewer, limit=5, offset=0))[0][0].id)
                ).created_by == agent.user_id  # viewers read imports

    @pytest.mark.parametrize(("text", "fields", "error", "code"), [
        ("whatsapp_id\n" + "5511987654321\n" * 40, {}, ImportFileTooLarge, "import_file_too_large"),
        ("whatsapp_id\n" + "5511987654321\n" * 6, {}, TooManyRows, "too_many_rows"),
        ("whatsapp_id\n\n", {}, InvalidImportFile, "invalid_csv"),
        ("name\nAna\n", {}, InvalidMapping, "invalid_mapping"),
        ("whatsapp_id\n5511987654321\n", {"mode": "merge"}, InvalidValue, "invalid_value"),
        ("whatsapp_id\n5511987654321\n", {"delimiter": "\t"}, InvalidImportFile, "invalid_csv"),
    ])
    async def test_what_is_cheap_to_check_is_refused_at_upload(self, core: UseCases, admin: Actor, text: str,
                                                               fields: dict[str, str], error: type[Exception],
                                                               code: str) -> None:
        imports = Imports(core, max_rows=5, max_bytes=300)
        with pytest.raises(error) as raised:
            await imports.upload(admin, text, **fields)
        assert getattr(raised.value, "code", None) == code
        assert core.store.contact_imports == {} and core.store.job_queue.pending() == []


class TestRun:
    async def test_batches_count_rows_errors_and_duplicates(self, core: UseCases, admin: Actor) -> None:
        text = csv_of(25) + "5511900000000,Repeat of row 2,,\n12345,Too short,,\nbad,Nope,,\n"
        found = await Imports(core, batch_rows=10).imported(admin, text)
        assert found.status is ImportStatus.COMPLETED and found.finished_at == core.clock.now()
        assert counts(found) == (28, 28, 25, 0, 0, 1, 2)
        assert [(e.line, e.column, e.error_code) for e in found.errors] == [
            (28, "whatsapp_id", "invalid_whatsapp_id"), (29, "whatsapp_id", "invalid_whatsapp_id")]
        stored = contacts_of(core, admin)
        assert len(stored) == 25 and stored["5511900000000"].name == "Contact 0"  # the first row won
        assert (stored["5511900000007"].email, stored["5511900000007"].tags) == ("c7@example.com", ["vip"])
        assert found.id not in core.store.import_files  # the file goes once the import completed

    async def test_only_the_first_100_row_errors_are_kept_but_all_are_counted(self, core: UseCases,
                                                                             admin: Actor) -> None:
        text = "whatsapp_id,email\n" + "".join(f"55119{n:08d},not-an-email\n" for n in range(150))
        found = await Imports(core, batch_rows=40).imported(admin, text)
        assert (found.failed, len(found.errors), found.errors[0].line, found.errors[-1].line) == (150, 100, 2, 101)
        assert {e.error_code for e in found.errors} == {"invalid_email"} and contacts_of(core, admin) == {}

    async def test_create_only_leaves_existing_contacts_as_they_are(self, core: UseCases, admin: Actor) -> None:
        await core.create_contact.execute(admin, CreateContactCommand(whatsapp_id="5511900000001", name="Kept"))
        found = await Imports(core).imported(admin, csv_of(3))
        assert counts(found)[2:] == (2, 0, 1, 0, 0)
        assert contacts_of(core, admin)["5511900000001"].name == "Kept"

    async def test_upsert_updates_what_changed_keeps_empty_cells_and_merges_attributes(self, core: UseCases,
                                                                                      admin: Actor) -> None:
        await core.create_contact.execute(admin, CreateContactCommand(
            whatsapp_id="5511900000001", name="Old", email="old@example.com", tags=["old"],
            attributes={"plan": "gold"}))
        await core.create_contact.execute(admin, CreateContactCommand(
            whatsapp_id="5511900000002", name="Same", email="same@example.com", tags=["vip"]))
        core.clock.advance(minutes=5)
        text = ("whatsapp_id,name,email,tags,attributes.city\n"
                "5511900000001,New,,a|b,Recife\n"  # email empty: kept; tags replaced; attributes merged
                "5511900000002,Same,same@example.com,vip,\n"  # nothing differs
                "5511900000003,Created,,,\n")
        found = await Imports(core).imported(admin, text, mode="upsert")
        assert counts(found)[2:] == (1, 1, 1, 0, 0)
        stored = contacts_of(core, admin)
        one = stored["5511900000001"]
        assert (one.name, one.email, one.tags, one.attributes) == ("New", "old@example.com", ["a", "b"],
                                                                   {"plan": "gold", "city": "Recife"})
        assert one.updated_at == core.clock.now() and stored["5511900000002"].updated_at < core.clock.now()
        assert (stored["5511900000003"].name, stored["5511900000003"].tags) == ("Created", [])

    async def test_importing_the_same_file_again_in_upsert_mode_changes_nothing(self, core: UseCases,
                                                                               admin: Actor) -> None:
        imports, text = Imports(core), csv_of(12, extra="Natal")
        first = await imports.imported(admin, text, mode="upsert")
        before = {k: (c.name, c.email, c.tags, c.attributes, c.updated_at) for k, c in contacts_of(core, admin).items()}
        core.clock.advance(hours=1)
        second = await imports.imported(admin, text, mode="upsert")
        assert counts(first)[2:] == (12, 0, 0, 0, 0) and counts(second)[2:] == (0, 0, 12, 0, 0)
        after = {k: (c.name, c.email, c.tags, c.attributes, c.updated_at) for k, c in contacts_of(core, admin).items()}
        assert after == before

    async def test_a_file_past_the_row_limit_fails_the_import_in_the_worker(self, core: UseCases,
                                                                           admin: Actor) -> None:
        started = await Imports(core).upload(admin, csv_of(8))
        worker = Imports(core, max_rows=5)  # the limit the worker holds (the upload checked a larger one)
        await worker.work()
        found = await worker.get.execute(admin, started.id)
        assert (found.status, found.failure_code, found.rows_processed) == (ImportStatus.FAILED, "too_many_rows", 0)
        assert "8 rows" in (found.failure_reason or "") and contacts_of(core, admin) == {}


class TestResume:
    async def test_a_failed_batch_leaves_nothing_and_the_retry_resumes_without_double_counting(
            self, core: UseCases, admin: Actor) -> None:
        imports = Imports(core, batch_rows=10)
        started = await imports.upload(admin, csv_of(35) + "5511900000003,dup,,\nnope,bad,,\n", mode="upsert")
        job = core.store.job_queue.pending(ImportContacts.entrypoint)[0]
        core.uow.conflicting_numbers = {"5511900000024"}  # the third batch (rows 21..30) fails
        with pytest.raises(TransactionConflict):
            await imports.run.execute(admin.organization_id, started.id)
        halfway = await imports.get.execute(admin, started.id)
        assert (halfway.status, counts(halfway)) == (ImportStatus.RUNNING, (37, 20, 20, 0, 0, 0, 0))
        assert sorted(contacts_of(core, admin)) == [f"55119{n:08d}" for n in range(20)]  # batch 3: nothing

        core.uow.conflicting_numbers = set()
        await imports.run.execute(uuid_of(job.payload["organization_id"]), started.id)  # the job, retried
        done = await imports.get.execute(admin, started.id)
        assert (done.status, counts(done)) == (ImportStatus.COMPLETED, (37, 37, 35, 0, 0, 1, 1))
        assert [e.line for e in done.errors] == [38]
        assert len(contacts_of(core, admin)) == 35
        await imports.run.execute(admin.organization_id, started.id)  # a late duplicate of the job: nothing
        assert counts(await imports.get.execute(admin, started.id)) == counts(done)

    async def test_a_second_run_skips_the_batches_another_run_committed(self, core: UseCases, admin: Actor) -> None:
        imports = Imports(core, batch_rows=10)
        started = await imports.upload(admin, csv_of(30))
        prepared = await imports.run._prepare(admin.organization_id, started.id)  # run A parsed the file...
        assert prepared is not None
        await imports.run.execute(admin.organization_id, started.id)  # ...while run B did the whole import
        assert await imports.run._batch(admin.organization_id, started.id, prepared[0], 0) == -1  # A finds it done
        assert counts(await imports.get.execute(admin, started.id)) == (30, 30, 30, 0, 0, 0, 0)

    async def test_a_job_that_gave_up_fails_the_import_and_retry_resumes_it(self, core: UseCases,
                                                                           admin: Actor) -> None:
        imports = Imports(core, batch_rows=10)
        started = await imports.upload(admin, csv_of(25))
        core.uow.conflicting_numbers = {"5511900000015"}
        with pytest.raises(TransactionConflict):
            await imports.work()
        await imports.fail.execute(admin.organization_id, started.id, code="import_interrupted", reason="gave up")
        failed = await imports.get.execute(admin, started.id)
        assert (failed.status, failed.failure_code, failed.rows_processed) == (ImportStatus.FAILED,
                                                                              "import_interrupted", 10)
        core.uow.conflicting_numbers = set()
        core.clock.advance(timedelta(minutes=1))
        again = await imports.retry.execute(admin, started.id)
        assert (again.status, again.failure_code) == (ImportStatus.QUEUED, None)
        await imports.work()
        done = await imports.get.execute(admin, started.id)
        assert (done.status, counts(done)) == (ImportStatus.COMPLETED, (25, 25, 25, 0, 0, 0, 0))
        with pytest.raises(ImportNotRetryable):
            await imports.retry.execute(admin, started.id)


class TestTenancy:
    async def test_another_organization_never_sees_an_import(self, core: UseCases, admin: Actor) -> None:
        imports = Imports(core)
        started = await imports.upload(admin, csv_of(2))
        other = (await core.new_organization())[1]
        with pytest.raises(ContactImportNotFound):
            await imports.get.execute(other, started.id)
        with pytest.raises(ContactImportNotFound):
            await imports.retry.execute(other, started.id)
        assert await imports.list.execute(other, limit=10, offset=0) == ([], 0)
        await imports.work()
        assert contacts_of(core, other) == {} and len(contacts_of(core, admin)) == 2


async def _export(core: UseCases, actor: Actor, page_size: int = 3, **filters: str) -> list[list[str]]:
    export = bootstrap_test_app(uow=core.uow, arguments={"export_contacts": {"page_size": page_size}}).export_contacts
    chunks = [c async for c in export.execute(actor, **filters)]
    return [line.split(",") for line in "".join(chunks).splitlines()]


class TestExport:
    async def test_streams_every_contact_newest_first_in_pages(self, core: UseCases, admin: Actor) -> None:
        for n in range(7):
            core.clock.advance(seconds=1)
            await core.create_contact.execute(admin, CreateContactCommand(
                whatsapp_id=f"55119{n:08d}", name=f"Name {n}", tags=["vip"] if n % 2 else []))
        other = (await core.new_organization())[1]
        await core.create_contact.execute(other, CreateContactCommand(whatsapp_id="5511999999999", tags=["vip"]))
        viewer = await core.actor_with_role(admin.organization_id, Role.VIEWER)
        lines = await _export(core, viewer)
        assert lines[0] == list(FIELDS)
        assert [line[0] for line in lines[1:]] == [f"55119{n:08d}" for n in reversed(range(7))]
        assert [line[0] for line in (await _export(core, admin, tag="VIP"))[1:]] == [
            "5511900000005", "5511900000003", "5511900000001"]
        assert [line[0] for line in (await _export(core, admin, query="name 4"))[1:]] == ["5511900000004"]
        assert len(await _export(core, other)) == 2

    async def test_an_export_imports_back_unchanged(self, core: UseCases, admin: Actor) -> None:
        await core.create_contact.execute(admin, CreateContactCommand(
            whatsapp_id="5511900000001", name="=1+1", email="ana@example.com", tags=["vip", "lead"],
            attributes={"city": "São Paulo", "n": 3}))
        text = "".join([c async for c in core.app.export_contacts.execute(admin)])
        found = await Imports(core).imported(admin, text, mode="upsert")
        assert counts(found)[2:] == (0, 0, 1, 0, 0)
