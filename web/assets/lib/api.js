// api.js — the one way pages talk to the parlor server.
//
//   api(method, path, body?, headers?) -> parsed JSON, or null for 204 / empty bodies.
//     Same-origin cookies, JSON in and out. A non-2xx answer throws ApiError with the
//     server's {"error":{"code","message"}}; a network failure throws ApiError with
//     status 0 and code "unreachable".
//   currentUser() -> the /api/me object ({ user, coach_id }) or null when logged out.
//   humanError(err) -> a sentence to show for any thrown error.

export const UNREACHABLE_MESSAGE =
  "Cannot reach the server. Check your connection and try again.";

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
  }
}

function fallbackMessage(status) {
  if (status === 401) return "Please log in again.";
  if (status === 403) return "You are not allowed to do that.";
  if (status === 404) return "That could not be found. It may have been removed.";
  if (status === 429) return "Too many attempts. Please wait a moment and try again.";
  if (status >= 500) return "The server had a problem. Please try again in a moment.";
  return "Something went wrong. Please try again.";
}

export async function api(method, path, body, headers = {}) {
  const init = {
    method,
    credentials: "same-origin",
    headers: { Accept: "application/json", ...headers },
  };
  if (body !== undefined && body !== null) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch {
    throw new ApiError(0, "unreachable", UNREACHABLE_MESSAGE);
  }
  let text = "";
  try {
    text = await res.text();
  } catch {
    throw new ApiError(0, "unreachable", UNREACHABLE_MESSAGE);
  }
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch { data = null; }
  }
  if (!res.ok) {
    const err = data && data.error;
    throw new ApiError(
      res.status,
      (err && err.code) || `http_${res.status}`,
      (err && err.message) || fallbackMessage(res.status),
    );
  }
  return res.status === 204 ? null : data;
}

export async function currentUser() {
  try {
    return await api("GET", "/api/me");
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return null;
    throw e;
  }
}

export function humanError(err) {
  if (err instanceof ApiError) return err.message;
  return "Something went wrong. Please reload the page and try again.";
}
