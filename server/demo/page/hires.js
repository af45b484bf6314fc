// Every hire the page shows, and the buttons that take its next step. Each place showing a hire is a
// `.hire-controls` block naming the hire and the viewer's side of it; whatever changes a hire (an answer,
// a notification, a CONFLICT) re-renders every block of that hire, so they all show its current state.
import { AiutamiError } from "/demo/aiutami-client.js";
import { el, messageOf, say } from "./ui.js";

// A hire only moves forward (requested, then accepted, then one of the ends), so a late answer or an
// old notification never undoes a newer state.
const RANK = { requested: 0, accepted: 1, declined: 2, cancelled: 2, completed: 2 };
const STEPS = {
  provider: { requested: ["accept", "decline"], accepted: ["complete"] },
  client: { requested: ["cancel"], accepted: ["complete", "cancel"] },
};
const STEP_LABELS = { accept: "Accept", decline: "Decline", complete: "Complete", cancel: "Cancel hire" };

/** id -> { id, tenant (slug), status, by: { userId, name } | null (who took the last step, when known) } */
const hires = new Map();
/** Hires with a step in flight: their buttons stay disabled, wherever they are drawn. */
const busy = new Set();
let session = null;
/** Names of the people the page has met (search results, step notifications), by user id. */
const names = new Map();

/** Starts over for a signed-in user: `me` is the user, `apiFor(slug)` a client bound to that tenant. */
export function startHires(context) {
  session = context;
  hires.clear();
  busy.clear();
  names.clear();
}

/** Forgets everything (log-out): a step still in flight then changes nothing when it ends. */
export function stopHires() {
  startHires(null);
}

/** Records what is known of a hire and redraws it. */
export function noteHire(id, tenant, status, by = null) {
  const known = hires.get(id);
  if (!known) hires.set(id, { id, tenant, status, by });
  else if (RANK[status] > RANK[known.status]) Object.assign(known, { status, by });
  else if (status === known.status && by && !known.by) known.by = by;
  else return;
  refresh(id);
}

export function knownHire(id) {
  return hires.get(id) ?? null;
}

function stateText(hire, side) {
  switch (hire.status) {
    case "requested":
      return side === "provider" ? "Waiting for your answer" : "Waiting for the provider's answer";
    case "accepted":
      return side === "provider" ? "Accepted by you" : "Accepted by the provider";
    case "declined":
      return side === "provider" ? "Declined by you" : "Declined by the provider";
    case "cancelled":
      return side === "client" ? "Cancelled by you" : "Cancelled by the client";
    case "completed":
      if (!hire.by) return "Completed";
      if (hire.by.userId === session?.me.id) return "Completed by you";
      return side === "provider" ? "Completed by the client" : "Completed by the provider";
    default:
      return hire.status;
  }
}

/** A block showing a hire's state and the steps this side may take now. */
export function hireControls(id, side) {
  const block = el(
    "div",
    { className: "hire-controls", dataset: { hireId: id, side } },
    el("span", { className: "hire-state" }),
    el("span", { className: "hire-buttons" }),
    el("p", { className: "hire-message", role: "status", hidden: true }),
  );
  render(block);
  return block;
}

function refresh(id) {
  for (const block of document.querySelectorAll(`.hire-controls[data-hire-id="${id}"]`)) render(block);
}

function render(block) {
  const hire = hires.get(block.dataset.hireId);
  const state = block.querySelector(".hire-state");
  if (!hire) {
    state.textContent = "Loading…";
    return;
  }
  const side = block.dataset.side;
  block.dataset.status = hire.status;
  state.textContent = stateText(hire, side);
  const steps = STEPS[side][hire.status] ?? [];
  block.querySelector(".hire-buttons").replaceChildren(
    ...steps.map((step) =>
      el("button", {
        type: "button",
        className: `step step-${step}`,
        textContent: STEP_LABELS[step],
        disabled: busy.has(hire.id),
        dataset: { step },
        onclick: () => takeStep(block, step),
      }),
    ),
  );
}

async function takeStep(block, step) {
  const id = block.dataset.hireId;
  const hire = hires.get(id);
  const mine = session;
  if (!hire || !mine || busy.has(id)) return;
  const message = block.querySelector(".hire-message");
  say(message, null);
  message.classList.remove("error");
  busy.add(id);
  refresh(id);
  const api = mine.apiFor(hire.tenant);
  let done = null;
  try {
    done = await api.hires[step].mutate({ id });
  } catch (err) {
    const e = AiutamiError.from(err);
    // CONFLICT: someone (the other party, or this user on another device) took a step first. That is
    // news, not a failure: show the state the hire is in now.
    const now = e.code === "CONFLICT" ? await currentStatus(api, id, e) : null;
    if (session !== mine) return;
    if (now) {
      noteHire(id, hire.tenant, now);
      const text = stateText(hires.get(id), block.dataset.side);
      say(message, `Already ${text.charAt(0).toLowerCase()}${text.slice(1)}.`);
    } else {
      message.classList.add("error");
      say(message, messageOf(e));
    }
  } finally {
    busy.delete(id);
  }
  if (session !== mine) return;
  if (done) {
    noteHire(id, hire.tenant, done.status, { userId: mine.me.id, name: "you" });
    block.dispatchEvent(new CustomEvent("hire-step", { bubbles: true, detail: { hire: done, step } }));
  }
  refresh(id);
}

/** The hire's state after a CONFLICT: asked of the server, or else read from the error, which names it. */
async function currentStatus(api, id, error) {
  try {
    return (await api.hires.get.query({ id })).status;
  } catch {
    const named = /The hire is (\w+)/.exec(error.message)?.[1];
    return named && named in RANK ? named : null;
  }
}

/** Remembers a person's name and fills it in wherever the page was waiting for it. */
export function learnName(userId, name) {
  if (!userId || !name || names.get(userId) === name) return;
  names.set(userId, name);
  for (const node of document.querySelectorAll(`.person-name[data-user-id="${userId}"]`)) node.textContent = name;
}

/** A person's name, or `fallback` until the page learns it (a hire names the provider by id only). */
export function nameEl(userId, fallback) {
  return el("strong", { className: "person-name", dataset: { userId }, textContent: names.get(userId) ?? fallback });
}
