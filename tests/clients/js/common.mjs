// What every JavaScript client check shares: the agents of each kind, and reply checks.
export const KINDS = {
  classic: { echo: "echo", weather: "tools", prefix: "thread_" },
  versioned: { echo: "echo:1", weather: "weather:1", prefix: "conv_" },
};

export function args() {
  const [base, kind] = process.argv.slice(2);
  if (!base || !KINDS[kind]) throw new Error("usage: node <script> <base url> classic|versioned");
  return { base, agents: KINDS[kind] };
}

// The sentences of a reply, sorted: parallel tool results may be described in any order.
export function sentences(text) {
  return text.split(/(?<=\.)\s+/).map((s) => s.trim()).filter(Boolean).sort();
}

export const WEATHER_PARAMETERS = {
  type: "object",
  properties: { location: { type: "string", description: "City name" } },
  required: ["location"],
};
