// The inspector: the last request and response as sent and received (the
// gateway key masked), and the same request as a curl command that works in
// a POSIX shell once GATEWAY_KEY is exported.

const SECRET_HEADERS = new Set(["authorization", "api-key", "x-api-key"]);
const MAX_SHOWN = 200_000;
const KEY_VARIABLE = '"${GATEWAY_KEY:?export GATEWAY_KEY=<your gateway key> first}"';

let last = null;
let responseText = "";
let responseHead = "";

const $ = (id) => document.getElementById(id);

function shellQuote(value) {
  return `'${String(value).replaceAll("'", `'\\''`)}'`;
}

function shorten(value) {
  // Image data URLs can be megabytes: show their start only (curl keeps them whole).
  return JSON.stringify(
    value,
    (_, v) => (typeof v === "string" && v.length > 300 ? `${v.slice(0, 120)}… (${v.length} chars)` : v),
    2,
  );
}

/** The curl command for `request` ({method, url, headers, body, stream}). */
export function curlFor(request) {
  const parts = ["curl -sS"];
  if (request.stream) parts.push("-N");
  if (request.method !== "GET") parts.push(`-X ${request.method}`);
  parts.push(shellQuote(request.url));
  for (const [name, value] of Object.entries(request.headers)) {
    if (SECRET_HEADERS.has(name.toLowerCase())) {
      const scheme = /^bearer /i.test(value) ? "Bearer " : "";
      parts.push(`-H "${name}: ${scheme}"${KEY_VARIABLE}`);
    } else {
      parts.push(`-H ${shellQuote(`${name}: ${value}`)}`);
    }
  }
  if (request.body !== undefined) parts.push(`--data-binary ${shellQuote(JSON.stringify(request.body))}`);
  return parts.join(" \\\n  ");
}

function masked(headers) {
  return Object.fromEntries(
    Object.entries(headers).map(([name, value]) => [
      name,
      SECRET_HEADERS.has(name.toLowerCase()) ? value.replace(/(bearer\s+)?.*/i, "$1••••••") : value,
    ]),
  );
}

/** Show a request about to be sent; its headers may hold the key, which is masked. */
export function recordRequest(request) {
  last = request;
  const lines = [`${request.method} ${request.url}`, shorten(masked(request.headers))];
  if (request.body !== undefined) lines.push("", shorten(request.body));
  $("inspect-request").textContent = lines.join("\n");
  $("inspect-response").textContent = "waiting…";
  responseText = "";
  responseHead = "";
  $("curl").value = curlFor(request);
  $("copy-curl").disabled = false;
}

/** Show a response's status and headers; its body follows through `recordBody`. */
export function recordResponse(response) {
  const headers = {};
  response.headers.forEach((value, name) => {
    headers[name] = value;
  });
  responseHead = `${response.status} ${response.statusText}\n${shorten(headers)}\n\n`;
  $("inspect-response").textContent = responseHead;
}

/** Append received body text (streams arrive piece by piece). */
export function recordBody(text) {
  if (responseText.length >= MAX_SHOWN) return;
  responseText += text;
  if (responseText.length >= MAX_SHOWN) responseText = `${responseText.slice(0, MAX_SHOWN)}\n… (cut)`;
  $("inspect-response").textContent = responseHead + responseText;
}

/** Show that the request never got an answer. */
export function recordFailure(message) {
  $("inspect-response").textContent = `${responseHead}${responseText}\n(${message})`;
}

export function lastRequest() {
  return last;
}

export function setup() {
  $("copy-curl").addEventListener("click", async () => {
    const text = $("curl").value;
    try {
      await navigator.clipboard.writeText(text);
      $("copy-status").textContent = "Copied. Export GATEWAY_KEY first if the server needs a key.";
    } catch {
      $("curl").focus();
      $("curl").select();
      $("copy-status").textContent = "Selected: press Ctrl+C (or Cmd+C) to copy.";
    }
  });
}
