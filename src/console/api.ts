/**
 * The console's one way to the service: fetch with the key of this browser session, JSON in and out.
 * A refused call throws an ApiError carrying the service's coded error (code, message, field), which
 * the pages show next to the input it names.
 *
 * The pages declare the JSON they read (a health report, a KV report) themselves: the console is a
 * browser program and imports nothing from the service's sources; the OpenAPI schemas are the contract.
 */
const KEY = 'strata.key';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

/** The key this tab signed in with (sessionStorage: gone when the tab closes, never sent anywhere but this service). */
export const session = {
  key: (): string | null => sessionStorage.getItem(KEY),
  signIn: (key: string): void => sessionStorage.setItem(KEY, key),
  signOut: (): void => sessionStorage.removeItem(KEY),
};

/** Call a route; `body` is sent as JSON. Resolves to the parsed answer (text for non-JSON answers). */
export async function api<T = unknown>(path: string, init: { method?: string; body?: unknown } = {}): Promise<T> {
  const headers: Record<string, string> = {};
  const key = session.key();
  if (key) headers.authorization = `Bearer ${key}`;
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, { method: init.method ?? (init.body === undefined ? 'GET' : 'POST'), headers, body: init.body === undefined ? undefined : JSON.stringify(init.body) });
  const type = res.headers.get('content-type') ?? '';
  const answer = type.includes('json') ? await res.json() : await res.text();
  if (!res.ok) {
    const e = (answer as { error?: { code: string; message: string; field?: string } }).error;
    throw new ApiError(res.status, e?.code ?? `HTTP_${res.status}`, e?.message ?? String(answer), e?.field);
  }
  return answer as T;
}

/** Who the signed-in key is (GET /v1/whoami). */
export interface WhoAmI {
  role: 'admin' | 'tenant';
  keyId: string;
  tenant?: string;
  collection?: string;
  corpus?: string;
}
