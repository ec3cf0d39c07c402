// @a2a-js/sdk 1.x: agent card, send, stream, memory through contextId; with and without
// a trailing slash on the agent URL.
//
// `ClientFactory.createFromUrl(url)` resolves the card path `.well-known/agent-card.json`
// relative to `url` (WHATWG URL rules), so the agent URL needs its trailing slash
// (`.../a2a/echo/`); without it, give the card's own URL and an empty path.
import assert from "node:assert/strict";
import { ClientFactory } from "@a2a-js/sdk/client";
import { args } from "./common.mjs";

const { base, agents } = args();
const ROLE_USER = 1;
const TASK_STATE_COMPLETED = 3;

function message(text, contextId = "") {
  return {
    message: {
      messageId: crypto.randomUUID(),
      role: ROLE_USER,
      contextId,
      parts: [{ content: { $case: "text", value: text } }],
    },
  };
}

function textOf(task) {
  return task.artifacts.flatMap((a) => a.parts.map((p) => p.content.value)).join("");
}

const agentUrl = `${base}/a2a/${agents.echo}`;
const ways = {
  "trailing slash": [`${agentUrl}/`, undefined],
  "no trailing slash, card URL": [`${agentUrl}/.well-known/agent-card.json`, ""],
};
for (const [way, [url, path]] of Object.entries(ways)) {
  const client = await new ClientFactory().createFromUrl(url, path);
  const first = await client.sendMessage(message("My name is Ada"));
  assert.equal(first.status.state, TASK_STATE_COMPLETED, way);
  assert.equal(textOf(first), "Echo: My name is Ada", way);
  assert.ok(first.contextId.startsWith(agents.prefix), way);

  const events = [];
  for await (const event of client.sendMessageStream(message("What is my name?", first.contextId))) {
    events.push(event.payload);
  }
  assert.equal(events[0].$case, "task", way);
  const last = events.at(-1);
  assert.equal(last.$case, "statusUpdate", way);
  assert.equal(last.value.status.state, TASK_STATE_COMPLETED, way);
  const text = events
    .filter((e) => e.$case === "artifactUpdate")
    .flatMap((e) => e.value.artifact.parts.map((p) => p.content.value))
    .join("");
  assert.equal(text, "Your name is Ada.", way);

  const fetched = await client.getTask({ id: last.value.taskId });
  assert.equal(textOf(fetched), "Your name is Ada.", way);
}
console.log("a2a-js 1.x: ok");
