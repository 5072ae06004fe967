// Typed client for the WebTrigger API (`/v1/*`, same origin).
//
// Every response is an envelope: `{"success":true,"data":…}` or
// `{"success":false,"error":{"code":"…","message":"…"}}`. `apiFetch` unwraps `data` or throws `ApiError`.
//
// Auth: the access token is held in memory only — never localStorage/sessionStorage or a readable cookie —
// and sent as `Authorization: Bearer …`. On a 401 the client refreshes once (the refresh token travels in an
// HttpOnly cookie) and retries; a reload re-obtains the token the same way (see auth.ts).
// The service worker never caches `/v1/*`; only the signed-in profile (no token) is kept, in auth.ts.

/** Thrown for any failed call. `status` 0 means no HTTP response (offline, unreachable, timed out). */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  readonly status: number;
  readonly code: string;

  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }

  /** True when the request never got an HTTP response. */
  get isNetworkError(): boolean {
    return this.status === 0;
  }
}

/** Error codes produced by the client itself (status 0) rather than the server. */
export const CLIENT_ERROR = {
  offline: 'offline',
  network: 'network_error',
  timeout: 'timeout',
  aborted: 'aborted',
  invalidResponse: 'invalid_response',
} as const;

const DEFAULT_TIMEOUT_MS = 15_000;

let accessToken: string | null = null;

/** Sets (or clears) the in-memory access token sent with every request. Not persisted anywhere. */
export function setAccessToken(token: string | null): void {
  accessToken = token;
}

let refreshHandler: (() => Promise<boolean>) | null = null;

/** Registers how to obtain a fresh access token after a 401 (auth.ts does; returns false when signed out). */
export function setRefreshHandler(handler: () => Promise<boolean>): void {
  refreshHandler = handler;
}

export interface ApiInit extends Omit<RequestInit, 'body'> {
  /** A JSON-serialisable body (sent as application/json) or a raw BodyInit. */
  body?: unknown;
  /** Milliseconds before the request is abandoned with code `timeout`. */
  timeoutMs?: number;
}

type Envelope<T> =
  | { success: true; data: T }
  | { success: false; error: { code: string; message: string } };

export async function apiFetch<T>(path: string, init: ApiInit = {}): Promise<T> {
  try {
    return await apiFetchOnce<T>(path, init);
  } catch (error) {
    const retry = error instanceof ApiError && error.status === 401 && error.code === 'unauthorized' && accessToken !== null && !path.startsWith('/v1/auth/') && refreshHandler;
    if (retry && (await refreshHandler!())) return apiFetchOnce<T>(path, init);
    throw error;
  }
}

async function apiFetchOnce<T>(path: string, init: ApiInit = {}): Promise<T> {
  if (!path.startsWith('/v1/')) throw new Error(`apiFetch expects a /v1/ path, got ${path}`);
  const { body, timeoutMs = DEFAULT_TIMEOUT_MS, headers: extraHeaders, signal: callerSignal, ...rest } = init;

  const headers = new Headers(extraHeaders);
  headers.set('Accept', 'application/json');
  if (accessToken) headers.set('Authorization', `Bearer ${accessToken}`);
  let requestBody: BodyInit | null = null;
  if (body !== undefined && body !== null) {
    if (isRawBody(body)) {
      requestBody = body;
    } else {
      headers.set('Content-Type', 'application/json');
      requestBody = JSON.stringify(body);
    }
  }

  const timeout = AbortSignal.timeout(timeoutMs);
  const signal = callerSignal ? AbortSignal.any([callerSignal, timeout]) : timeout;

  let response: Response;
  try {
    response = await fetch(path, { ...rest, headers, body: requestBody, signal, credentials: 'same-origin' });
  } catch (error) {
    if (timeout.aborted) throw new ApiError(0, CLIENT_ERROR.timeout, `The server did not answer within ${timeoutMs / 1000} s.`);
    if (callerSignal?.aborted) throw new ApiError(0, CLIENT_ERROR.aborted, 'The request was cancelled.');
    if (!navigator.onLine) throw new ApiError(0, CLIENT_ERROR.offline, 'You are offline.');
    throw new ApiError(0, CLIENT_ERROR.network, `The server could not be reached (${describe(error)}).`);
  }

  let envelope: Envelope<T>;
  try {
    envelope = (await response.json()) as Envelope<T>;
  } catch {
    throw new ApiError(
      response.status,
      CLIENT_ERROR.invalidResponse,
      `Unexpected response from ${path} (HTTP ${response.status}, not a JSON envelope).`,
    );
  }
  if (typeof envelope !== 'object' || envelope === null || typeof envelope.success !== 'boolean') {
    throw new ApiError(response.status, CLIENT_ERROR.invalidResponse, `Unexpected response from ${path} (no envelope).`);
  }
  if (!envelope.success) {
    const { code = 'unknown_error', message = `HTTP ${response.status}` } = envelope.error ?? {};
    throw new ApiError(response.status, code, message);
  }
  return envelope.data;
}

/** Fetches a non-JSON answer (a CSV export) with the same token and refresh as `apiFetch`; an error
 * answer is still an envelope and is thrown as `ApiError`. */
