// The playground page: agent picker, gateway key, and the chat, A2A and
// inspector panes wired together.

import { gatewayKey, onUnauthorized, request } from "./api.js";
import * as a2a from "./a2a.js";
import * as chat from "./chat.js";
import * as inspector from "./inspector.js";
import { $, el, onNotice, say } from "./ui.js";

const MODEL_PREFIX = "azure_ai/agents/";
const CARD_LOOKUPS = 25; // cards are fetched to label agents classic / versioned
const kinds = new Map(); // model name -> "classic" | "versioned"
const names = new Map(); // model name -> the agent's display name, when listed

function selected() {
  return $("agent").value || null;
}

/** The agent as /a2a/{agent} names it: a configured name, or a bare agent id. */
function a2aPath() {
  const name = selected();
  if (!name) return null;
  return encodeURIComponent(name.startsWith(MODEL_PREFIX) ? name.slice(MODEL_PREFIX.length) : name)
    .replaceAll("%3A", ":");
}

function kindOf(model, card) {
  const declared = model?.agent_kind || model?.kind;
  if (declared === "classic" || declared === "versioned") return declared;
  const listed = model?.id?.startsWith(MODEL_PREFIX) ? model.id.slice(MODEL_PREFIX.length) : null;
  const agentId = listed || card?.skills?.[0]?.id;
  if (!agentId) return null;
  return agentId.startsWith("asst_") ? "classic" : "versioned";
}

function label(name) {
  const kind = kinds.get(name);
  const shown = names.has(name) ? `${names.get(name)} (${name})` : name;
  return kind ? `${shown} · ${kind}` : shown;
}

function showKind() {
  const kind = kinds.get(selected());
  const badge = $("agent-kind");
  badge.textContent = kind ? (kind === "classic" ? "classic (threads)" : "versioned (responses)") : "";
  badge.dataset.kind = kind || "";
}

function refreshLabels() {
  for (const option of $("agent").options) option.textContent = label(option.value);
  showKind();
}

async function labelFromCards(names) {
  await Promise.all(
    names.slice(0, CARD_LOOKUPS).map(async (name) => {
      const path = encodeURIComponent(name.startsWith(MODEL_PREFIX) ? name.slice(MODEL_PREFIX.length) : name)
        .replaceAll("%3A", ":");
      try {
        const { body } = await request("GET", `a2a/${path}/.well-known/agent-card.json`, { quiet: true });
        const kind = kindOf(null, body);
        if (kind) kinds.set(name, kind);
      } catch {
        // the card says why when this agent is picked
      }
    }),
  );
  refreshLabels();
}

async function agentChanged() {
  chat.newConversation();
  a2a.newContext();
  showKind();
  const path = a2aPath();
  if (!path) return;
  const card = await a2a.loadCard(path);
  const kind = kindOf(null, card);
  if (kind && selected()) {
    kinds.set(selected(), kind);
    refreshLabels();
  }
}

async function loadAgents() {
  say("");
  const select = $("agent");
  const previous = selected();
  let models;
  try {
    const { body } = await request("GET", "v1/models");
    models = body.data || [];
  } catch (error) {
    if (error.status !== 401) say(`Could not list the agents: ${error.message}`);
    return;
  }
  select.replaceChildren(...models.map((model) => el("option", { value: model.id }, model.id)));
  for (const model of models) {
    const kind = kindOf(model, null);
    if (kind) kinds.set(model.id, kind);
    if (model.name && model.name !== model.id) names.set(model.id, model.name);
  }
  if (!models.length) say("No agents are configured: type an agent id instead.");
  const kept = previous && models.some((model) => model.id === previous);
  if (kept) select.value = previous;
  refreshLabels();
  if (kept) await a2a.loadCard(a2aPath());
  else await agentChanged();
  labelFromCards(models.filter((model) => !kinds.has(model.id)).map((model) => model.id));
}

function useCustom() {
  const value = $("agent-custom").value.trim();
  if (!value) return;
  const name = value.startsWith(MODEL_PREFIX) || [...$("agent").options].some((o) => o.value === value)
    ? value
    : `${MODEL_PREFIX}${value}`;
  if (![...$("agent").options].some((option) => option.value === name)) {
    $("agent").append(el("option", { value: name }, name));
  }
  $("agent").value = name;
  refreshLabels();
  agentChanged();
}

function askForKey(reason) {
  const dialog = $("key-dialog");
  $("key-reason").textContent = reason;
  $("key-input").value = "";
  if (!dialog.open) dialog.showModal();
  $("key-input").focus();
}

function setupKey() {
  onUnauthorized((error) => {
    const message = gatewayKey.get()
      ? `The server refused the gateway key: ${error.message}`
      : `This server needs a gateway key: ${error.message}`;
    say(message);
    askForKey(message);
  });
  $("key-button").addEventListener("click", () =>
    askForKey(gatewayKey.get() ? "A key is set for this tab. Enter another, or forget it." : "Enter the gateway key, if this server asks for one."),
  );
  $("key-form").addEventListener("submit", () => {
    const value = $("key-input").value.trim();
    if (value) gatewayKey.set(value);
    loadAgents();
  });
  $("key-cancel").addEventListener("click", () => $("key-dialog").close());
  $("key-forget").addEventListener("click", () => {
    gatewayKey.set("");
    $("key-dialog").close();
    say("The gateway key is forgotten.");
  });
}

function setup() {
  onNotice((text) => {
    $("notice").textContent = text;
    $("notice").hidden = !text;
  });
  inspector.setup();
  setupKey();
  chat.setup(selected);
  a2a.setup(a2aPath);
  $("agent").addEventListener("change", agentChanged);
  $("reload-agents").addEventListener("click", loadAgents);
  $("use-custom").addEventListener("click", useCustom);
  $("agent-custom").addEventListener("keydown", (event) => {
    if (event.key === "Enter") {
      event.preventDefault();
      useCustom();
    }
  });
  document.body.dataset.ready = "true";
  loadAgents();
}

setup();
