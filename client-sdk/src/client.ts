import { createTRPCClient, httpBatchLink, httpLink, isNonJsonSerializable, splitLink, type Operation, type TRPCClient } from "@trpc/client";
import type { inferRouterInputs, inferRouterOutputs } from "@trpc/server";
import { AiutamiError } from "./errors";
import type { AppRouter } from "./generated/router";
import { NotificationInbox } from "./inbox";
import { idempotencyKeyLink, idempotencyKeyOf, safeRetryLink, type RetryOptions } from "./links";
import { browserStorage, memoryStorage, type TokenStorage } from "./storage";

type Inputs = inferRouterInputs<AppRouter>;
type Outputs = inferRouterOutputs<AppRouter>;
export type SignUpInput = Inputs["auth"]["signUp"];
export type LogInInput = Inputs["auth"]["logIn"];
/** What sign-up and log-in answer: the token, the user, and every tenant they belong to. */
export type AuthResult = Outputs["auth"]["logIn"];
export type Me = Outputs["auth"]["me"];

export type AiutamiClientOptions = {
  /** Where the server is, e.g. `"http://localhost:3000"`. */
  baseUrl: string;
  /** The tenant (id or slug) tenant-scoped calls go to; change it later with `useTenant`. @default none */
  tenant?: string;
  /** A session token you already have; otherwise the one in `storage`, or none until log-in. */
  token?: string;
  /** Where the token and the inbox's resume point are kept. @default localStorage in browsers, memory elsewhere */
  storage?: TokenStorage;
  /** The fetch to use (for tests, proxies, custom agents). @default globalThis.fetch */
  fetch?: typeof globalThis.fetch;
  /** The live inbox's socket. @default { transports: ["websocket"], reconnectionDelayMs: 500, reconnectionDelayMaxMs: 10000 } */
  socket?: Partial<{ transports: Array<"websocket" | "polling">; reconnectionDelayMs: number; reconnectionDelayMaxMs: number }>;
  /**
   * Retries, with backoff, of the calls that are safe to repeat when the network failed or the server
   * was unavailable (no answer, or 502/503/504): queries, and the idempotent creates (`hires.create`,
   * `tenants.create`, `tenants.invitations.accept`), which always carry an `Idempotency-Key` (one per
   * call, kept across its retries, so the server runs the create once). Other mutations are never
   * retried. `false` turns retries off.
   * @default { retries: 3, minDelayMs: 250, maxDelayMs: 5000 }
   * @example
   * // Your own key, e.g. kept with a form so that a second submit is the same request:
   * await client.api.hires.create.mutate(input, { context: { idempotencyKey: formKey } });
   */
  retry?: RetryOptions | false;
};

export type AiutamiClient = {
  /**
   * The whole typed tRPC API.
   * @example const { items } = await client.api.profiles.search.query({ kind: "tutor", near: { lat: 45.46, lng: 9.19, radiusKm: 10 } });
   */
  api: TRPCClient<AppRouter>;
  auth: {
    /** Creates an account and keeps its session token. @example await client.auth.signUp({ email, password, firstName, lastName }) */
    signUp(input: SignUpInput): Promise<AuthResult>;
    /** Logs in and keeps the session token. @example const { user, tenants } = await client.auth.logIn({ email, password }) */
    logIn(input: LogInInput): Promise<AuthResult>;
    /** Ends this device's session, forgets the token and closes the inbox. */
    logOut(): Promise<void>;
    /** Ends every session of the user, on every device. */
    logOutEverywhere(): Promise<void>;
    /** The signed-in user, their tenants and the session's expiry. */
    me(): Promise<Me>;
  };
  /**
   * Sets the tenant (id or slug) that tenant-scoped API calls go to (`x-tenant-id`). The socket
   * belongs to the user and carries every tenant's notifications, each tagged with its tenant.
   * @example client.useTenant("demo");
   */
  useTenant(tenant: string | null): void;
  readonly tenant: string | null;
  /** The current session token, or null. */
  readonly token: string | null;
  /** The live inbox (opens its socket on first use). @example client.notifications.on("notification", (n) => …) */
  readonly notifications: NotificationInbox;
  /** Closes the inbox's socket. The client stays usable for API calls. */
  close(): void;
};

const TOKEN_KEY = "aiutami:token";

