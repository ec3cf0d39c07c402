// Requests to this service: the gateway key (session storage only), the
// inspector record of each request, and errors as structured values.

import { recordBody, recordFailure, recordRequest, recordResponse } from "./inspector.js";
import { events } from "./sse.js";

const KEY = "agents-playground.gateway-key";
let unauthorized = () => {};

export const gatewayKey = {
  get: () => sessionStorage.getItem(KEY) || "",
  set: (value) => (value ? sessionStorage.setItem(KEY, value) : sessionStorage.removeItem(KEY)),
};

/** Called with the error when the server answers 401, so the page can ask for a key. */
export function onUnauthorized(callback) {
  unauthorized = callback;
}

/** Where `path` (relative to the page) lives, as an absolute URL. */
export function urlOf(path) {
  return new URL(path, document.baseURI).href;
}

/** An error answer: message, code, type, param, HTTP status and request ids. */
export class ApiError extends Error {
  constructor(fields) {
    super(fields.message || `HTTP ${fields.status}`);
    Object.assign(this, fields);
    this.name = "ApiError";
  }
}

/** The ApiError for an OpenAI-shaped error body (or whatever else came back). */
export function apiError(status, body, headers) {
  const error = (body && typeof body === "object" && body.error) || {};
  const fields = typeof error === "object" ? error : { message: String(error) };
  return new ApiError({
    status,
    message: fields.message || (typeof body === "string" && body) || `HTTP ${status}`,
    code: fields.code ?? null,
    type: fields.type ?? null,
    param: fields.param ?? null,
    data: fields.data ?? null,
    requestId: fields.request_id || headers?.get("x-request-id") || null,
    upstreamRequestId: fields.upstream_request_id || headers?.get("x-upstream-request-id") || null,
  });
}

async function readBody(response) {
  const text = await response.text();
  recordBody(text);
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/**
 * Send a request; resolves to {response, body} for JSON answers, or
 * {response, stream} (an async iterator of SSE events) for event streams.
 * Non-2xx answers throw an ApiError (401 also tells `onUnauthorized`).
 */
export async function request(method, path, { body, signal, stream = false, quiet = false } = {}) {
  const headers = {};
  if (body !== undefined) headers["Content-Type"] = "application/json";
  headers.Accept = stream ? "text/event-stream, application/json" : "application/json";
  const key = gatewayKey.get();
  if (key) headers.Authorization = `Bearer ${key}`;
  const url = urlOf(path);
  if (!quiet) recordRequest({ method, url, headers, body, stream });
  let response;
  try {
    response = await fetch(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
      credentials: "same-origin",
      cache: "no-store",
    });
  } catch (error) {
    if (!quiet) recordFailure(error.name === "AbortError" ? "stopped" : "network error");
    throw error.name === "AbortError"
      ? error
      : new ApiError({ status: 0, message: `the request failed: ${error.message}`, code: "network_error" });
  }
  if (!quiet) recordResponse(response);
  const type = response.headers.get("content-type") || "";
  if (response.ok && type.startsWith("text/event-stream")) {
    return { response, stream: events(response.body, quiet ? () => {} : recordBody) };
  }
  const parsed = quiet ? await response.json().catch(() => null) : await readBody(response);
  if (!response.ok) {
    const error = apiError(response.status, parsed, response.headers);
    if (response.status === 401) unauthorized(error);
    throw error;
  }
  return { response, body: parsed };
}

/**
 * Download a file the agent produced or cited, with the gateway key, as an
 * object URL. Only from this service: the key goes nowhere else.
 */
export async function download(path) {
  const url = urlOf(path);
  if (new URL(url).origin !== location.origin) {
    throw new ApiError({ status: 0, message: `not a file of this service: ${url}`, code: "other_origin" });
  }
  const key = gatewayKey.get();
  const response = await fetch(url, {
    headers: key ? { Authorization: `Bearer ${key}` } : {},
    credentials: "same-origin",
  });
  if (!response.ok) {
    const text = await response.text();
    let parsed = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // not JSON: keep the text
    }
    throw apiError(response.status, parsed, response.headers);
  }
  return URL.createObjectURL(await response.blob());
}
