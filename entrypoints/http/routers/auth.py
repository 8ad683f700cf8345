"""/auth: register, login, refresh, logout, me, forgot-password, reset-password."""

from __future__ import annotations

from dependency_injector.wiring import Provide, inject
from fastapi import APIRouter, Depends, Request, Response, status

from application.use_cases.auth.common import TokenPair
from application.use_cases.auth.forgot_password import ForgotPasswordCommand, RequestPasswordReset
from application.use_cases.auth.login import LoginCommand, LoginUser
from application.use_cases.auth.logout import LogoutUser
from application.use_cases.auth.me import GetCurrentUser
from application.use_cases.auth.refresh import RefreshCommand, RefreshSession
from application.use_cases.auth.register import RegisterCommand, RegisterUser
from application.use_cases.auth.reset_password import ResetPassword, ResetPasswordCommand
from entrypoints.http.deps import CurrentActor, client_ip
from entrypoints.http.errors import error_responses
from entrypoints.http.routing import DeprecationAwareRoute
from entrypoints.http.schemas.auth import (
    ForgotPasswordIn,
    LoginIn,
    MeOut,
    RefreshIn,
    RefreshOut,
    RegisterIn,
    ResetPasswordIn,
    TokenOut,
    UserOut,
)
from entrypoints.http.schemas.common import MessageResponse

router = APIRouter(prefix="/auth", tags=["auth"], route_class=DeprecationAwareRoute)


def _tokens(pair: TokenPair) -> TokenOut:
    return TokenOut(access_token=pair.access_token, refresh_token=pair.refresh_token,
                    user=UserOut.model_validate(pair.user))


@router.post("/register", status_code=status.HTTP_201_CREATED, response_model=TokenOut,
             summary="Create an organization and its first user (org_admin)",
             responses=error_responses(409, 422))
@inject
async def register(body: RegisterIn, use_case: RegisterUser = Depends(Provide["register_user"])) -> TokenOut:
    return _tokens(await use_case.execute(RegisterCommand(
        email=body.email, password=body.password, name=body.name, organization_name=body.organization_name)))


@router.post("/login", response_model=TokenOut, summary="Sign in with email and password",
             responses=error_responses(401, 403, 422, 429))
@inject
async def login(body: LoginIn, request: Request, use_case: LoginUser = Depends(Provide["login_user"])) -> TokenOut:
    return _tokens(await use_case.execute(LoginCommand(email=body.email, password=body.password,
                                                       client_ip=client_ip(request))))


@router.post("/refresh", response_model=RefreshOut, summary="Rotate a refresh token for a new access token",
             responses=error_responses(401, 403, 422))
@inject
async def refresh(body: RefreshIn, use_case: RefreshSession = Depends(Provide["refresh_session"])) -> RefreshOut:
    pair = await use_case.execute(RefreshCommand(refresh_token=body.refresh_token))
    return RefreshOut(access_token=pair.access_token, refresh_token=pair.refresh_token)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT, response_class=Response,
             summary="Revoke this session and its access token", responses=error_responses(401))
@inject
async def logout(actor: CurrentActor, use_case: LogoutUser = Depends(Provide["logout_user"])) -> Response:
    await use_case.execute(actor)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/me", response_model=MeOut, summary="The authenticated user", responses=error_responses(401))
@inject
async def me(actor: CurrentActor, use_case: GetCurrentUser = Depends(Provide["get_current_user"])) -> MeOut:
    return MeOut(user=UserOut.model_validate(await use_case.execute(actor)))


@router.post("/forgot-password", response_model=MessageResponse,
             summary="Email a password-reset link (same answer whether or not the email exists)",
             responses=error_responses(422, 429))
@inject
async def forgot_password(
    body: ForgotPasswordIn, request: Request,
    use_case: RequestPasswordReset = Depends(Provide["request_password_reset"]),
) -> MessageResponse:
    message = await use_case.execute(ForgotPasswordCommand(email=body.email, client_ip=client_ip(request)))
    return MessageResponse(message=message)


@router.post("/reset-password", response_model=MessageResponse, summary="Set a new password with a reset token",
             responses=error_responses(400, 422, 429))
@inject
async def reset_password(body: ResetPasswordIn, request: Request,
                         use_case: ResetPassword = Depends(Provide["reset_password"])) -> MessageResponse:
    message = await use_case.execute(ResetPasswordCommand(token=body.token, new_password=body.new_password,
                                                          client_ip=client_ip(request)))
    return MessageResponse(message=message)
