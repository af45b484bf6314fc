// Small DOM helpers shared by the page's modules: building elements, the user's locale, errors, busy controls.
import { AiutamiError } from "/demo/aiutami-client.js";

export const $ = (id) => document.getElementById(id);

/** An element with properties (and `dataset`) set, and children appended: el("li", { className: "x" }, "text"). */
export function el(tag, props = {}, ...children) {
  const { dataset, ...rest } = props;
  const node = Object.assign(document.createElement(tag), rest);
  if (dataset) Object.assign(node.dataset, dataset);
  node.append(...children.filter((c) => c !== null && c !== undefined && c !== false));
  return node;
}

// `undefined` is the browser's own locale (its language settings), for dates and money alike.
const dateTimeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

/** A <time> showing an ISO instant in the user's locale. */
export function timeEl(iso) {
  return el("time", { dateTime: iso, textContent: dateTimeFormat.format(new Date(iso)) });
}

const kilometres = new Intl.NumberFormat(undefined, { style: "unit", unit: "kilometer", maximumFractionDigits: 1 });

export function km(value) {
  return kilometres.format(value);
}

export function money(cents, currency) {
  try {
    return new Intl.NumberFormat(undefined, { style: "currency", currency }).format(cents / 100);
  } catch {
    return `${(cents / 100).toFixed(2)} ${currency}`;
  }
}

/** What to tell the user about a failed call; `labels` names fields as the form shows them. */
export function messageOf(err, labels = {}) {
  const e = AiutamiError.from(err);
  switch (e.code) {
    case "NETWORK_ERROR":
      return "The server could not be reached. Check the connection and try again.";
    case "TOO_MANY_REQUESTS":
      return `Too many attempts: try again in ${e.retryAfterSeconds ?? "a few"} s.`;
    case "BAD_REQUEST":
      if (e.issues.length) return e.issues.map((i) => `${labels[i.path] ?? i.path}: ${i.message}`).join("; ");
      return e.message;
    default:
      return e.message;
  }
}

/** Shows a message in a (hidden when empty) element; `null` clears it. */
export function say(node, text) {
  node.textContent = text ?? "";
  node.hidden = !text;
}

/**
 * Runs `work` with `controls` disabled, so a double click starts it once. A failure's message goes to
 * `errorNode` (next to what failed) and the controls come back. Options: `labels` names fields as the
 * form shows them; `fields` maps an issue's path to the input it marks invalid.
 * Resolves to work's result, or undefined when it failed or was already running.
 */
export async function inFlight(controls, errorNode, work, { labels = {}, fields = {} } = {}) {
  if (controls.some((c) => c.disabled)) return undefined;
  for (const c of controls) c.disabled = true;
  for (const input of Object.values(fields)) input.removeAttribute("aria-invalid");
  if (errorNode) {
    say(errorNode, null);
    errorNode.classList.remove("error");
  }
  try {
    return await work();
  } catch (err) {
    const e = AiutamiError.from(err);
    for (const issue of e.issues) fields[issue.path]?.setAttribute("aria-invalid", "true");
    if (errorNode) {
      errorNode.classList.add("error");
      say(errorNode, messageOf(e, labels));
    }
    return undefined;
  } finally {
    for (const c of controls) c.disabled = false;
  }
}

const MAX_TOASTS = 2;

/** A short message at the bottom of the screen for five seconds (a click dismisses it); the newest two show. */
export function toast(text) {
  const div = el("div", { className: "toast", textContent: text, onclick: () => div.remove() });
  const box = $("toasts");
  box.append(div);
  while (box.childElementCount > MAX_TOASTS) box.firstElementChild.remove();
  setTimeout(() => div.remove(), 5000);
}
