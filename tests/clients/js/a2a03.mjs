// @a2a-js/sdk 0.3.x (installed as @a2a-js/sdk-03): card, send, stream, memory through
// contextId; with and without a trailing slash on the agent URL.
import assert from "node:assert/strict";
import { A2AClient } from "@a2a-js/sdk-03/client";
import { args } from "./common.mjs";

const { base, agents } = args();

function message(text, contextId) {
  return {
    message: {
      kind: "message",
      messageId: crypto.randomUUID(),
      role: "user",
      ...(contextId ? { contextId } : {}),
      parts: [{ kind: "text", text }],
    },
  };
}

const agentUrl = `${base}/a2a/${agents.echo}`;
for (const url of [agentUrl, `${agentUrl}/`]) {
  const client = await A2AClient.fromCardUrl(`${url.replace(/\/$/, "")}/.well-known/agent-card.json`);
  const bare = new A2AClient(url); // the older form: the agent URL, card fetched from it
  for (const c of [client, bare]) {
    const first = await c.sendMessage(message("My name is Ada"));
    assert.ok(!("error" in first), JSON.stringify(first));
    const task = first.result;
    assert.equal(task.kind, "task", url);
    assert.equal(task.status.state, "completed", url);
    assert.equal(task.artifacts[0].parts[0].text, "Echo: My name is Ada", url);
    assert.ok(task.contextId.startsWith(agents.prefix), url);

    const events = [];
    for await (const event of c.sendMessageStream(message("What is my name?", task.contextId))) {
      events.push(event);
    }
    assert.equal(events[0].kind, "task", url);
    const last = events.at(-1);
    assert.equal(last.kind, "status-update", url);
    assert.equal(last.final, true, url);
    assert.equal(last.status.state, "completed", url);
    const text = events
      .filter((e) => e.kind === "artifact-update")
      .flatMap((e) => e.artifact.parts.map((p) => p.text))
      .join("");
    assert.equal(text, "Your name is Ada.", url);

    const fetched = await c.getTask({ id: last.taskId });
    assert.equal(fetched.result.status.state, "completed", url);
  }
}
console.log("a2a-js 0.3.x: ok");
