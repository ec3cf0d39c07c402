// The chat pane: POST /v1/chat/completions, streamed or not, with thread
// continuity, images, citations, files and function tool round trips.

import { apiError, request } from "./api.js";
import { link, render } from "./markdown.js";
import { $, downloadButton, el, enterSends, errorCard, facts, follow, nearEnd, say, uid } from "./ui.js";

let model = () => null;
let controller = null;
let image = null; // {name, url}

/** One assistant turn on screen, filled as the reply arrives. */
class Reply {
  constructor(transcript) {
    this.text = "";
    this.body = el("div", { className: "content markdown" });
    this.extra = el("div", { className: "extra" });
    this.meta = el("div", { className: "meta", "aria-live": "polite" }, "…");
    this.node = el("article", { className: "msg assistant", "aria-label": "Agent reply" },
      el("h3", { className: "who" }, "Agent"), this.body, this.extra, this.meta);
    this.annotations = [];
    this.calls = [];
    this.transcript = transcript;
    this.scheduled = false;
    this.node.setAttribute("aria-busy", "true");
    transcript.append(this.node);
  }

  append(text) {
    this.text += text;
    if (!this.scheduled) {
      this.scheduled = true;
      requestAnimationFrame(() => {
        this.scheduled = false;
        const wasNearEnd = nearEnd(this.transcript);
        this.body.replaceChildren(render(this.text));
        follow(this.transcript, wasNearEnd);
      });
    }
  }

  addToolCallDeltas(deltas) {
    for (const delta of deltas) {
      const index = delta.index ?? this.calls.length;
      const call = (this.calls[index] ??= { id: "", type: "function", function: { name: "", arguments: "" } });
      if (delta.id) call.id = delta.id;
      if (delta.function?.name) call.function.name += delta.function.name;
      if (delta.function?.arguments) call.function.arguments += delta.function.arguments;
    }
  }

  finish({ finishReason, usage, requestId, threadId }) {
    this.body.replaceChildren(render(this.text));
    if (!this.text && !this.calls.length) this.body.append(el("p", { className: "muted" }, "(no text)"));
    this.node.removeAttribute("aria-busy");
    const usageText = usage
      ? `${usage.prompt_tokens} in · ${usage.completion_tokens} out · ${usage.total_tokens} total`
      : null;
    this.meta.replaceChildren(
      facts(
        [
          ["finish", finishReason],
          ["usage", usageText],
          ["thread", threadId],
          ["request id", requestId],
        ],
        "facts inline",
      ),
    );
    if (this.annotations.length) this.extra.append(citations(this.annotations));
    if (finishReason === "tool_calls" && this.calls.length) {
      this.extra.append(toolForm(this.text, this.calls.filter(Boolean)));
    }
  }

  fail(error) {
    this.node.removeAttribute("aria-busy");
    if (this.text) this.body.replaceChildren(render(this.text));
    this.extra.append(error.name === "AbortError" ? el("p", { className: "muted" }, "Stopped.") : errorCard(error));
    this.meta.textContent = "";
  }
}

function citations(annotations) {
  const list = el("ul", { className: "citations" });
  const seen = new Set();
  for (const annotation of annotations) {
    const details = annotation[annotation.type] || annotation;
    const key = `${annotation.type}:${details.url || details.file_id}`;
    if (seen.has(key)) continue;
    seen.add(key);
    if (annotation.type === "url_citation" && /^https?:/i.test(details.url || "")) {
      list.append(el("li", {}, link(details.url, details.title || details.url)));
    } else if (details.file_id && details.url) {
      const name = details.filename || details.file_id;
      const button = downloadButton(name, details.url);
      list.append(el("li", {}, button, details.quote ? ` — “${details.quote}”` : ""));
    }
  }
  return el("div", { className: "sources" }, el("h4", {}, "Sources"), list);
}

function toolForm(text, calls) {
  const form = el("form", { className: "tools", "aria-label": "Tool calls" });
  form.append(el("h4", {}, calls.length === 1 ? "The agent calls a tool" : `The agent calls ${calls.length} tools`));
  const fields = calls.map((call) => {
    const id = uid("tool-result");
    let args = call.function.arguments;
    try {
      args = JSON.stringify(JSON.parse(args), null, 2);
    } catch {
      // not JSON: show as sent
    }
    const area = el("textarea", { id, rows: 2, required: true, className: "tool-result" });
    form.append(
      el(
        "fieldset",
        { className: "tool-card" },
        el("legend", {}, call.function.name || "function"),
        el("pre", { className: "json" }, args),
        el("label", { for: id }, `Result of ${call.function.name}`),
        area,
      ),
    );
    return area;
  });
  const submit = el("button", { type: "submit", className: "primary" }, "Send tool results");
  form.append(submit);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const assistant = { role: "assistant", content: text || null, tool_calls: calls };
    const results = calls.map((call, i) => ({ role: "tool", tool_call_id: call.id, content: fields[i].value }));
    for (const node of form.elements) node.disabled = true;
    showUser(calls.map((call, i) => `${call.function.name} → ${fields[i].value}`).join("\n"), null, "Tool results");
    turn([assistant, ...results]);
  });
  return form;
}

