// The Vercel AI SDK (`ai`) through `@ai-sdk/openai-compatible`: generateText, streamText,
// a tool loop, and continuity through thread_id.
import assert from "node:assert/strict";
import { createOpenAICompatible } from "@ai-sdk/openai-compatible";
import { generateText, jsonSchema, stepCountIs, streamText, tool } from "ai";
import { args, sentences, WEATHER_PARAMETERS } from "./common.mjs";

const { base, agents } = args();
const provider = createOpenAICompatible({
  name: "foundry-agents",
  baseURL: `${base}/v1`,
  apiKey: "unused-on-loopback",
  includeUsage: true,
});

// generateText; the thread id comes back in the response headers.
const first = await generateText({ model: provider(agents.echo), prompt: "My name is Ada", maxRetries: 0 });
assert.equal(first.text, "Echo: My name is Ada");
const threadId = first.response.headers["x-thread-id"];
assert.ok(threadId.startsWith(agents.prefix), threadId);

// Continuity: the header, or the body through providerOptions (keyed by the provider's name).
const byHeader = await generateText({
  model: provider(agents.echo),
  prompt: "What is my name?",
  headers: { "x-thread-id": threadId },
  maxRetries: 0,
});
assert.equal(byHeader.text, "Your name is Ada.");
const byBody = await generateText({
  model: provider(agents.echo),
  prompt: "What is my name?",
  providerOptions: { "foundry-agents": { thread_id: threadId } },
  maxRetries: 0,
});
assert.equal(byBody.text, "Your name is Ada.");

// streamText, with usage.
const streamed = streamText({
  model: provider(agents.echo),
  prompt: "Please echo this rather long sentence",
  maxRetries: 0,
});
let text = "";
for await (const delta of streamed.textStream) text += delta;
assert.equal(text, "Echo: Please echo this rather long sentence");
assert.ok((await streamed.usage).totalTokens > 0);
assert.equal((await streamed.response).headers["x-thread-id"].slice(0, agents.prefix.length), agents.prefix);

// A tool loop: the SDK runs the tool and sends the result back (two steps).
const places = [];
const getWeather = tool({
  description: "Get the current weather for a location.",
  inputSchema: jsonSchema(WEATHER_PARAMETERS),
  execute: async ({ location }) => {
    places.push(location);
    return `sunny in ${location}`;
  },
});
for (const run of [generateText, streamText]) {
  places.length = 0;
  const result = run({
    model: provider(agents.weather),
    prompt: "What is the weather in Paris and Rome?",
    tools: { get_weather: getWeather },
    stopWhen: stepCountIs(3),
    maxRetries: 0,
  });
  const finalText = await (await result).text;
  assert.deepEqual(places.sort(), ["Paris", "Rome"]);
  assert.deepEqual(sentences(finalText), [
    "The weather in Paris: sunny in Paris.",
    "The weather in Rome: sunny in Rome.",
  ]);
}
console.log("ai-sdk: ok");
