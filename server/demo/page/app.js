// The live inbox page: plain DOM and the SDK's browser build, no framework. This module owns the
// session (log-in, the header, the tenant); inbox.js the notifications and a provider's steps,
// client.js a client's search, hires and steps, hires.js the state and buttons of each hire.
import { AiutamiError, createAiutamiClient, memoryStorage } from "/demo/aiutami-client.js";
import { startClientView, stopClientView } from "./client.js";
import { startHires, stopHires } from "./hires.js";
import { startInbox, stopInbox } from "./inbox.js";
import { $, el, inFlight, messageOf, say } from "./ui.js";

const TENANT_KEY = "aiutami:demo:tenant";
/** The session's client: log-in, the token (kept in localStorage) and the live inbox. */
const client = createAiutamiClient({ baseUrl: location.origin });
let me = null;
let tenants = [];
/** One API client per tenant, sharing the session's token: a step on a notification goes to its own tenant. */
let tenantApis = new Map();

function apiFor(slug) {
  if (!tenantApis.has(slug)) {
    tenantApis.set(slug, createAiutamiClient({ baseUrl: location.origin, token: client.token, tenant: slug, storage: memoryStorage() }));
  }
  return tenantApis.get(slug).api;
}

async function enter() {
  const answer = await client.auth.me();
  me = answer.user;
  tenants = answer.tenants;
  tenantApis = new Map();
  startHires({ me, apiFor });
  $("who").textContent = `${me.firstName} ${me.lastName}`;
  const select = $("tenant");
  select.replaceChildren(...tenants.map((t) => el("option", { value: t.slug, textContent: `${t.name} (${t.role})` })));
  select.hidden = tenants.length === 0;
  const saved = localStorage.getItem(TENANT_KEY);
  select.value = (tenants.find((t) => t.slug === saved) ?? tenants[0])?.slug ?? "";
  $("login-view").hidden = true;
  $("session").hidden = false;
  $("inbox-view").hidden = false;
  say($("login-error"), null);
  startInbox({ client, me, apiFor, onRefused: (e) => leave(`Signed out: ${e.message}`) });
  chooseTenant(select.value);
}

function chooseTenant(slug) {
  client.useTenant(slug || null);
  if (slug) localStorage.setItem(TENANT_KEY, slug);
  const role = tenants.find((t) => t.slug === slug)?.role;
  stopClientView();
  if (role === "client") startClientView({ me, tenant: slug, api: apiFor(slug) });
}

/** Back to the log-in form, with `message` (why) under it. */
function leave(message) {
  stopInbox();
  stopClientView();
  stopHires();
  client.close();
  me = null;
  tenants = [];
  tenantApis = new Map();
  $("session").hidden = true;
  $("inbox-view").hidden = true;
  $("login-view").hidden = false;
  say($("login-error"), message ?? null);
}

$("login").addEventListener("submit", (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  const button = event.target.querySelector("button[type=submit]");
  void inFlight(
    [button],
    $("login-error"),
    async () => {
      await client.auth.logIn({ email: form.get("email"), password: form.get("password") });
      await enter();
    },
    { labels: { email: "Email", password: "Password" }, fields: { email: event.target.elements.email, password: event.target.elements.password } },
  );
});

$("logout").addEventListener("click", async () => {
  const button = $("logout");
  if (button.disabled) return;
  button.disabled = true;
  // The SDK forgets the token even when the server cannot be told, so the page leaves either way,
  // and says so when the session may still be open on the server.
  try {
    await client.auth.logOut();
    leave();
  } catch (err) {
    leave(`Logged out on this device, but the server could not be told (${messageOf(err)}).`);
  } finally {
    button.disabled = false;
  }
});

$("tenant").addEventListener("change", (e) => chooseTenant(e.target.value));

if (client.token) {
  $("login-view").hidden = true;
  enter().catch((err) => leave(AiutamiError.from(err).code === "UNAUTHORIZED" ? "Your session has ended: log in again." : messageOf(err)));
} else {
  leave();
}
