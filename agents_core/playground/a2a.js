// The A2A pane: the agent card, and JSON-RPC 1.0 calls on /a2a/{agent}
// (SendMessage, SendStreamingMessage, GetTask, CancelTask), with task states
// and artifacts shown as they arrive: text as Markdown, files as downloads,
// data as JSON. Results in the 0.3 shape are read too.

import { ApiError, request } from "./api.js";
import { link, render } from "./markdown.js";
import { $, downloadButton, el, enterSends, errorCard, facts, follow, nearEnd, say, uid } from "./ui.js";

const TERMINAL = new Set(["completed", "failed", "canceled", "rejected"]);
let agentPath = () => null;
let busy = false;
let rpcIds = 0;
const tasks = new Map(); // task id -> TaskView

/** "TASK_STATE_INPUT_REQUIRED" (1.0) or "input-required" (0.3) -> "input-required". */
export function stateName(state) {
  return String(state || "unknown").replace(/^TASK_STATE_/, "").toLowerCase().replaceAll("_", "-");
}

function textOf(parts) {
  return (parts || [])
    .map((part) => part.text ?? (part.kind === "text" ? part.text : null))
    .filter((text) => typeof text === "string")
    .join("");
}

function dataOf(parts) {
  return (parts || []).map((part) => part.data).filter((data) => data && typeof data === "object");
}

/** A part as shown: {text}, {file: {url, raw, name, mediaType}} or {data}; 1.0 or 0.3 shape. */
function partOf(part) {
  if (!part || typeof part !== "object") return null;
  if (typeof part.text === "string") return { text: part.text };
  if (part.kind === "file" || "url" in part || "raw" in part) {
    const file = part.kind === "file" ? part.file || {} : part;
    return {
      file: {
        url: file.url ?? file.uri,
        raw: file.raw ?? file.bytes,
        name: file.filename ?? file.name,
        mediaType: file.mediaType ?? file.mimeType,
      },
    };
  }
  if ("data" in part) return { data: part.data };
  return null;
}

/** `shown` (partOf values) with `parts` added: text goes on in the text part before it. */
function addParts(shown, parts) {
  for (const part of (Array.isArray(parts) ? parts : []).map(partOf)) {
    if (!part) continue;
    const last = shown.at(-1);
    if (part.text !== undefined && last?.text !== undefined) last.text += part.text;
    else shown.push(part);
  }
  return shown;
}

