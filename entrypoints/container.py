"""The composition root: the only module that imports adapters."""

from __future__ import annotations

from datetime import timedelta

from dependency_injector import containers, providers

from adapters.clock import SystemClock
from adapters.http.caller import HttpxFlowHttpCaller
from adapters.postgres.access_cache import CachedAccessCheck
from adapters.postgres.counting import ListCounter
from adapters.postgres.database import create_session_factory
from adapters.postgres.event_listener import AsyncpgEventNotifications
from adapters.postgres.inbox import AsyncpgWebhookInbox, inbox_pool
from adapters.postgres.jobs import release_jobs_of
from adapters.postgres.migrations import current_revision, head_revision
from adapters.postgres.operations import PostgresOperationsMonitor
from adapters.postgres.reads import AsyncpgAccessCheck, AsyncpgContactListing
from adapters.postgres.reads import read_pool as open_read_pool
from adapters.postgres.repositories.pacing import PostgresSendPacer
from adapters.postgres.uow import SqlAlchemyUnitOfWorkFactory
from adapters.security.argon2_hasher import Argon2PasswordHasher
from adapters.security.jwt_tokens import JwtAccessTokenService
from adapters.whatsapp.decoder import MetaWebhookDecoder
from adapters.whatsapp.graph_client import AiohttpWhatsAppGateway, graph_session
from adapters.whatsapp.media import AiohttpMediaStore
from adapters.whatsapp.token_checker import HttpxWhatsAppTokenChecker
from application.messaging.routing import InboundRouter
from application.messaging.statuses import StatusRecorder
from application.messaging.webhooks import WebhookApplier
from application.use_cases.auth.authenticate import AuthenticateRequest
from application.use_cases.auth.common import AuthPolicy
from application.use_cases.auth.forgot_password import RequestPasswordReset
from application.use_cases.auth.login import LoginUser
from application.use_cases.auth.logout import LogoutUser
from application.use_cases.auth.me import GetCurrentUser
from application.use_cases.auth.refresh import RefreshSession
from application.use_cases.auth.register import RegisterUser
from application.use_cases.auth.reset_password import ResetPassword
from application.use_cases.automations.cancel_automation import CancelAutomation
from application.use_cases.automations.create_automation import CreateAutomation
from application.use_cases.automations.dispatch import DispatchAutomation
from application.use_cases.automations.get_automation import GetAutomation
from application.use_cases.automations.get_automation_stats import GetAutomationStats
from application.use_cases.automations.list_automations import ListAutomations
from application.use_cases.automations.list_recipients import ListRecipients
from application.use_cases.automations.pause_automation import PauseAutomation
from application.use_cases.automations.resume_automation import ResumeAutomation
from application.use_cases.automations.start_automation import StartAutomation
from application.use_cases.automations.stop_automation_dispatch import StopAutomationDispatch
from application.use_cases.automations.tracking import AutomationTracker
from application.use_cases.contacts.create_contact import CreateContact
from application.use_cases.contacts.delete_contact import DeleteContact
from application.use_cases.contacts.export import ExportContacts
from application.use_cases.contacts.fail_contact_import import FailContactImport
from application.use_cases.contacts.get_contact import GetContact
from application.use_cases.contacts.get_contact_import import GetContactImport
from application.use_cases.contacts.list_contact_imports import ListContactImports
from application.use_cases.contacts.retry_contact_import import RetryContactImport
from application.use_cases.contacts.run_contact_import import RunContactImport
from application.use_cases.contacts.search_contacts import SearchContacts
from application.use_cases.contacts.start_contact_import import StartContactImport
from application.use_cases.contacts.update_contact import UpdateContact
from application.use_cases.conversations.assign_conversation import AssignConversation
from application.use_cases.conversations.close_conversation import CloseConversation
from application.use_cases.conversations.get_conversation import GetConversation
from application.use_cases.conversations.list_conversation_messages import ListConversationMessages
from application.use_cases.conversations.list_conversations import ListConversations
from application.use_cases.conversations.mark_conversation_read import MarkConversationRead
from application.use_cases.events.hub import EventHub
from application.use_cases.events.issue_event_ticket import IssueEventTicket
from application.use_cases.events.publish_progress import PublishProgress
from application.use_cases.events.purge_events import PurgeEvents
from application.use_cases.events.redeem_event_ticket import RedeemEventTicket
from application.use_cases.events.stream import StreamEvents
from application.use_cases.flows.create_flow import CreateFlow
from application.use_cases.flows.delete_flow import DeleteFlow
from application.use_cases.flows.deliver_flow_event import DeliverFlowEvent
from application.use_cases.flows.expire_executions import ExpireFlowExecutions
from application.use_cases.flows.fail_flow_execution import FailFlowExecution
from application.use_cases.flows.get_flow import GetFlow
from application.use_cases.flows.inbound import ReleaseConversation
from application.use_cases.flows.list_executions import ListExecutions
from application.use_cases.flows.list_flows import ListFlows
from application.use_cases.flows.run_http_call import RunFlowHttpCall
from application.use_cases.flows.runtime import FlowRuntime
from application.use_cases.flows.simulate import SimulateFlow
from application.use_cases.flows.update_flow import UpdateFlow
from application.use_cases.operations.list_dead_letters import ListDeadLetters
from application.use_cases.operations.read_operational_stats import ReadOperationalStats
from application.use_cases.users.create_superadmin import CreateSuperAdmin
from application.use_cases.users.create_user import CreateUser
from application.use_cases.users.list_users import ListUsers
from application.use_cases.users.update_user import UpdateUser
from application.use_cases.vault.activate_secret import ActivateSecret
from application.use_cases.vault.count_secret_uses import CountSecretUses
from application.use_cases.vault.create_secret import CreateSecret
from application.use_cases.vault.deactivate_secret import DeactivateSecret
from application.use_cases.vault.delete_secret import DeleteSecret
from application.use_cases.vault.describe_vault import DescribeVault
from application.use_cases.vault.get_secret import GetSecret
from application.use_cases.vault.get_secret_usage import GetSecretUsage
from application.use_cases.vault.list_organization_usage import ListOrganizationUsage
from application.use_cases.vault.list_secrets import ListSecrets
from application.use_cases.vault.report_secret_failure import ReportSecretFailure
from application.use_cases.vault.resolve_secret import ResolveSecret
from application.use_cases.vault.reveal_value import RevealSecretValue
from application.use_cases.vault.rotate_master_key import RotateMasterKey
from application.use_cases.vault.rotate_secret import RotateSecret
from application.use_cases.vault.secret_lookup import SecretLookup
from application.use_cases.vault.update_secret import UpdateSecret
from application.use_cases.vault.vault_secret_resolver import VaultSecretResolver
from application.use_cases.vault.verify_secret import TestSecret
from application.use_cases.whatsapp.enqueue_template_syncs import EnqueueTemplateSyncs
from application.use_cases.whatsapp.fail_media_upload import FailMediaUpload
from application.use_cases.whatsapp.get_media_upload import GetMediaUpload
from application.use_cases.whatsapp.get_message import GetMessage
from application.use_cases.whatsapp.get_number import GetNumber
from application.use_cases.whatsapp.give_up_number_verification import GiveUpNumberVerification
from application.use_cases.whatsapp.ingest_webhook import IngestWebhook
from application.use_cases.whatsapp.list_contact_messages import ListContactMessages
from application.use_cases.whatsapp.list_numbers import ListNumbers
from application.use_cases.whatsapp.list_templates import ListTemplates
from application.use_cases.whatsapp.mark_message_read import MarkMessageRead
from application.use_cases.whatsapp.media import GetInboundMedia
from application.use_cases.whatsapp.process_inbox import InboxObserver, ProcessInbox
from application.use_cases.whatsapp.reconcile_unconfirmed_sends import ReconcileUnconfirmedSends
from application.use_cases.whatsapp.register_number import RegisterNumber
from application.use_cases.whatsapp.request_template_sync import RequestTemplateSync
from application.use_cases.whatsapp.run_mark_read import RunMarkRead
from application.use_cases.whatsapp.run_media_upload import RunMediaUpload
from application.use_cases.whatsapp.send_message import SendMessage
from application.use_cases.whatsapp.send_queued_messages import SendObserver, SendQueuedMessages
from application.use_cases.whatsapp.start_media_upload import StartMediaUpload
from application.use_cases.whatsapp.sync_templates import SyncTemplates
from application.use_cases.whatsapp.verify_number import VerifyNumber
from entrypoints import resources
from entrypoints.config import Settings


