"""/users: org admins manage the users of their organization (additive to the contract)."""

from __future__ import annotations

from uuid import UUID

from dependency_injector.wiring import Provide, inject
from fastapi import APIRouter, Depends, Response, status

from application.use_cases.users.create_user import CreateUser, CreateUserCommand
from application.use_cases.users.list_users import ListUsers
from application.use_cases.users.update_user import UpdateUser, UpdateUserCommand
from domain.identity import Role
from entrypoints.http.deps import CurrentActor, PageParams, json_page, provided
from entrypoints.http.errors import error_responses
from entrypoints.http.rendering import ListRenderer
from entrypoints.http.routing import DeprecationAwareRoute
from entrypoints.http.schemas.auth import CreateUserIn, UpdateUserIn, UserOut

router = APIRouter(prefix="/users", tags=["users"], route_class=DeprecationAwareRoute)
_USER_LIST = ListRenderer(UserOut)


@router.get("", response_model=list[UserOut], summary="List the organization's users",
            responses=error_responses(401, 403, 422))
async def list_users(actor: CurrentActor, page: PageParams,
                     use_case: ListUsers = provided("list_users")) -> Response:
    users, total = await use_case.execute(actor, limit=page.limit, offset=page.offset)
    return json_page(_USER_LIST, users, total)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=UserOut,
             summary="Invite a user (an email with a link to set the password is sent when none is given)",
             responses=error_responses(401, 403, 409, 422))
@inject
async def create_user(actor: CurrentActor, body: CreateUserIn,
                      use_case: CreateUser = Depends(Provide["create_user"])) -> UserOut:
    user = await use_case.execute(actor, CreateUserCommand(email=body.email, name=body.name, role=Role(body.role),
                                                           password=body.password))
    return UserOut.model_validate(user)


@router.patch("/{user_id}", response_model=UserOut, summary="Change a user's name, role or active flag",
              responses=error_responses(400, 401, 403, 404, 422))
@inject
async def update_user(actor: CurrentActor, user_id: UUID, body: UpdateUserIn,
                      use_case: UpdateUser = Depends(Provide["update_user"])) -> UserOut:
    user = await use_case.execute(actor, UpdateUserCommand(
        user_id=user_id, name=body.name, role=Role(body.role) if body.role else None, is_active=body.is_active))
    return UserOut.model_validate(user)
