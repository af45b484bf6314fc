// The notification list: history first, then live ones on top. A hire request offers the provider its
// next steps (Accept, Decline, then Complete); every step notification moves its hire on, live.
import { hireControls, learnName, noteHire } from "./hires.js";
import { $, el, inFlight, messageOf, say, timeEl, toast } from "./ui.js";

/** The signed-in user's inbox: { client, me, apiFor, stops, rendered, queue } */
let session = null;

/** A title for a toast and the list, and the lines under it (each a list of parts). */
export function describe(n) {
  const p = n.payload;
  if (n.type === "hire.requested") {
    return { title: `New request from ${p.fullName}`, lines: [[p.jobDescription], [p.location, el("span", {}, "starts ", timeEl(p.time)), p.phoneNumber]] };
  }
  return { title: `Hire ${p.status} by ${p.byName}`, lines: [[p.jobDescription]] };
}

function line(parts) {
  const span = el("span", { className: "details" });
  parts.filter(Boolean).forEach((part, i) => span.append(...(i ? [" · ", part] : [part])));
  return span;
}

/** Starts the inbox of a signed-in user; `onRefused(error)` runs when the server refuses the socket. */
export function startInbox({ client, me, apiFor, onRefused }) {
  stopInbox();
  const s = { client, me, apiFor, stops: [], rendered: new Set(), queue: [] };
  session = s;
  $("notifications").replaceChildren();
  say($("inbox-error"), null);
  say($("mark-all-error"), null);
  $("empty").hidden = true;
  // Listen before loading the history, so nothing that arrives meanwhile is missed; it is shown after.
  const inbox = client.notifications;
  setBadge(inbox.unreadCount);
  setStatus(inbox.status);
  s.stops.push(
    inbox.on("status", setStatus),
    inbox.on("unreadCount", setBadge),
    inbox.on("notification", (n) => (s.queue ? s.queue.push(n) : receive(n))),
    inbox.on("read", (e) => markReadInList("all" in e ? "all" : e.ids)),
    inbox.on("error", (e) => onRefused(e)),
  );
  void load(s);
}

export function stopInbox() {
  for (const stop of session?.stops ?? []) stop();
  session = null;
  setStatus("offline");
}

async function load(s) {
  const page = await inFlight([], $("inbox-error"), () => s.client.api.notifications.list.query({ limit: 30 }));
  if (session !== s) return;
  const items = page?.items ?? [];
  for (const n of items) render(n, { prepend: false });
  const queued = s.queue;
  s.queue = null;
  for (const n of queued) receive(n);
  $("empty").hidden = s.rendered.size > 0;
  await loadHireStates(s, items);
}

/** The current state of each requested hire in the history: one list per tenant, then any it missed. */
async function loadHireStates(s, items) {
  const byTenant = new Map();
  for (const n of items) {
    if (n.type !== "hire.requested") continue;
    if (!byTenant.has(n.tenant.slug)) byTenant.set(n.tenant.slug, new Set());
    byTenant.get(n.tenant.slug).add(n.payload.hireId);
  }
  await Promise.all(
    [...byTenant].map(async ([slug, ids]) => {
      const api = s.apiFor(slug);
      try {
        const { items: hires } = await api.hires.list.query({ as: "provider", limit: 100 });
        for (const h of hires) if (ids.delete(h.id)) noteHire(h.id, slug, h.status);
        await Promise.all([...ids].map(async (id) => noteHire(id, slug, (await api.hires.get.query({ id })).status)));
      } catch (err) {
        if (session === s) say($("inbox-error"), `Could not load the hires' current states: ${messageOf(err)}`);
      }
    }),
  );
}

function receive(n) {
  if (session.rendered.has(n.id)) return;
  render(n, { prepend: true });
  $("empty").hidden = true;
  toast(describe(n).title);
}

function render(n, { prepend }) {
  session.rendered.add(n.id);
  const p = n.payload;
  const { title, lines } = describe(n);
  const li = el(
    "li",
    { className: n.readAt ? "read" : "unread", dataset: { id: n.id, type: n.type, hireId: p.hireId } },
    el("strong", { textContent: title }),
    ...lines.map(line),
    el("span", { className: "meta" }, `${n.tenant.name} · `, timeEl(n.createdAt)),
  );
  const actions = el("div", { className: "item-actions" });
  if (n.type === "hire.requested") {
    noteHire(p.hireId, n.tenant.slug, "requested");
    actions.append(hireControls(p.hireId, "provider"));
  } else {
    learnName(p.byUserId, p.byName);
    noteHire(p.hireId, n.tenant.slug, p.status, { userId: p.byUserId, name: p.byName });
  }
  if (!n.readAt) actions.append(markReadControl(n));
  if (actions.childElementCount) li.append(actions);
  if (prepend) $("notifications").prepend(li);
  else $("notifications").append(li);
}

function markReadControl(n) {
  const button = el("button", { type: "button", className: "mark-read", textContent: "Mark read" });
  const error = el("p", { className: "error", role: "alert", hidden: true });
  button.onclick = async () => {
    const done = await inFlight([button], error, async () => {
      await session.client.notifications.markRead([n.id]);
      return true;
    });
    if (done) markReadInList([n.id]);
  };
  return el("span", { className: "mark-read-control" }, button, error);
}

function markReadInList(ids) {
  for (const li of $("notifications").children) {
    if (ids === "all" || ids.includes(li.dataset.id)) {
      li.className = "read";
      li.querySelector(".mark-read-control")?.remove();
    }
  }
}

function setBadge(count) {
  $("badge").textContent = String(count);
  $("badge").dataset.count = String(count);
}

function setStatus(status) {
  $("status").textContent = status;
  $("status").dataset.status = status;
}

$("mark-all").addEventListener("click", () => {
  if (!session) return;
  const { client } = session;
  void inFlight([$("mark-all")], $("mark-all-error"), async () => {
    await client.notifications.markAllRead();
    markReadInList("all");
  });
});

// A step taken from a request's buttons answers it: the request counts as read (best effort).
$("notifications").addEventListener("hire-step", (event) => {
  const li = event.target.closest("li.unread");
  if (!li || !session) return;
  session.client.notifications.markRead([li.dataset.id]).then(() => markReadInList([li.dataset.id]), () => {});
});