class Container(containers.DeclarativeContainer):
    settings = providers.Dependency(instance_of=Settings)
    database_url = providers.Dependency(instance_of=str)

    engine = providers.Resource(resources.engine_resource, database_url=database_url,
                                app_role=settings.provided.database_app_role,
                                pool_size=settings.provided.database_pool_size,
                                pre_ping=settings.provided.database_pool_pre_ping)
    session_factory = providers.Singleton(create_session_factory, engine)
    list_counter = providers.Singleton(ListCounter, exact_limit=settings.provided.list_count_exact_limit,
                                       cache_seconds=settings.provided.list_count_cache_seconds)
    uow = providers.Singleton(SqlAlchemyUnitOfWorkFactory, session_factory, counter=list_counter)
    clock = providers.Singleton(SystemClock)
    hasher = providers.Singleton(Argon2PasswordHasher, time_cost=settings.provided.password_hash_time_cost,
                                 memory_cost_kib=settings.provided.password_hash_memory_kib,
                                 max_concurrent=settings.provided.password_hash_concurrency)
    tokens = providers.Singleton(
        JwtAccessTokenService, secret=providers.Callable(resources.secret_text, settings.provided.jwt_secret),
        ttl=providers.Callable(lambda m: timedelta(minutes=m), settings.provided.access_token_minutes))
    auth_policy = providers.Singleton(
        AuthPolicy, frontend_url=settings.provided.frontend_url,
        refresh_ttl=providers.Callable(lambda d: timedelta(days=d), settings.provided.refresh_token_days))
    mailer = providers.Singleton(resources.mailer, settings)

    # migrations, for the readiness probe
    head_revision = providers.Callable(head_revision)
    current_revision = providers.Callable(current_revision, engine)

    # auth
    register_user = providers.Factory(RegisterUser, uow=uow, hasher=hasher, tokens=tokens, clock=clock,
                                      policy=auth_policy)
    login_user = providers.Factory(LoginUser, uow=uow, hasher=hasher, tokens=tokens, clock=clock,
                                   policy=auth_policy)
    refresh_session = providers.Factory(RefreshSession, uow=uow, tokens=tokens, clock=clock, policy=auth_policy)
    logout_user = providers.Factory(LogoutUser, uow=uow, clock=clock)
    get_current_user = providers.Factory(GetCurrentUser, uow=uow)
    read_pool = providers.Resource(open_read_pool, providers.Callable(resources.plain_dsn, database_url),
                                   app_role=settings.provided.database_app_role,
                                   size=settings.provided.database_pool_size)
    access_check = providers.Singleton(
        CachedAccessCheck, providers.Singleton(AsyncpgAccessCheck, read_pool),
        providers.Callable(resources.plain_dsn, database_url), seconds=settings.provided.auth_cache_seconds)
    contact_listing = providers.Singleton(AsyncpgContactListing, read_pool, list_counter)
    authenticate = providers.Factory(AuthenticateRequest, access=access_check, tokens=tokens, clock=clock)
    request_password_reset = providers.Factory(RequestPasswordReset, uow=uow, clock=clock, policy=auth_policy)
    reset_password = providers.Factory(ResetPassword, uow=uow, hasher=hasher, clock=clock, policy=auth_policy)

    # users
    list_users = providers.Factory(ListUsers, uow=uow)
    create_user = providers.Factory(CreateUser, uow=uow, hasher=hasher, clock=clock, policy=auth_policy)
    update_user = providers.Factory(UpdateUser, uow=uow, clock=clock)
    create_superadmin = providers.Factory(CreateSuperAdmin, uow=uow, hasher=hasher, clock=clock)

    # contacts
    create_contact = providers.Factory(CreateContact, uow=uow, clock=clock)
    search_contacts = providers.Factory(SearchContacts, listing=contact_listing)
    get_contact = providers.Factory(GetContact, uow=uow)
    update_contact = providers.Factory(UpdateContact, uow=uow, clock=clock)
    delete_contact = providers.Factory(DeleteContact, uow=uow)
    start_contact_import = providers.Factory(StartContactImport, uow=uow, clock=clock)
    get_contact_import = providers.Factory(GetContactImport, uow=uow)
    list_contact_imports = providers.Factory(ListContactImports, uow=uow)
    retry_contact_import = providers.Factory(RetryContactImport, uow=uow, clock=clock)
    run_contact_import = providers.Factory(RunContactImport, uow=uow, clock=clock)
    fail_contact_import = providers.Factory(FailContactImport, uow=uow, clock=clock)
    export_contacts = providers.Factory(ExportContacts, uow=uow)

    # secrets vault
    vault_cipher = providers.Singleton(resources.vault_cipher, settings)
    vault_http_client = providers.Resource(resources.vault_http_client)
    vault_token_checker = providers.Singleton(
        HttpxWhatsAppTokenChecker, vault_http_client, base_url=settings.provided.whatsapp_graph_url,
        api_version=settings.provided.whatsapp_api_version)
    check_vault_seal = providers.Coroutine(resources.check_vault_seal, uow=uow, cipher=vault_cipher)
    list_secrets = providers.Factory(ListSecrets, uow=uow)
    get_secret = providers.Factory(GetSecret, uow=uow)
    reveal_secret_value = providers.Factory(RevealSecretValue, uow=uow, cipher=vault_cipher, clock=clock)
    create_secret = providers.Factory(CreateSecret, uow=uow, cipher=vault_cipher, clock=clock)
    update_secret = providers.Factory(UpdateSecret, uow=uow, cipher=vault_cipher, clock=clock)
    delete_secret = providers.Factory(DeleteSecret, uow=uow, clock=clock)
    rotate_secret = providers.Factory(RotateSecret, uow=uow, cipher=vault_cipher, clock=clock)
    activate_secret = providers.Factory(ActivateSecret, uow=uow, clock=clock)
    deactivate_secret = providers.Factory(DeactivateSecret, uow=uow, clock=clock)
    test_secret = providers.Factory(TestSecret, uow=uow, cipher=vault_cipher, clock=clock,
                                    checker=vault_token_checker)
    get_secret_usage = providers.Factory(GetSecretUsage, uow=uow)
    list_organization_usage = providers.Factory(ListOrganizationUsage, uow=uow)
    resolve_secret = providers.Factory(ResolveSecret, uow=uow, cipher=vault_cipher, clock=clock)
    report_secret_failure = providers.Factory(ReportSecretFailure, uow=uow, clock=clock)
    count_secret_uses = providers.Factory(CountSecretUses, uow=uow, clock=clock)
    secret_resolver = providers.Singleton(VaultSecretResolver, resolve=resolve_secret, report=report_secret_failure,
                                          count=count_secret_uses)
    rotate_master_key = providers.Factory(RotateMasterKey, uow=uow, cipher=vault_cipher)
    describe_vault = providers.Factory(DescribeVault, uow=uow, cipher=vault_cipher)

    # WhatsApp channel
    graph_session = providers.Resource(graph_session)
    whatsapp_gateway = providers.Singleton(
        AiohttpWhatsAppGateway, graph_session, base_url=settings.provided.whatsapp_graph_url,
        api_version=settings.provided.whatsapp_api_version)
    webhook_decoder = providers.Singleton(
        MetaWebhookDecoder, app_secret=providers.Callable(resources.secret_text, settings.provided.whatsapp_app_secret))
    send_pacer = providers.Singleton(PostgresSendPacer, engine)
    register_number = providers.Factory(RegisterNumber, uow=uow, gateway=whatsapp_gateway, secrets=secret_resolver,
                                        clock=clock, default_mps=settings.provided.whatsapp_default_mps)
    verify_number = providers.Factory(VerifyNumber, uow=uow, gateway=whatsapp_gateway, secrets=secret_resolver,
                                      clock=clock, default_mps=settings.provided.whatsapp_default_mps)
    give_up_number_verification = providers.Factory(GiveUpNumberVerification, uow=uow, clock=clock)
    list_numbers = providers.Factory(ListNumbers, uow=uow)
    request_template_sync = providers.Factory(RequestTemplateSync, uow=uow)
    sync_templates = providers.Factory(SyncTemplates, uow=uow, catalog=whatsapp_gateway, secrets=secret_resolver,
                                       clock=clock)
    enqueue_template_syncs = providers.Factory(EnqueueTemplateSyncs, uow=uow)
    list_templates = providers.Factory(ListTemplates, uow=uow)
    get_number = providers.Factory(GetNumber, uow=uow)
    send_message = providers.Factory(SendMessage, uow=uow, clock=clock)
    flow_runtime = providers.Singleton(FlowRuntime, ttl=providers.Callable(
        lambda h: timedelta(hours=h), settings.provided.flow_execution_ttl_hours))
    automation_tracker = providers.Singleton(AutomationTracker, flows=flow_runtime,
                                             opt_out_keywords=settings.provided.opt_out_keywords)
    status_recorder = providers.Singleton(StatusRecorder, automations=automation_tracker)
    inbound_router = providers.Singleton(InboundRouter, automations=automation_tracker, runtime=flow_runtime)
    webhook_applier = providers.Singleton(WebhookApplier, router=inbound_router, statuses=status_recorder)
    send_observer: providers.Object[SendObserver | None] = providers.Object(None)  # the worker: its metrics
    send_queued = providers.Singleton(
        SendQueuedMessages, uow=uow, gateway=whatsapp_gateway, secrets=secret_resolver, statuses=status_recorder,
        clock=clock, observer=send_observer, max_attempts=settings.provided.whatsapp_send_max_attempts,
        max_backoff=providers.Callable(lambda s: timedelta(seconds=s),
                                       settings.provided.whatsapp_send_max_backoff_seconds))
    reconcile_sends = providers.Factory(ReconcileUnconfirmedSends, uow=uow, statuses=status_recorder, clock=clock)
    webhook_inbox_pool = providers.Resource(inbox_pool, providers.Callable(resources.plain_dsn, database_url),
                                            app_role=settings.provided.database_app_role)
    webhook_inbox = providers.Singleton(AsyncpgWebhookInbox, webhook_inbox_pool)
    ingest_webhook = providers.Singleton(IngestWebhook, inbox=webhook_inbox, decoder=webhook_decoder, clock=clock)
    inbox_observer: providers.Object[InboxObserver | None] = providers.Object(None)  # the worker: its metrics
    process_inbox = providers.Singleton(
        ProcessInbox, uow=uow, decoder=webhook_decoder, clock=clock, applier=webhook_applier, observer=inbox_observer,
        batch_size=settings.provided.worker_inbox_batch,
        lease=providers.Callable(lambda s: timedelta(seconds=s), settings.provided.worker_heartbeat_seconds))
    release_jobs_of = providers.Object(release_jobs_of)
    get_message = providers.Factory(GetMessage, uow=uow)
    media_store = providers.Singleton(
        AiohttpMediaStore, graph_session, base_url=settings.provided.whatsapp_graph_url,
        api_version=settings.provided.whatsapp_api_version, data_dir=settings.provided.data_dir,
        cache_bytes=settings.provided.media_cache_bytes)
    get_inbound_media = providers.Factory(GetInboundMedia, uow=uow, secrets=secret_resolver, media=media_store,
                                          max_bytes=settings.provided.media_max_bytes)
    start_media_upload = providers.Factory(StartMediaUpload, uow=uow, clock=clock)
    get_media_upload = providers.Factory(GetMediaUpload, uow=uow)
    run_media_upload = providers.Factory(RunMediaUpload, uow=uow, gateway=whatsapp_gateway, secrets=secret_resolver,
                                         clock=clock)
    fail_media_upload = providers.Factory(FailMediaUpload, uow=uow, clock=clock)
    mark_message_read = providers.Factory(MarkMessageRead, uow=uow)
    run_mark_read = providers.Factory(RunMarkRead, uow=uow, gateway=whatsapp_gateway, secrets=secret_resolver)
    list_contact_messages = providers.Factory(ListContactMessages, uow=uow)

    # flows
    create_flow = providers.Factory(CreateFlow, uow=uow, clock=clock)
    update_flow = providers.Factory(UpdateFlow, uow=uow, clock=clock)
    get_flow = providers.Factory(GetFlow, uow=uow)
    list_flows = providers.Factory(ListFlows, uow=uow)
    delete_flow = providers.Factory(DeleteFlow, uow=uow)
    list_flow_executions = providers.Factory(ListExecutions, uow=uow)
    simulate_flow = providers.Factory(SimulateFlow, uow=uow, clock=clock)
    release_conversation = providers.Factory(ReleaseConversation, uow=uow, clock=clock)

    # the conversations inbox
    list_conversations = providers.Factory(ListConversations, uow=uow)
    get_conversation = providers.Factory(GetConversation, uow=uow)
    list_conversation_messages = providers.Factory(ListConversationMessages, uow=uow)
    assign_conversation = providers.Factory(AssignConversation, uow=uow, clock=clock)
    mark_conversation_read = providers.Factory(MarkConversationRead, uow=uow, clock=clock)
    close_conversation = providers.Factory(CloseConversation, uow=uow, clock=clock)
    flow_http_client = providers.Resource(resources.flow_http_client)
    flow_http_caller = providers.Singleton(
        HttpxFlowHttpCaller, flow_http_client, allowed_hosts=settings.provided.flow_http_allowed_hosts,
        allowed_private_hosts=settings.provided.flow_http_allowed_private_hosts)
    deliver_flow_event = providers.Factory(DeliverFlowEvent, uow=uow, runtime=flow_runtime, clock=clock)
    fail_flow_execution = providers.Factory(FailFlowExecution, uow=uow, clock=clock)
    flow_secret_lookup = providers.Factory(SecretLookup, uow=uow, resolve=resolve_secret)
    run_flow_http_call = providers.Factory(RunFlowHttpCall, uow=uow, caller=flow_http_caller,
                                           secrets=flow_secret_lookup, events=deliver_flow_event)
    expire_flow_executions = providers.Factory(ExpireFlowExecutions, uow=uow, clock=clock)

    # operations
    operations_monitor = providers.Singleton(PostgresOperationsMonitor, engine)
    read_operational_stats = providers.Singleton(  # one per process: its cache spans scrapes
        ReadOperationalStats, monitor=operations_monitor, clock=clock,
        max_age=providers.Callable(lambda s: timedelta(seconds=s), settings.provided.metrics_cache_seconds))
    list_dead_letters = providers.Factory(ListDeadLetters, monitor=operations_monitor)

    # flow automations
    create_automation = providers.Factory(CreateAutomation, uow=uow, clock=clock)
    start_automation = providers.Factory(StartAutomation, uow=uow, clock=clock)
    pause_automation = providers.Factory(PauseAutomation, uow=uow, clock=clock)
    resume_automation = providers.Factory(ResumeAutomation, uow=uow, clock=clock)
    cancel_automation = providers.Factory(CancelAutomation, uow=uow, clock=clock)
    stop_automation_dispatch = providers.Factory(StopAutomationDispatch, uow=uow, clock=clock)
    get_automation = providers.Factory(GetAutomation, uow=uow)
    list_automations = providers.Factory(ListAutomations, uow=uow)
    automation_stats = providers.Factory(GetAutomationStats, uow=uow, clock=clock)
    list_recipients = providers.Factory(ListRecipients, uow=uow)
    publish_automation_progress = providers.Factory(PublishProgress, uow=uow)

    # live events: one hub (one LISTEN connection) per API process
    event_notifications = providers.Singleton(AsyncpgEventNotifications,
                                              providers.Callable(resources.plain_dsn, database_url))
    event_hub = providers.Singleton(EventHub, uow=uow, notifications=event_notifications,
                                    queue_size=settings.provided.events_queue_size)
    stream_events = providers.Factory(StreamEvents, uow=uow, hub=event_hub,
                                      heartbeat_seconds=settings.provided.events_heartbeat_seconds)
    issue_event_ticket = providers.Factory(IssueEventTicket, uow=uow, clock=clock)
    redeem_event_ticket = providers.Factory(RedeemEventTicket, uow=uow, clock=clock)
    purge_events = providers.Factory(PurgeEvents, uow=uow, clock=clock)
    dispatch_automation = providers.Factory(DispatchAutomation, uow=uow, pacer=send_pacer, flows=flow_runtime,
                                            clock=clock)
