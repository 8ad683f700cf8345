/**
 * Compile-time checks (`tsc --noEmit`, run by `make client` and CI): the aliases and helpers in index.ts
 * still match the generated schema. Nothing here runs.
 */
import type {
  ApiErrorBody,
  AudienceFilter,
  Contact,
  ContactExportFilters,
  ContactImport,
  ContactImportAccepted,
  ContactImportForm,
  ContactCreate,
  ContactSearch,
  Conversation,
  EventTicket,
  Flow,
  FlowListItem,
  ListContactsOperation,
  LoginRequest,
  Me,
  MessageTemplate,
  QueryParams,
  RequestJson,
  ResponseJson,
  SendRequest,
  Token,
  components,
} from "./index";
import { ApiError, PyTakeClient } from "./index";

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
type Expect<T extends true> = T;

export type Checks = [
  Expect<Equal<ResponseJson<"/api/v1/contacts", "get">, Contact[]>>,
  Expect<Equal<ResponseJson<"/api/v1/contacts", "post", 201>, Contact>>,
  Expect<Equal<ResponseJson<"/api/v1/contacts", "get", 401>, ApiErrorBody>>,
  Expect<Equal<ResponseJson<"/api/v1/auth/login", "post">, Token>>,
  Expect<Equal<ResponseJson<"/api/v1/auth/me", "get">, Me>>,
  Expect<Equal<ResponseJson<"/api/v1/conversations", "get">, Conversation[]>>,
  Expect<Equal<ResponseJson<"/api/v1/events/ticket", "post", 201>, EventTicket>>,
  Expect<Equal<ResponseJson<"/api/v1/whatsapp/templates", "get">, MessageTemplate[]>>,
  Expect<Equal<RequestJson<"/api/v1/auth/login", "post">, LoginRequest>>,
  Expect<Equal<RequestJson<"/api/v1/contacts", "post">, ContactCreate>>,
  Expect<Equal<ContactSearch, NonNullable<ListContactsOperation["parameters"]["query"]>>>,
  Expect<Equal<keyof ContactSearch, "query" | "limit" | "offset">>,
  Expect<Equal<Me["user"], components["schemas"]["UserOut"]>>,
  Expect<Equal<QueryParams<"/api/v1/flows", "get">["limit"], number | undefined>>,
  Expect<Equal<ResponseJson<"/api/v1/flows", "get">, FlowListItem[]>>,
  Expect<Equal<FlowListItem["nodes"], Flow["nodes"] | undefined>>,
  Expect<Equal<QueryParams<"/api/v1/flows", "get">["include"], "graph" | null | undefined>>,
  Expect<Equal<ResponseJson<"/api/v1/contacts/imports", "post", 202>, ContactImportAccepted>>,
  Expect<Equal<ResponseJson<"/api/v1/contacts/imports/{import_id}", "get">, ContactImport>>,
  Expect<Equal<ResponseJson<"/api/v1/contacts/imports", "post", 413>, ApiErrorBody>>,
  Expect<Equal<keyof ContactExportFilters, "query" | "tag">>,
  Expect<Equal<ContactImportForm["mode"], "create_only" | "upsert" | undefined>>,
  Expect<Equal<ContactImport["status"], "queued" | "running" | "completed" | "failed">>,
];

const byTag: AudienceFilter = { tag: "vip" };
const automationForTag: RequestJson<"/api/v1/flow-automations", "post"> = {
  flow_id: "0b4e7c7e-7f53-4d3c-9a55-2f0e8f3c1a10", contacts: byTag };
const automationForList: RequestJson<"/api/v1/flow-automations", "post"> = {
  flow_id: "0b4e7c7e-7f53-4d3c-9a55-2f0e8f3c1a10", contacts: [{ whatsapp_id: "5511987654321" }] };

const contact: Contact = {
  id: "0b4e7c7e-7f53-4d3c-9a55-2f0e8f3c1a10",
  organization_id: "6c2f1f3e-2c5b-4a8e-9f0d-1b2c3d4e5f60",
  whatsapp_id: "5511987654321",
  name: "Maria Silva",
  email: null,
  tags: ["vip"],
  attributes: { plan: "gold" },
  opted_out: false,
  created_at: "2025-01-01T00:00:00Z",
  updated_at: "2025-01-01T00:00:00Z",
};

// @ts-expect-error whatsapp_id is required to create a contact
const missingNumber: ContactCreate = { name: "Maria" };

// @ts-expect-error `query` is a string
const badSearch: ContactSearch = { query: 42 };

// @ts-expect-error a flow has no `whatsapp_id`
const notAFlow: Flow["whatsapp_id"] = "x";

// a contact known only by its BSUID has no phone number: send to the BSUID
const send: SendRequest = { to: contact.whatsapp_id ?? contact.bsuid ?? "", message: "Olá!" };

export async function example(baseUrl: string): Promise<number> {
  const client = new PyTakeClient(baseUrl);
  const token = await client.login({ email: "ana@example.com", password: "correct horse battery staple" });
  const page = await client.listContacts({ query: "silva", limit: 50 });
  const first: Contact | undefined = page.items[0];
  try {
    await client.createContact({ whatsapp_id: "+55 11 98765-4321", name: first?.name ?? null });
  } catch (error) {
    if (error instanceof ApiError && error.body.error_code === "contact_exists") return -1;
    throw error;
  }
  const accepted = await client.importContacts(new Blob(["whatsapp_id\n5511987654321\n"]), { mode: "upsert" });
  const progress: ContactImport = await client.getContactImport(accepted.import_id);
  const csv: string = await client.exportContacts({ tag: "vip" });
  return page.total + token.user.email.length + progress.created + csv.length +
    [missingNumber, badSearch, notAFlow, send, automationForTag, automationForList].length;
}