function lastSegment(url) {
  const segment = url?.pathname.split("/").at(-1) || "";
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

function bytesOf(base64) {
  try {
    return Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
  } catch {
    return null;
  }
}

/** A file part: a download through this service (with the key), a link elsewhere, or inline bytes. */
function fileNode(file) {
  const text = (value) => (typeof value === "string" && value ? value : "");
  let url = null;
  try {
    url = text(file.url) ? new URL(file.url, document.baseURI) : null;
  } catch {
    url = null;
  }
  const name = text(file.name) || lastSegment(url) || "file";
  const node = el("div", { className: "file-part" });
  const bytes = !url && text(file.raw) ? bytesOf(file.raw) : null;
  if (url?.origin === location.origin) node.append(downloadButton(name, url.href));
  else if (url && /^https?:$/.test(url.protocol)) node.append(link(url.href, name));
  else if (bytes) node.append(downloadButton(name, null, bytes));
  else node.append(el("span", {}, name));
  if (text(file.mediaType)) node.append(" ", el("span", { className: "muted" }, file.mediaType));
  return node;
}

function partNode(part) {
  if (part.text !== undefined) return render(part.text);
  if (part.file) return fileNode(part.file);
  return el("pre", { className: "json data-part" }, JSON.stringify(part.data, null, 2) ?? "null");
}

/** A JSON-RPC result as {kind, ...}: task, status, artifact or message. */
function normalize(result) {
  if (!result || typeof result !== "object") return null;
  if (result.task || result.kind === "task") return { kind: "task", task: result.task || result };
  if (result.statusUpdate || result.kind === "status-update") return { kind: "status", update: result.statusUpdate || result };
  if (result.artifactUpdate || result.kind === "artifact-update") return { kind: "artifact", update: result.artifactUpdate || result };
  if (result.message || result.kind === "message") return { kind: "message", message: result.message || result };
  if (result.id && result.status) return { kind: "task", task: result };
  return null;
}

/** One task on screen: its state changes, artifacts and what it asks for. */
class TaskView {
  constructor(id, contextId) {
    this.id = id;
    this.states = [];
    this.artifacts = new Map();
    this.title = el("h3", { className: "who" }, "Task");
    this.state = el("span", { className: "badge state", "aria-live": "polite" });
    this.timeline = el("ol", { className: "timeline", "aria-label": "State changes" });
    this.status = el("div", { className: "status-message" });
    this.output = el("div", { className: "artifacts" });
    this.node = el(
      "article",
      { className: "msg assistant task", dataset: { taskId: id } },
      el("div", { className: "task-head" }, this.title, this.state),
      facts([["task id", id], ["context id", contextId]], "facts inline"),
      this.timeline,
      this.output,
      this.status,
    );
    $("a2a-log").append(this.node);
  }

  setState(state, message) {
    const name = stateName(state);
    if (this.states.at(-1) !== name) {
      this.states.push(name);
      this.timeline.append(el("li", {}, name));
    }
    this.state.textContent = name;
    this.state.dataset.state = name;
    this.node.dataset.state = name;
    this.status.replaceChildren();
    if (message) {
      const text = textOf(message.parts);
      if (text) this.status.append(el("p", { className: "plain" }, text));
      const calls = name === "input-required" ? dataOf(message.parts).flatMap((data) => data.tool_calls || []) : [];
      const others = addParts([], message.parts).filter(
        (part) => part.text === undefined && !(calls.length && part.data?.tool_calls),
      );
      this.status.append(...others.map(partNode));
      if (calls.length) this.status.append(toolForm(this, calls));
    }
    if (name === "input-required") replyTo(this.id);
    else if (TERMINAL.has(name) && $("a2a-reply-to").dataset.taskId === this.id) replyTo(null);
  }

  artifact(artifact, append) {
    const id = artifact.artifactId || artifact.name || "artifact";
    let view = this.artifacts.get(id);
    if (!view) {
      const body = el("div", { className: "content markdown" });
      view = { parts: [], body };
      this.artifacts.set(id, view);
      this.output.append(el("section", { className: "artifact", dataset: { artifactId: id } },
        el("h4", {}, `Artifact: ${artifact.name || id}`), body));
    }
    view.parts = addParts(append ? view.parts : [], artifact.parts);
    view.body.replaceChildren(...view.parts.map(partNode));
  }

  task(task) {
    for (const artifact of task.artifacts || []) this.artifact(artifact, false);
    this.setState(task.status?.state, task.status?.message);
  }
}

function toolForm(view, calls) {
  const form = el("form", { className: "tools", "aria-label": "Tool calls" });
  form.append(el("h4", {}, "The agent waits for tool results"));
  const fields = calls.map((call) => {
    const id = uid("a2a-tool-result");
    const area = el("textarea", { id, rows: 2, required: true, className: "tool-result" });
    form.append(
      el("fieldset", { className: "tool-card" },
        el("legend", {}, call.name || "function"),
        el("pre", { className: "json" }, call.arguments || ""),
        el("label", { for: id }, `Result of ${call.name}`),
        area),
    );
    return area;
  });
  form.append(el("button", { type: "submit", className: "primary" }, "Send tool results"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const outputs = calls.map((call, i) => ({ tool_call_id: call.id, output: fields[i].value }));
    for (const node of form.elements) node.disabled = true;
    send([{ data: { tool_outputs: outputs } }], view.id, "Tool results",
      outputs.map((o, i) => `${calls[i].name} → ${o.output}`).join("\n"));
  });
  return form;
}

function replyTo(taskId) {
  const note = $("a2a-reply-to");
  note.hidden = !taskId;
  note.dataset.taskId = taskId || "";
  note.textContent = taskId ? `The next message answers task ${taskId} (it asks for input).` : "";
}

function viewFor(taskId, contextId) {
  let view = tasks.get(taskId);
  if (!view) {
    view = new TaskView(taskId, contextId);
    tasks.set(taskId, view);
  }
  return view;
}

function show(result) {
  const item = normalize(result);
  if (!item) return;
  const box = $("a2a-log");
  const wasNearEnd = nearEnd(box);
  const carrier = item.task || item.update || item.message;
  if (carrier.contextId) $("context-id").value = carrier.contextId;
  const taskId = item.kind === "task" ? item.task.id : carrier.taskId;
  if (taskId) $("task-id").value = taskId;
  if (item.kind === "task") {
    viewFor(item.task.id, item.task.contextId).task(item.task);
  } else if (item.kind === "status") {
    viewFor(carrier.taskId, carrier.contextId).setState(carrier.status?.state, carrier.status?.message);
  } else if (item.kind === "artifact") {
    viewFor(carrier.taskId, carrier.contextId).artifact(carrier.artifact, Boolean(carrier.append));
  } else {
    box.append(el("article", { className: "msg assistant" }, el("h3", { className: "who" }, "Agent"),
      el("div", { className: "content markdown" }, addParts([], carrier.parts).map(partNode))));
  }
  follow(box, wasNearEnd);
}

function rpcError(error, response) {
  return new ApiError({
    status: response.status,
    message: error.message,
    code: error.code,
    data: error.data ?? null,
    requestId: response.headers.get("x-request-id"),
  });
}

async function call(method, params, stream = false) {
  const agent = agentPath();
  if (!agent) {
    say("Pick an agent first.");
    return;
  }
  busy = true;
  $("a2a-send").disabled = true;
  rpcIds += 1;
  const body = { jsonrpc: "2.0", id: rpcIds, method, params };
  const box = $("a2a-log");
  try {
    const answer = await request("POST", `a2a/${agent}`, { body, stream });
    if (answer.stream) {
      for await (const event of answer.stream) {
        let frame;
        try {
          frame = JSON.parse(event.data);
        } catch {
          continue;
        }
        if (frame.error) throw rpcError(frame.error, answer.response);
        show(frame.result);
      }
    } else if (answer.body?.error) {
      throw rpcError(answer.body.error, answer.response);
    } else {
      show(answer.body?.result);
    }
  } catch (error) {
    box.append(errorCard(error));
    box.scrollTop = box.scrollHeight;
  } finally {
    busy = false;
    $("a2a-send").disabled = false;
  }
}

/** A random message id (crypto.randomUUID needs a secure context; this does not). */
function messageId() {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return `msg-${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

function send(parts, taskId, who, shown) {
  const message = { messageId: messageId(), role: "ROLE_USER", parts };
  const contextId = $("context-id").value.trim();
  if (contextId) message.contextId = contextId;
  if (taskId) {
    message.taskId = taskId;
    replyTo(null); // the answer's task says whether more input is needed
  }
  const box = $("a2a-log");
  box.append(el("article", { className: "msg user", "aria-label": `${who} said` },
    el("h3", { className: "who" }, who), el("p", { className: "plain" }, shown)));
  box.scrollTop = box.scrollHeight;
  const stream = $("a2a-stream").checked;
  return call(stream ? "SendStreamingMessage" : "SendMessage", { message }, stream);
}

/** Show the agent card of `agent` (the path segment under /a2a/); resolves to the card or null. */
export async function loadCard(agent) {
  $("card-name").textContent = "loading…";
  $("card-description").textContent = "";
  $("card-facts").replaceChildren();
  $("card-json").textContent = "";
  try {
    const { body } = await request("GET", `a2a/${agent}/.well-known/agent-card.json`, { quiet: true });
    $("card-name").textContent = body.name || agent;
    $("card-description").textContent = body.description || "";
    const interfaces = (body.supportedInterfaces || [])
      .map((i) => `${i.protocolBinding} ${i.protocolVersion}`)
      .join(", ");
    $("card-facts").replaceWith(
      Object.assign(
        facts([
          ["url", body.url],
          ["interfaces", interfaces],
          ["streaming", String(Boolean(body.capabilities?.streaming))],
          ["skills", (body.skills || []).map((s) => s.id).join(", ")],
          ["security", Object.keys(body.securitySchemes || {}).join(", ") || "none"],
        ]),
        { id: "card-facts" },
      ),
    );
    $("card-json").textContent = JSON.stringify(body, null, 2);
    return body;
  } catch (error) {
    $("card-name").textContent = "unavailable";
    $("card-description").replaceChildren(errorCard(error));
    return null;
  }
}

/** Forget the context and the tasks shown. */
export function newContext() {
  $("context-id").value = "";
  $("task-id").value = "";
  replyTo(null);
  tasks.clear();
  $("a2a-log").replaceChildren();
}

export function setup(currentAgentPath) {
  agentPath = currentAgentPath;
  const form = $("a2a-form");
  const input = $("a2a-input");
  enterSends(input, form);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text || busy) return;
    input.value = "";
    send([{ text }], $("a2a-reply-to").dataset.taskId || null, "You", text);
  });
  $("new-context").addEventListener("click", () => {
    newContext();
    input.focus();
  });
  $("get-task").addEventListener("click", () => {
    const id = $("task-id").value.trim();
    if (id) call("GetTask", { id });
    else say("Enter a task id first.");
  });
  $("cancel-task").addEventListener("click", () => {
    const id = $("task-id").value.trim();
    if (id) call("CancelTask", { id });
    else say("Enter a task id first.");
  });
}