export async function apiDownload(path: string): Promise<Blob> {
  return (await downloadPage(path)).blob;
}

/** Like `apiDownload` for a paged export: follows `X-Next-Cursor` and joins the pages into one file. */
export async function apiDownloadAll(path: string): Promise<Blob> {
  const pages: Blob[] = [];
  let cursor: string | null = null;
  do {
    const page = await downloadPage(cursor ? `${path}${path.includes('?') ? '&' : '?'}cursor=${encodeURIComponent(cursor)}` : path);
    pages.push(page.blob);
    cursor = page.next;
  } while (cursor);
  return new Blob(pages, { type: pages[0]?.type || 'application/octet-stream' });
}

async function downloadPage(path: string): Promise<{ blob: Blob; next: string | null }> {
  const once = async () => {
    const headers = new Headers();
    if (accessToken) headers.set('Authorization', `Bearer ${accessToken}`);
    let response: Response;
    try {
      response = await fetch(path, { headers, credentials: 'same-origin', signal: AbortSignal.timeout(120_000) });
    } catch (error) {
      throw new ApiError(0, CLIENT_ERROR.network, `The server could not be reached (${describe(error)}).`);
    }
    if (response.ok) return { blob: await response.blob(), next: response.headers.get('X-Next-Cursor') };
    const envelope = (await response.json().catch(() => null)) as Envelope<unknown> | null;
    const e = envelope && !envelope.success ? envelope.error : { code: 'unknown_error', message: `HTTP ${response.status}` };
    throw new ApiError(response.status, e.code, e.message);
  };
  try {
    return await once();
  } catch (error) {
    if (error instanceof ApiError && error.status === 401 && refreshHandler && (await refreshHandler())) return once();
    throw error;
  }
}

function isRawBody(body: unknown): body is BodyInit {
  return (
    typeof body === 'string' ||
    body instanceof FormData ||
    body instanceof Blob ||
    body instanceof URLSearchParams ||
    body instanceof ArrayBuffer ||
    ArrayBuffer.isView(body) ||
    body instanceof ReadableStream
  );
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

// ---------------------------------------------------------------------------------------------------------
// Endpoints

export interface Health {
  status: string;
  backend: 'embedded' | 'aws';
  version: string;
  /** Server time, RFC 3339. */
  time?: string;
  /** Seconds since the queue pipeline last processed a heartbeat; null before the first one. */
  heartbeat_age_seconds?: number | null;
  /** Where the live feed's WebSocket is (`wss://…` or a path on this origin); absent: Server-Sent Events. */
  live_websocket_url?: string | null;
}

export function getHealth(signal?: AbortSignal): Promise<Health> {
  return apiFetch<Health>('/v1/health', signal ? { signal } : {});
}

/** A non-JSON download (CSV) with the same auth as `apiFetch`; a failure still arrives as an envelope. */
export async function apiFetchText(path: string): Promise<string> {
  if (!path.startsWith('/v1/')) throw new Error(`apiFetchText expects a /v1/ path, got ${path}`);
  const send = () => fetch(path, { headers: accessToken ? { Authorization: `Bearer ${accessToken}` } : {}, credentials: 'same-origin', signal: AbortSignal.timeout(DEFAULT_TIMEOUT_MS) });
  let response = await send();
  if (response.status === 401 && refreshHandler && (await refreshHandler())) response = await send();
  if (response.ok) return response.text();
  const envelope = (await response.json().catch(() => null)) as { error?: { code?: string; message?: string } } | null;
  throw new ApiError(response.status, envelope?.error?.code ?? 'unknown_error', envelope?.error?.message ?? `HTTP ${response.status}`);
}

/** An inbox attachment (`…/attachments`): type and kind are known once its first bytes arrived. */
export interface Attachment {
  id: string;
  filename: string;
  size: number;
  parts: number;
  part_bytes: number;
  mime: string | null;
  kind: 'image' | 'document' | null;
  status: 'uploading' | 'ready';
}

/** The server's cap (4 MiB); checked here first so a big file fails before any upload. */
export const ATTACHMENT_MAX_BYTES = 4 * 1024 * 1024;

/** Uploads `file` part by part under the workspace path `wsBase` (`/v1/workspaces/{ws}`), reporting
 * the fraction done after each part, and completes it. */
export async function uploadAttachment(wsBase: string, file: Blob & { name: string }, onProgress: (fraction: number) => void, signal: AbortSignal | null = null): Promise<Attachment> {
  const base = `${wsBase}/attachments`;
  const started = await apiFetch<Attachment>(base, { method: 'POST', body: { filename: file.name, size: file.size }, signal });
  for (let n = 0; n < started.parts; n++) {
    const chunk = file.slice(n * started.part_bytes, (n + 1) * started.part_bytes);
    await apiFetch<Attachment>(`${base}/${started.id}/parts/${n}`, { method: 'PUT', body: chunk, headers: { 'Content-Type': 'application/octet-stream' }, signal, timeoutMs: 60_000 });
    onProgress((n + 1) / started.parts);
  }
  return apiFetch<Attachment>(`${base}/${started.id}/complete`, { method: 'POST', signal });
}
