// The live inbox page: plain DOM and the SDK's browser build, no framework.
import { AiutamiError, createAiutamiClient } from "/demo/aiutami-client.js";

const $ = (id) => document.getElementById(id);
const client = createAiutamiClient({ baseUrl: location.origin });
let tenants = [];

function show(view, on) {
  $(view).hidden = !on;
}

function describe(n) {
  const p = n.payload;
  switch (n.type) {
    case "hire.requested":
      return { title: `New request from ${p.fullName}`, body: `${p.jobDescription} · ${p.location} · ${new Date(p.time).toLocaleString()}${p.phoneNumber ? ` · ${p.phoneNumber}` : ""}` };
    default:
      return { title: `Hire ${p.status} by ${p.byName}`, body: p.jobDescription };
  }
}

function renderNotification(n, { prepend }) {
  const { title, body } = describe(n);
  const li = document.createElement("li");
  li.dataset.id = n.id;
  li.className = n.readAt ? "read" : "unread";
  const strong = document.createElement("strong");
  strong.textContent = title;
  const text = document.createElement("span");
  text.textContent = body;
  const meta = document.createElement("span");
  meta.className = "meta";
  meta.textContent = `${n.tenant.name} · ${new Date(n.createdAt).toLocaleTimeString()}`;
  li.append(strong, text, meta);
  if (!n.readAt) {
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = "Mark read";
    button.className = "mark-read";
    button.onclick = () => client.notifications.markRead([n.id]);
    li.append(button);
  }
  const list = $("notifications");
  if (prepend) list.prepend(li);
  else list.append(li);
  $("empty").hidden = true;
}

function markReadInList(ids) {
  for (const li of $("notifications").children) {
    if (ids === "all" || ids.includes(li.dataset.id)) {
      li.className = "read";
      li.querySelector(".mark-read")?.remove();
    }
  }
}

function toast(text) {
  const div = document.createElement("div");
  div.className = "toast";
  div.textContent = text;
  $("toasts").append(div);
  setTimeout(() => div.remove(), 5000);
}

function setBadge(count) {
  $("badge").textContent = String(count);
  $("badge").dataset.count = String(count);
}

async function enter() {
  const me = await client.auth.me();
  tenants = me.tenants;
  $("who").textContent = `${me.user.firstName} ${me.user.lastName}`;
  const select = $("tenant");
  select.replaceChildren(...tenants.map((t) => Object.assign(document.createElement("option"), { value: t.slug, textContent: `${t.name} (${t.role})` })));
  const saved = localStorage.getItem("aiutami:demo:tenant");
  const current = tenants.find((t) => t.slug === saved) ?? tenants[0];
  if (current) select.value = current.slug;
  chooseTenant(select.value);
  show("login-view", false);
  show("session", true);
  show("inbox-view", true);

  const { items } = await client.api.notifications.list.query({ limit: 30 });
  $("notifications").replaceChildren();
  items.forEach((n) => renderNotification(n, { prepend: false }));
  $("empty").hidden = items.length > 0;

  const inbox = client.notifications;
  setBadge(inbox.unreadCount);
  $("status").textContent = inbox.status;
  $("status").dataset.status = inbox.status;
  inbox.on("status", (s) => {
    $("status").textContent = s;
    $("status").dataset.status = s;
  });
  inbox.on("unreadCount", setBadge);
  inbox.on("notification", (n) => {
    renderNotification(n, { prepend: true });
    toast(describe(n).title);
  });
  inbox.on("read", (e) => markReadInList("all" in e ? "all" : e.ids));
  inbox.on("error", (e) => {
    toast(`Disconnected: ${e.message}`);
    leave();
  });
}

function chooseTenant(slug) {
  client.useTenant(slug || null);
  localStorage.setItem("aiutami:demo:tenant", slug);
  const role = tenants.find((t) => t.slug === slug)?.role;
  show("client-view", role === "client");
  $("results").replaceChildren();
}

function leave() {
  show("session", false);
  show("inbox-view", false);
  show("client-view", false);
  show("login-view", true);
}

$("login").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  $("login-error").textContent = "";
  try {
    await client.auth.logIn({ email: form.get("email"), password: form.get("password") });
    await enter();
  } catch (err) {
    const e = AiutamiError.from(err);
    $("login-error").textContent = e.code === "TOO_MANY_REQUESTS" ? `Too many attempts: try again in ${e.retryAfterSeconds} s.` : e.message;
  }
});

$("logout").addEventListener("click", async () => {
  await client.auth.logOut().catch(() => {});
  leave();
});
$("tenant").addEventListener("change", (e) => chooseTenant(e.target.value));
$("mark-all").addEventListener("click", () => client.notifications.markAllRead());

$("search").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  const [lat, lng] = String(form.get("city")).split(",").map(Number);
  const { items } = await client.api.profiles.search.query({ kind: form.get("kind"), near: { lat, lng, radiusKm: Number(form.get("radius")) }, limit: 20 });
  $("results").replaceChildren(
    ...items.map((p) => {
      const li = document.createElement("li");
      const label = document.createElement("span");
      label.textContent = `${p.firstName} ${p.lastName} · ${p.headline} · ${(p.hourlyRateCents / 100).toFixed(2)} ${p.currency}/h · ${p.distanceKm} km`;
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = "Hire";
      button.className = "hire";
      button.onclick = async () => {
        try {
          await client.api.hires.create.mutate({
            providerId: p.userId,
            jobDescription: "Help at home tomorrow afternoon (booked from the demo page)",
            location: p.city,
            startsAt: new Date(Date.now() + 86_400_000).toISOString(),
          });
          $("hire-message").textContent = `Hired ${p.firstName}: they have been notified.`;
        } catch (err) {
          $("hire-message").textContent = AiutamiError.from(err).message;
        }
      };
      li.append(label, button);
      return li;
    }),
  );
  if (items.length === 0) $("results").textContent = "No provider matches.";
});

if (client.token) enter().catch(() => leave());
else leave();
