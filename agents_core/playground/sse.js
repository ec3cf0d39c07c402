// Server-sent events over a fetch response body: `for await (const ev of events(body))`.
// Comment lines (": ping" heartbeats) are skipped; each event is {event, data}.

export async function* events(body, onText = () => {}) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  let data = [];
  let name = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      const text = done ? decoder.decode() : decoder.decode(value, { stream: true });
      onText(text);
      buffer += text;
      const lines = buffer.split(/\r\n|\r|\n/);
      buffer = done ? "" : lines.pop();
      for (const line of lines) {
        if (line === "") {
          if (data.length) yield { event: name || "message", data: data.join("\n") };
          data = [];
          name = "";
        } else if (line.startsWith(":")) {
          continue;
        } else {
          const colon = line.indexOf(":");
          const field = colon < 0 ? line : line.slice(0, colon);
          let value = colon < 0 ? "" : line.slice(colon + 1);
          if (value.startsWith(" ")) value = value.slice(1);
          if (field === "data") data.push(value);
          else if (field === "event") name = value;
        }
      }
      if (done) {
        if (data.length) yield { event: name || "message", data: data.join("\n") };
        return;
      }
    }
  } finally {
    reader.releaseLock();
  }
}
