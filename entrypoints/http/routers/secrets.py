"""/secrets: the twelve contract endpoints of the vault (org_admin and super_admin only)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from dependency_injector.wiring import Provide, inject
from fastapi import APIRouter, Body, Depends, Query, Response, status

from application.use_cases.vault.activate_secret import ActivateSecret
from application.use_cases.vault.create_secret import CreateSecret, CreateSecretCommand
from application.use_cases.vault.deactivate_secret import DeactivateSecret
from application.use_cases.vault.delete_secret import DeleteSecret
from application.use_cases.vault.get_secret import GetSecret
from application.use_cases.vault.get_secret_usage import GetSecretUsage
from application.use_cases.vault.list_organization_usage import ListOrganizationUsage
from application.use_cases.vault.list_secrets import ListSecrets
from application.use_cases.vault.reveal_value import RevealSecretValue
from application.use_cases.vault.rotate_secret import RotateSecret
from application.use_cases.vault.update_secret import UpdateSecret, UpdateSecretCommand
from application.use_cases.vault.verify_secret import TestSecret
from domain.vault import UNSET, Secret, SecretEnvironment
from entrypoints.http.deps import CurrentActor, PageParams, json_page, provided, set_total
from entrypoints.http.errors import error_responses
from entrypoints.http.rendering import ListRenderer
from entrypoints.http.routing import DeprecationAwareRoute
from entrypoints.http.schemas.secrets import (
    SecretCreateIn,
    SecretOut,
    SecretRotateIn,
    SecretTestIn,
    SecretTestOut,
    SecretUpdateIn,
    SecretUsageStatsOut,
    SecretValueOut,
)

router = APIRouter(prefix="/secrets", tags=["secrets"], route_class=DeprecationAwareRoute)
_SECRET_LIST = ListRenderer(SecretOut)
_ID_ERRORS = error_responses(401, 403, 404, 422)
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


@router.get("/", response_model=list[SecretOut], summary="List secrets (metadata only, ordered by key)",
            responses=error_responses(401, 403, 422))
async def list_secrets(
    actor: CurrentActor, page: PageParams,
    environment: Annotated[SecretEnvironment | None, Query()] = None,
    service: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    use_case: ListSecrets = provided("list_secrets"),
) -> Response:
    secrets, total = await use_case.execute(actor, environment=environment.value if environment else None,
                                            service=service, limit=page.limit, offset=page.offset)
    return json_page(_SECRET_LIST, [_out(s) for s in secrets], total)


@router.post("/", status_code=status.HTTP_201_CREATED, response_model=SecretOut, summary="Create a secret",
             responses=error_responses(401, 403, 409, 422))
@inject
async def create_secret(actor: CurrentActor, body: SecretCreateIn,
                        use_case: CreateSecret = Depends(Provide["create_secret"])) -> SecretOut:
    secret = await use_case.execute(actor, CreateSecretCommand(
        key=body.key, value=body.value, environment=body.environment.value, service=body.service))
    return SecretOut.model_validate(_out(secret))


@router.get("/usage/organization", response_model=list[SecretUsageStatsOut],
            summary="Usage statistics of every secret of the caller's organization",
            responses=error_responses(401, 403, 422))
@inject
async def organization_usage(actor: CurrentActor, page: PageParams, response: Response,
                             use_case: ListOrganizationUsage = Depends(Provide["list_organization_usage"]),
                             ) -> list[SecretUsageStatsOut]:
    usage, total = await use_case.execute(actor, limit=page.limit, offset=page.offset)
    set_total(response, total)
    return [SecretUsageStatsOut.model_validate(u) for u in usage]


@router.get("/{secret_id}", response_model=SecretOut, summary="Get a secret (metadata only)",
            responses=_ID_ERRORS)
@inject
async def get_secret(actor: CurrentActor, secret_id: UUID,
                     use_case: GetSecret = Depends(Provide["get_secret"])) -> SecretOut:
    return SecretOut.model_validate(_out(await use_case.execute(actor, secret_id)))


@router.get("/{secret_id}/value", response_model=SecretValueOut,
            summary="Reveal the value (audited; Cache-Control: no-store; inactive -> 409 secret_inactive)",
            responses=error_responses(401, 403, 404, 409, 422, 500))
@inject
async def get_secret_value(actor: CurrentActor, secret_id: UUID, response: Response,
                           use_case: RevealSecretValue = Depends(Provide["reveal_secret_value"])) -> SecretValueOut:
    value = await use_case.execute(actor, secret_id)
    response.headers.update(NO_STORE)
    return SecretValueOut(value=value.reveal())


@router.put("/{secret_id}", response_model=SecretOut,
            summary="Update value, environment or service (at least one; a new value makes it 'rotated')",
            responses=error_responses(401, 403, 404, 409, 422))
@inject
async def update_secret(actor: CurrentActor, secret_id: UUID, body: SecretUpdateIn,
                        use_case: UpdateSecret = Depends(Provide["update_secret"])) -> SecretOut:
    given = body.model_dump(exclude_unset=True)
    command = UpdateSecretCommand(
        secret_id=secret_id, value=given["value"] if given.get("value") is not None else UNSET,
        environment=given["environment"].value if given.get("environment") is not None else UNSET,
        service=given["service"] if "service" in given else UNSET)
    return SecretOut.model_validate(_out(await use_case.execute(actor, command)))


@router.delete("/{secret_id}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response,
               summary="Delete a secret (soft: 404 afterwards, the key can be reused)", responses=_ID_ERRORS)
@inject
async def delete_secret(actor: CurrentActor, secret_id: UUID,
                        use_case: DeleteSecret = Depends(Provide["delete_secret"])) -> Response:
    await use_case.execute(actor, secret_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{secret_id}/rotate", response_model=SecretOut,
             summary="Rotate: no body re-keys (same value, new version); {value} changes the value",
             responses=error_responses(401, 403, 404, 409, 422, 500))
@inject
async def rotate_secret(actor: CurrentActor, secret_id: UUID,
                        body: Annotated[SecretRotateIn | None, Body()] = None,
                        use_case: RotateSecret = Depends(Provide["rotate_secret"])) -> SecretOut:
    secret = await use_case.execute(actor, secret_id, body.value if body is not None else None)
    return SecretOut.model_validate(_out(secret))


@router.post("/{secret_id}/activate", response_model=SecretOut,
             summary="Activate (idempotent; finishes a rotation)", responses=_ID_ERRORS)
@inject
async def activate_secret(actor: CurrentActor, secret_id: UUID,
                          use_case: ActivateSecret = Depends(Provide["activate_secret"])) -> SecretOut:
    return SecretOut.model_validate(_out(await use_case.execute(actor, secret_id)))


@router.post("/{secret_id}/deactivate", response_model=SecretOut,
             summary="Deactivate (idempotent; the value is no longer served)", responses=_ID_ERRORS)
@inject
async def deactivate_secret(actor: CurrentActor, secret_id: UUID,
                            use_case: DeactivateSecret = Depends(Provide["deactivate_secret"])) -> SecretOut:
    return SecretOut.model_validate(_out(await use_case.execute(actor, secret_id)))


@router.post("/{secret_id}/test", response_model=SecretTestOut,
             summary="Test a secret: decrypt | format | whatsapp_token (a pass while rotated activates it; "
                     "5 a minute per secret)",
             responses=error_responses(401, 403, 404, 422, 429))
@inject
async def test_secret(actor: CurrentActor, secret_id: UUID, body: Annotated[SecretTestIn | None, Body()] = None,
                      use_case: TestSecret = Depends(Provide["test_secret"])) -> SecretTestOut:
    result = await use_case.execute(actor, secret_id, body.test_type if body is not None else None)
    return SecretTestOut(valid=result.valid, message=result.message)


@router.get("/{secret_id}/usage", response_model=SecretUsageStatsOut, summary="Usage statistics of a secret",
            responses=_ID_ERRORS)
@inject
async def secret_usage(actor: CurrentActor, secret_id: UUID,
                       use_case: GetSecretUsage = Depends(Provide["get_secret_usage"])) -> SecretUsageStatsOut:
    return SecretUsageStatsOut.model_validate(await use_case.execute(actor, secret_id))


def _out(secret: Secret) -> dict[str, object]:
    return {"id": secret.id, "key": secret.key.value, "environment": secret.environment,
            "service": secret.service.value if secret.service else None, "status": secret.status,
            "organization_id": secret.organization_id, "created_at": secret.created_at,
            "updated_at": secret.updated_at, "last_rotated_at": secret.last_rotated_at}