function showUser(text, imageUrl, who = "You") {
  const transcript = $("transcript");
  const node = el("article", { className: "msg user", "aria-label": `${who} said` }, el("h3", { className: "who" }, who));
  node.append(el("p", { className: "plain" }, text));
  if (imageUrl) node.append(el("img", { src: imageUrl, alt: "Attached image", className: "thumb" }));
  transcript.append(node);
  transcript.scrollTop = transcript.scrollHeight;
}

function setThread(threadId) {
  if (threadId) $("thread-id").value = threadId;
}

function busy(on) {
  $("chat-send").disabled = on;
  $("chat-stop").disabled = !on;
}

async function readStream(stream, reply, state) {
  for await (const event of stream) {
    if (event.data === "[DONE]") break;
    let chunk;
    try {
      chunk = JSON.parse(event.data);
    } catch {
      continue;
    }
    if (chunk.error) throw apiError(0, chunk, state.headers); // after a 200: no status of its own
    if (chunk.thread_id) {
      state.threadId = chunk.thread_id;
      setThread(chunk.thread_id);
    }
    if (chunk.usage) state.usage = chunk.usage;
    for (const choice of chunk.choices || []) {
      const delta = choice.delta || {};
      if (delta.content) reply.append(delta.content);
      if (delta.tool_calls) reply.addToolCallDeltas(delta.tool_calls);
      if (delta.annotations) reply.annotations.push(...delta.annotations);
      if (choice.finish_reason) state.finishReason = choice.finish_reason;
    }
  }
}

/** Send `messages` (the new ones only: the thread holds the rest) and show the reply. */
async function turn(messages) {
  const agent = model();
  if (!agent) {
    say("Pick an agent first.");
    return;
  }
  const stream = $("chat-stream").checked;
  const body = { model: agent, messages: [...messages], stream };
  const system = $("chat-system").value.trim();
  if (system) body.messages.unshift({ role: "system", content: system });
  const threadId = $("thread-id").value.trim();
  if (threadId) body.thread_id = threadId;
  const instructions = $("chat-instructions").value.trim();
  if (instructions) body.instructions = instructions;
  if ($("chat-strip").checked) body.citation_markers = "strip";
  if (stream) body.stream_options = { include_usage: true };
  const reply = new Reply($("transcript"));
  controller = new AbortController();
  busy(true);
  try {
    const answer = await request("POST", "v1/chat/completions", { body, stream, signal: controller.signal });
    const headers = answer.response.headers;
    const state = { headers, threadId: headers.get("x-thread-id") };
    setThread(state.threadId);
    if (answer.stream) {
      await readStream(answer.stream, reply, state);
    } else {
      const choice = answer.body.choices?.[0] || {};
      const message = choice.message || {};
      reply.append(message.content || "");
      reply.calls = (message.tool_calls || []).map((call) => ({ ...call }));
      reply.annotations = message.annotations || [];
      state.finishReason = choice.finish_reason;
      state.usage = answer.body.usage;
      state.threadId = answer.body.thread_id || state.threadId;
      setThread(state.threadId);
    }
    reply.finish({ ...state, requestId: headers.get("x-request-id") });
  } catch (error) {
    reply.fail(error);
  } finally {
    controller = null;
    busy(false);
  }
}

function clearImage() {
  image = null;
  $("chat-image").value = "";
  $("attachment").hidden = true;
  $("attachment-preview").removeAttribute("src");
}

function attach(file) {
  if (!file) return clearImage();
  const reader = new FileReader();
  reader.addEventListener("load", () => {
    image = { name: file.name, url: String(reader.result) };
    $("attachment-preview").src = image.url;
    $("attachment-name").textContent = `${file.name} (${Math.ceil(file.size / 1024)} KiB)`;
    $("attachment").hidden = false;
  });
  reader.readAsDataURL(file);
}

/** Forget the thread: the next message starts a new conversation. */
export function newConversation() {
  $("thread-id").value = "";
  $("transcript").replaceChildren();
}

export function setup(currentModel) {
  model = currentModel;
  const form = $("chat-form");
  const input = $("chat-input");
  enterSends(input, form);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (controller) return;
    const text = input.value.trim();
    if (!text && !image) return;
    const content = image
      ? [...(text ? [{ type: "text", text }] : []), { type: "image_url", image_url: { url: image.url } }]
      : text;
    showUser(text, image?.url);
    input.value = "";
    clearImage();
    turn([{ role: "user", content }]);
  });
  $("chat-stop").addEventListener("click", () => controller?.abort());
  $("new-thread").addEventListener("click", () => {
    newConversation();
    input.focus();
  });
  $("chat-image").addEventListener("change", (event) => attach(event.target.files[0]));
  $("attachment-remove").addEventListener("click", clearImage);
}
