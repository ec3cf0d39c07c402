// Small DOM helpers shared by the panes. Text always goes in through
// textContent / text nodes, never as HTML.

import { download } from "./api.js";

export const $ = (id) => document.getElementById(id);

/** el("div", {className: "x", dataset: {...}}, "text", child, ...) */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value === undefined || value === null) continue;
    if (name === "dataset") Object.assign(node.dataset, value);
    else if (name.startsWith("aria-") || name === "role" || name === "for") node.setAttribute(name, value);
    else node[name] = value;
  }
  for (const child of children.flat()) {
    if (child !== undefined && child !== null && child !== false) node.append(child);
  }
  return node;
}

let ids = 0;
/** A fresh element id, for labels that point at generated controls. */
export function uid(prefix) {
  ids += 1;
  return `${prefix}-${ids}`;
}

/** A definition list of the non-empty `facts` ([term, value] pairs). */
export function facts(pairs, className = "facts") {
  const dl = el("dl", { className });
  for (const [term, value] of pairs) {
    if (value === undefined || value === null || value === "") continue;
    dl.append(el("dt", {}, term), el("dd", {}, String(value)));
  }
  return dl;
}

/** An error card: what went wrong, its code and the request id to quote. */
export function errorCard(error) {
  const status = error.status ? `HTTP ${error.status}` : "";
  const title = ["Error", status, error.code ?? ""].filter(Boolean).join(" · ");
  return el(
    "div",
    { className: "error", role: "alert" },
    el("strong", {}, title),
    el("p", { className: "error-message" }, error.message || String(error)),
    facts([
      ["code", error.code],
      ["type", error.type],
      ["param", error.param],
      ["request id", error.requestId],
      ["upstream request id", error.upstreamRequestId],
      ["data", error.data ? JSON.stringify(error.data) : null],
    ]),
  );
}

/**
 * A button that saves a file as `name`: from `path` on this service (its file
 * route, fetched with the gateway key), or from `bytes` (a Uint8Array) when given.
 */
export function downloadButton(name, path, bytes = null) {
  const button = el("button", { type: "button", className: "link", title: path || null }, `Download ${name}`);
  button.addEventListener("click", async () => {
    if (button.nextElementSibling?.classList.contains("error")) button.nextElementSibling.remove();
    try {
      const href = bytes
        ? URL.createObjectURL(new Blob([bytes], { type: "application/octet-stream" }))
        : await download(path);
      const a = el("a", { href, download: name });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(href), 60_000);
    } catch (error) {
      button.after(errorCard(error));
    }
  });
  return button;
}

/** Scroll `box` to its end if the reader was already near the end. */
export function follow(box, wasNearEnd) {
  if (wasNearEnd) box.scrollTop = box.scrollHeight;
}

export function nearEnd(box) {
  return box.scrollHeight - box.scrollTop - box.clientHeight < 80;
}

/** Enter sends the form, Shift+Enter (or an IME composition) makes a new line. */
export function enterSends(textarea, form) {
  textarea.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
}

let notice = () => {};
export function onNotice(callback) {
  notice = callback;
}
/** A message in the page's status line (empty hides it). */
export function say(text) {
  notice(text);
}
