// The `openai` npm SDK: completion, stream, continuity through thread_id, a tool loop.
import assert from "node:assert/strict";
import OpenAI from "openai";
import { args, sentences, WEATHER_PARAMETERS } from "./common.mjs";

const { base, agents } = args();
const client = new OpenAI({ baseURL: `${base}/v1`, apiKey: "unused-on-loopback", maxRetries: 0 });

// Completion; the thread id is in the body (an extra field) and the x-thread-id header.
const { data: first, response } = await client.chat.completions
  .create({ model: agents.echo, messages: [{ role: "user", content: "My name is Ada" }] })
  .withResponse();
assert.equal(first.choices[0].message.content, "Echo: My name is Ada");
const threadId = first.thread_id;
assert.ok(threadId.startsWith(agents.prefix), threadId);
assert.equal(response.headers.get("x-thread-id"), threadId);

// Continuity: unknown body fields pass through as they are.
const second = await client.chat.completions.create({
  model: agents.echo,
  messages: [{ role: "user", content: "What is my name?" }],
  thread_id: threadId,
});
assert.equal(second.choices[0].message.content, "Your name is Ada.");

// Streaming, on the same thread through the header, with usage.
const stream = await client.chat.completions.create(
  {
    model: agents.echo,
    messages: [{ role: "user", content: "What is my name?" }],
    stream: true,
    stream_options: { include_usage: true },
  },
  { headers: { "x-thread-id": threadId } },
);
let text = "";
let usage = null;
for await (const chunk of stream) {
  text += chunk.choices[0]?.delta?.content ?? "";
  usage = chunk.usage ?? usage;
}
assert.equal(text, "Your name is Ada.");
assert.ok(usage.total_tokens > 0);

// A tool loop: two parallel calls, answered with the whole history.
const tools = [
  {
    type: "function",
    function: { name: "get_weather", description: "Get the weather.", parameters: WEATHER_PARAMETERS },
  },
];
const messages = [{ role: "user", content: "What is the weather in Paris and Rome?" }];
const asked = await client.chat.completions.create({ model: agents.weather, messages, tools });
assert.equal(asked.choices[0].finish_reason, "tool_calls");
const calls = asked.choices[0].message.tool_calls;
assert.deepEqual(
  calls.map((c) => JSON.parse(c.function.arguments).location),
  ["Paris", "Rome"],
);
messages.push(asked.choices[0].message);
for (const call of calls) {
  const place = JSON.parse(call.function.arguments).location;
  messages.push({ role: "tool", tool_call_id: call.id, content: `sunny in ${place}` });
}
const answer = await client.chat.completions.create({ model: agents.weather, messages, tools });
assert.deepEqual(sentences(answer.choices[0].message.content), [
  "The weather in Paris: sunny in Paris.",
  "The weather in Rome: sunny in Rome.",
]);
console.log("openai: ok");