/** The typed tRPC client: keyed calls alone (the key is one call's header), the rest batched. */
function createApi(opts: {
  url: string;
  headers: () => Record<string, string>;
  fetch: NonNullable<AiutamiClientOptions["fetch"]>;
  retry: AiutamiClientOptions["retry"];
}) {
  const { url, headers } = opts;
  /** A call's own headers: its idempotency key, which belongs to that call alone (so it is never batched). */
  const headersOf = ({ op }: { op: Operation }) => {
    const key = idempotencyKeyOf(op);
    return key === undefined ? headers() : { ...headers(), "idempotency-key": key };
  };
  return createTRPCClient<AppRouter>({
    links: [
      idempotencyKeyLink(),
      ...(opts.retry === false ? [] : [safeRetryLink(opts.retry)]),
      splitLink({
        // FormData (a picture upload) cannot be batched as JSON, and a key is one call's header.
        condition: (op) => isNonJsonSerializable(op.input) || idempotencyKeyOf(op) !== undefined,
        true: httpLink({ url, headers: headersOf, fetch: opts.fetch }),
        // The server refuses a batch of more than TRPC_MAX_BATCH calls (default 20): split before that.
        false: httpBatchLink({ url, headers, fetch: opts.fetch, maxItems: 20 }),
      }),
    ],
  });
}

/**
 * One client for the API and the live inbox, in browsers and in Node.
 * @example
 * const client = createAiutamiClient({ baseUrl: "http://localhost:3000" });
 * await client.auth.logIn({ email: "tutor@demo.aiutami.test", password: "aiutami-demo-2026" });
 * client.useTenant("demo");
 * client.notifications.on("notification", (n) => console.log(n.type, n.payload));
 */
export function createAiutamiClient(options: AiutamiClientOptions): AiutamiClient {
  const baseUrl = options.baseUrl.replace(/\/+$/, "");
  const storage = options.storage ?? browserStorage() ?? memoryStorage();
  let token: string | null = options.token ?? storage.get(TOKEN_KEY);
  if (options.token) storage.set(TOKEN_KEY, options.token);
  let tenant: string | null = options.tenant ?? null;
  const fetchImpl = options.fetch ?? ((...args: Parameters<typeof fetch>) => globalThis.fetch(...args));

  const headers = () => ({
    ...(token ? { authorization: `Bearer ${token}` } : {}),
    ...(tenant ? { "x-tenant-id": tenant } : {}),
  });
  const api = createApi({ url: `${baseUrl}/trpc`, headers, fetch: fetchImpl, retry: options.retry });

  const call = async <T>(fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      throw AiutamiError.from(err);
    }
  };

  let inbox: NotificationInbox | null = null;
  const getInbox = () =>
    (inbox ??= new NotificationInbox({
      baseUrl,
      storage,
      token: () => token,
      unreadCount: () => api.notifications.unreadCount.query(),
      markRead: (ids) => call(async () => void (await api.notifications.markRead.mutate({ ids }))),
      markAllRead: () => call(async () => void (await api.notifications.markAllRead.mutate())),
      socket: {
        transports: options.socket?.transports ?? ["websocket"],
        reconnectionDelayMs: options.socket?.reconnectionDelayMs ?? 500,
        reconnectionDelayMaxMs: options.socket?.reconnectionDelayMaxMs ?? 10_000,
      },
    }));

  const keep = (result: AuthResult) => {
    if (token && token !== result.token) inbox?.reset();
    token = result.token;
    storage.set(TOKEN_KEY, result.token);
    return result;
  };
  const forget = () => {
    token = null;
    storage.remove(TOKEN_KEY);
    inbox?.reset();
  };
  /** Ends the session on the server; the token is forgotten here even when that call fails. */
  const endSession = (end: () => Promise<unknown>) =>
    call(async () => {
      try {
        await end();
      } finally {
        forget();
      }
    });

  return {
    api,
    auth: {
      signUp: (input) => call(async () => keep(await api.auth.signUp.mutate(input))),
      logIn: (input) => call(async () => keep(await api.auth.logIn.mutate(input))),
      logOut: () => endSession(() => api.auth.logOut.mutate()),
      logOutEverywhere: () => endSession(() => api.auth.logOutEverywhere.mutate()),
      me: () => call(() => api.auth.me.query()),
    },
    useTenant: (next) => {
      tenant = next;
    },
    get tenant() {
      return tenant;
    },
    get token() {
      return token;
    },
    get notifications() {
      const box = getInbox();
      if (token && box.status === "offline") box.connect();
      return box;
    },
    close: () => inbox?.disconnect(),
  };
}
