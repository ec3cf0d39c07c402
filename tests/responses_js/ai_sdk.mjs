// The Vercel AI SDK's default openai() provider (the Responses API) against the adapter.
// Usage: node ai_sdk.mjs <base URL ending in /v1> <echo agent> <tools agent>
import { createOpenAI } from "@ai-sdk/openai";
import { generateText, stepCountIs, streamText, tool } from "ai";
import { z } from "zod";

const [baseURL, echo, tools] = process.argv.slice(2);
const openai = createOpenAI({ baseURL, apiKey: "local" });

const first = await generateText({ model: openai(echo), prompt: "My name is Ada" });
const continued = await generateText({
  model: openai(echo),
  prompt: "What is my name?",
  providerOptions: { openai: { previousResponseId: first.response.id } },
});

const stream = streamText({ model: openai(echo), prompt: "Tell me a story" });
let streamed = "";
for await (const piece of stream.textStream) streamed += piece;
const streamedFinal = await stream.text;

const toolCalls = [];
const loop = await generateText({
  model: openai(tools),
  prompt: "What's the weather in Paris?",
  tools: {
    get_weather: tool({
      description: "Get the current weather for a location.",
      inputSchema: z.object({ location: z.string() }),
      execute: async ({ location }) => {
        toolCalls.push({ location });
        return `sunny in ${location}`;
      },
    }),
  },
  stopWhen: stepCountIs(3),
});

console.log(
  JSON.stringify({
    generate: first.text,
    continued: continued.text,
    streamed,
    streamedFinal,
    toolCalls,
    toolLoop: loop.text,
  }),
);
