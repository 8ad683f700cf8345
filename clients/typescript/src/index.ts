/**
 * PyTake API types for a frontend: the generated OpenAPI types (`schema.d.ts`, from `make client`; never edit
 * it by hand) plus short names for the main resources and a small typed `fetch` client as an example.
 */
import type { components, operations, paths } from "./schema";

export type { components, operations, paths } from "./schema";

type Schemas = components["schemas"];

// --------------------------------------------------------------------------- resources (responses)
export type User = Schemas["UserOut"];
export type Me = Schemas["MeOut"];
export type Token = Schemas["TokenOut"];
export type RefreshedToken = Schemas["RefreshOut"];
export type Contact = Schemas["ContactOut"];
export type Message = Schemas["MessageOut"];
export type MessageDetail = Schemas["MessageDetailOut"];
export type SendResult = Schemas["SendOut"];
export type WhatsAppNumber = Schemas["WhatsAppNumberOut"];
export type Secret = Schemas["SecretOut"];
export type Flow = Schemas["FlowOut"];
/** A flow in `GET /flows`: `nodes`/`edges` only with `?include=graph`, `node_count`/`edge_count` always. */
export type FlowListItem = Schemas["FlowListItemOut"];
export type FlowExecution = Schemas["ExecutionOut"];
export type FlowAutomation = Schemas["AutomationOut"];
export type FlowAutomationStats = Schemas["AutomationStatsOut"];
export type FlowAutomationRecipient = Schemas["RecipientOut"];
export type DeadLetter = Schemas["DeadLetterOut"];
export type ContactImport = Schemas["ContactImportOut"];
export type ContactImportAccepted = Schemas["ImportAcceptedOut"];
export type ContactImportRowError = Schemas["RowErrorOut"];
export type Conversation = Schemas["ConversationOut"];
export type EventTicket = Schemas["EventTicketOut"];
export type MessageTemplate = Schemas["MessageTemplateOut"];
export type TemplateSync = Schemas["TemplateSyncOut"];
export type MediaUpload = Schemas["MediaUploadOut"];
/** Every error body: `{detail, status_code, error_code}`. */
export type ApiErrorBody = Schemas["ErrorResponse"];
/** 422: the error body plus `errors: [{loc, msg, type}]`. */
export type ValidationErrorBody = Schemas["ValidationErrorResponse"];

// --------------------------------------------------------------------------- request bodies
export type LoginRequest = Schemas["LoginIn"];
export type RegisterRequest = Schemas["RegisterIn"];
export type ContactCreate = Schemas["ContactCreateIn"];
export type ContactUpdate = Schemas["ContactUpdateIn"];
export type UserCreate = Schemas["CreateUserIn"];
export type UserUpdate = Schemas["UpdateUserIn"];
export type SendRequest = Schemas["SendIn"];
export type SecretCreate = Schemas["SecretCreateIn"];
export type FlowCreate = Schemas["FlowCreateIn"];
export type FlowUpdate = Schemas["FlowUpdateIn"];
export type FlowAutomationCreate = Schemas["AutomationCreateIn"];
/** An automation audience given as `{tag}` and/or `{query}` instead of a list of contacts. */
export type AudienceFilter = Schemas["AudienceFilterIn"];
/** The text fields of `POST /contacts/imports` (multipart/form-data; the file goes in `file`). */
export type ContactImportForm = Omit<
  operations["import_contacts_api_v1_contacts_imports_post"]["requestBody"]["content"]["multipart/form-data"],
  "file"
>;

// --------------------------------------------------------------------------- generic helpers over `paths`
export type Method = "get" | "post" | "put" | "patch" | "delete";
/** The paths that have an operation for `M`. */
export type PathWith<M extends Method> = {
  [P in keyof paths]: paths[P][M] extends undefined ? never : P;
}[keyof paths];
/** The JSON body answered with status `S` by `M path`. */
export type ResponseJson<P extends PathWith<M>, M extends Method, S extends number = 200> =
  NonNullable<paths[P][M]> extends { responses: { [K in S]: { content: { "application/json": infer J } } } }
    ? J
    : never;
/** The JSON request body of `M path` (`never` when it takes none). */
export type RequestJson<P extends PathWith<M>, M extends Method> =
  NonNullable<paths[P][M]> extends { requestBody: { content: { "application/json": infer B } } } ? B : never;
/** The query parameters of `M path`. */
export type QueryParams<P extends PathWith<M>, M extends Method> =
  NonNullable<paths[P][M]> extends { parameters: { query?: infer Q } } ? NonNullable<Q> : never;

export type ContactSearch = QueryParams<"/api/v1/contacts", "get">;
export type ContactExportFilters = QueryParams<"/api/v1/contacts/export", "get">;
export type ListContactsOperation = operations["list_contacts_api_v1_contacts_get"];

// --------------------------------------------------------------------------- a small typed client (example)
/** A non-2xx answer; `body` is the API's error shape. */
export class ApiError extends Error {
  readonly status: number;
  readonly body: ApiErrorBody;

