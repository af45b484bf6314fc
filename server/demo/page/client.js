// A client's side: search providers, hire one, and follow each of the client's hires (Cancel, Complete).
import { hireControls, learnName, nameEl, noteHire } from "./hires.js";
import { $, el, inFlight, km, money, say, timeEl } from "./ui.js";

const searchForm = $("search");
const SEARCH_LABELS = { "near.radiusKm": "Within km", "near.lat": "Near", "near.lng": "Near", kind: "Kind" };
const SEARCH_FIELDS = { "near.radiusKm": searchForm.elements.radius, kind: searchForm.elements.kind };
const job = $("job");
const HIRE_LABELS = { jobDescription: "What", startsAt: "When", location: "Where" };
const HIRE_FIELDS = { jobDescription: job.querySelector("[name=jobDescription]"), startsAt: job.querySelector("[name=startsAt]") };

/** The client's view of one tenant: { me, tenant (slug), api } */
let session = null;

export function startClientView(context) {
  session = context;
  clearResults();
  say($("search-error"), null);
  if (!HIRE_FIELDS.startsAt.value) HIRE_FIELDS.startsAt.value = tomorrowAfternoon();
  $("client-view").hidden = false;
  $("hires-view").hidden = false;
  void loadMyHires(context);
}

export function stopClientView() {
  session = null;
  clearResults();
  $("my-hires").replaceChildren();
  $("client-view").hidden = true;
  $("hires-view").hidden = true;
}

/** `datetime-local` wants local wall-clock time, YYYY-MM-DDTHH:mm. */
function tomorrowAfternoon() {
  const d = new Date(Date.now() + 86_400_000);
  d.setHours(15, 0, 0, 0);
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

function clearResults() {
  $("results").replaceChildren();
  $("results").classList.remove("stale");
  $("no-results").hidden = true;
}

searchForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const current = session;
  if (!current) return;
  const form = new FormData(searchForm);
  const [lat, lng] = String(form.get("city")).split(",").map(Number);
  const radius = String(form.get("radius")).trim();
  const input = { kind: form.get("kind"), near: { lat, lng, radiusKm: radius === "" ? undefined : Number(radius) }, limit: 20 };
  // Old results stay visible but marked while the new ones load; a failed search clears them.
  $("results").classList.add("stale");
  $("no-results").hidden = true;
  const button = searchForm.querySelector("button[type=submit]");
  const page = await inFlight([button], $("search-error"), () => current.api.profiles.search.query(input), { labels: SEARCH_LABELS, fields: SEARCH_FIELDS });
  if (session !== current) return;
  clearResults();
  if (!page) return;
  $("results").append(...page.items.map(resultItem));
  $("no-results").hidden = page.items.length > 0;
});

function resultItem(p) {
  const name = `${p.firstName} ${p.lastName}`;
  learnName(p.userId, name);
  const photo = p.photo
    ? el("img", { className: "photo", src: p.photo.thumb, alt: `Photo of ${name}`, width: 48, height: 48 })
    : el("span", { className: "photo initials", textContent: `${p.firstName[0] ?? ""}${p.lastName[0] ?? ""}` });
  if (!p.photo) photo.setAttribute("aria-hidden", "true");
  const facts = [`${money(p.hourlyRateCents, p.currency)}/h`, p.city, p.distanceKm === null ? null : km(p.distanceKm)].filter(Boolean).join(" · ");
  const button = el("button", { type: "button", className: "hire", textContent: "Hire" });
  const message = el("p", { className: "result-message", role: "status", hidden: true });
  button.addEventListener("click", () => hire(p, button, message));
  return el(
    "li",
    { dataset: { userId: p.userId } },
    photo,
    el("div", { className: "who" }, el("strong", { textContent: name }), el("span", { textContent: p.headline }), el("span", { className: "meta", textContent: facts })),
    button,
    message,
  );
}

async function hire(p, button, message) {
  const current = session;
  if (!current) return;
  const startsAt = new Date(HIRE_FIELDS.startsAt.value);
  const input = {
    providerId: p.userId,
    jobDescription: HIRE_FIELDS.jobDescription.value,
    location: p.city,
    // An unreadable date goes as typed, so the server's answer names the field.
    startsAt: Number.isNaN(startsAt.getTime()) ? HIRE_FIELDS.startsAt.value : startsAt.toISOString(),
  };
  const made = await inFlight([button], message, () => current.api.hires.create.mutate(input), { labels: HIRE_LABELS, fields: HIRE_FIELDS });
  if (!made) {
    if (Object.values(HIRE_FIELDS).some((f) => f.getAttribute("aria-invalid"))) job.open = true;
    return;
  }
  // One click, one hire: the button stays spent. A new search offers a new one.
  button.disabled = true;
  button.textContent = "Hired";
  say(message, `Hired ${p.firstName}: they have been notified.`);
  if (session !== current) return;
  noteHire(made.id, current.tenant, made.status);
  $("my-hires").prepend(myHireItem(made));
  $("no-hires").hidden = true;
}

async function loadMyHires(current) {
  const page = await inFlight([], $("hires-error"), () => current.api.hires.list.query({ as: "client", limit: 50 }));
  if (session !== current || !page) return;
  for (const h of page.items) noteHire(h.id, current.tenant, h.status);
  $("my-hires").replaceChildren(...page.items.map(myHireItem));
  $("no-hires").hidden = page.items.length > 0;
}

function myHireItem(h) {
  return el(
    "li",
    { dataset: { hireId: h.id } },
    nameEl(h.providerId, "A provider"),
    el("span", { className: "details", textContent: h.jobDescription }),
    el("span", { className: "meta" }, `${h.location} · `, timeEl(h.startsAt)),
    hireControls(h.id, "client"),
  );
}
