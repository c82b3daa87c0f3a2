// The JSON API the dashboard reads. Errors carry the HTTP status and fleetsre's {"error", "field"} body.

export class ApiError extends Error {
  constructor(status, message, field) {
    super(message);
    this.status = status;
    this.field = field;
  }
}

/** Query string from an object, skipping empty values. */
export function qs(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v !== undefined && v !== null && v !== "") q.set(k, v);
  }
  const text = q.toString();
  return text ? `?${text}` : "";
}

async function request(method, path, params) {
  let res;
  try {
    res = await fetch(path + qs(params), { method, headers: { Accept: "application/json" } });
  } catch (err) {
    throw new ApiError(0, `fleetsre is unreachable (${err.message})`);
  }
  const body = await res.json().catch(() => null);
  if (!res.ok) {
    const detail = body && (body.error || body.detail);
    const message = typeof detail === "string" ? detail : `${method} ${path} answered ${res.status}`;
    throw new ApiError(res.status, message, body && body.field);
  }
  return body;
}

export const getJSON = (path, params) => request("GET", path, params);
export const postJSON = (path, params) => request("POST", path, params);

export const api = {
  summary: () => getJSON("/api/v1/fleet/summary"),
  trends: (bucket, since) => getJSON("/api/v1/fleet/trends", { bucket, since }),
  incidents: (filters) => getJSON("/api/v1/fleet/incidents", filters),
  incident: (id) => getJSON(`/api/v1/incidents/${encodeURIComponent(id)}`),
  reinvestigate: (id) => postJSON(`/api/v1/incidents/${encodeURIComponent(id)}/investigate`),
};