  constructor(status: number, body: ApiErrorBody) {
    super(`${status} ${body.error_code}: ${body.detail}`);
    this.status = status;
    this.body = body;
  }
}

/** A list page: the items and the `X-Total-Count` header. */
export interface Page<T> {
  items: T[];
  total: number;
}

type Query = Record<string, string | number | boolean | null | undefined>;

export class PyTakeClient {
  private readonly baseUrl: string;
  private readonly fetchImpl: typeof fetch;
  accessToken: string | undefined;

  constructor(baseUrl: string, options: { accessToken?: string; fetch?: typeof fetch } = {}) {
    this.baseUrl = baseUrl.replace(/\/+$/, "");
    this.accessToken = options.accessToken;
    this.fetchImpl = options.fetch ?? globalThis.fetch.bind(globalThis);
  }

  /** `POST /auth/login`; keeps the access token for the next calls. */
  async login(body: RequestJson<"/api/v1/auth/login", "post">): Promise<Token> {
    const { data } = await this.request<ResponseJson<"/api/v1/auth/login", "post">>("POST", "/api/v1/auth/login", {
      body,
    });
    this.accessToken = data.access_token;
    return data;
  }

  me(): Promise<Me> {
    return this.request<ResponseJson<"/api/v1/auth/me", "get">>("GET", "/api/v1/auth/me").then((r) => r.data);
  }

  /** `GET /contacts?query=&limit=&offset=` (newest first). */
  async listContacts(search: ContactSearch = {}): Promise<Page<Contact>> {
    const { data, response } = await this.request<ResponseJson<"/api/v1/contacts", "get">>(
      "GET", "/api/v1/contacts", { query: search });
    return { items: data, total: Number(response.headers.get("X-Total-Count") ?? data.length) };
  }

  async createContact(body: ContactCreate): Promise<Contact> {
    const { data } = await this.request<ResponseJson<"/api/v1/contacts", "post", 201>>("POST", "/api/v1/contacts", {
      body,
    });
    return data;
  }

  /** `POST /contacts/imports` (202): the CSV and its options as multipart/form-data; `mapping` is sent as JSON. */
  async importContacts(
    file: Blob,
    options: { filename?: string; mapping?: Record<string, string | null>; mode?: ContactImportForm["mode"];
      delimiter?: ContactImportForm["delimiter"] } = {},
  ): Promise<ContactImportAccepted> {
    const form = new FormData();
    form.append("file", file, options.filename ?? "contacts.csv");
    if (options.mapping) form.append("mapping", JSON.stringify(options.mapping));
    if (options.mode) form.append("mode", options.mode);
    if (options.delimiter) form.append("delimiter", options.delimiter);
    const { data } = await this.request<ResponseJson<"/api/v1/contacts/imports", "post", 202>>(
      "POST", "/api/v1/contacts/imports", { form });
    return data;
  }

  /** `GET /contacts/imports/{id}`: status, counts and the first 100 row errors. */
  getContactImport(importId: string): Promise<ContactImport> {
    return this.request<ContactImport>("GET", `/api/v1/contacts/imports/${encodeURIComponent(importId)}`)
      .then((r) => r.data);
  }

  /** `GET /contacts/export` as CSV text (use `exportContactsResponse` to stream it instead). */
  async exportContacts(filters: ContactExportFilters = {}): Promise<string> {
    return (await this.exportContactsResponse(filters)).text();
  }

  /** `GET /contacts/export`, the raw response: `response.body` streams the CSV. */
  async exportContactsResponse(filters: ContactExportFilters = {}): Promise<Response> {
    const url = this.url("/api/v1/contacts/export", filters);
    const response = await this.fetchImpl(url, { method: "GET", headers: this.headers("text/csv") });
    if (!response.ok) throw new ApiError(response.status, (await response.json()) as ApiErrorBody);
    return response;
  }

  private url(path: string, query: Query = {}): URL {
    const url = new URL(this.baseUrl + path);
    for (const [key, value] of Object.entries(query)) {
      if (value !== undefined && value !== null) url.searchParams.set(key, String(value));
    }
    return url;
  }

  private headers(accept: string): Record<string, string> {
    const headers: Record<string, string> = { Accept: accept };
    if (this.accessToken) headers["Authorization"] = `Bearer ${this.accessToken}`;
    return headers;
  }

  async request<T>(
    method: Uppercase<Method>,
    path: keyof paths | string,
    options: { body?: unknown; query?: Query; form?: FormData } = {},
  ): Promise<{ data: T; response: Response }> {
    const url = this.url(path, options.query);
    const headers = this.headers("application/json");
    if (options.body !== undefined) headers["Content-Type"] = "application/json";
    const init: RequestInit = { method, headers };
    if (options.body !== undefined) init.body = JSON.stringify(options.body);
    if (options.form !== undefined) init.body = options.form; // fetch sets the multipart boundary itself
    const response = await this.fetchImpl(url, init);
    const data: unknown = response.status === 204 ? undefined : await response.json();
    if (!response.ok) throw new ApiError(response.status, data as ApiErrorBody);
    return { data: data as T, response };
  }
}
