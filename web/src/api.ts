/** The page's only way to the box: the documented JSON API, with the session's CSRF token. */
let csrf = '';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly issues: { path: string; message: string }[] = [],
  ) {
    super(message);
  }
}

export function setCsrf(token: string): void {
  csrf = token;
}

/** For the few requests that are not JSON in and out (the backup download). */
export const csrfToken = (): string => csrf;

export async function api<T>(
  method: string,
  url: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<T> {
  const res = await fetch(url, {
    method,
    credentials: 'same-origin',
    headers: {
      accept: 'application/json',
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...(method === 'GET' ? {} : { 'x-csrf-token': csrf }),
      ...headers,
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  if (res.status === 204) return undefined as T;
  const data = (await res.json().catch(() => ({}))) as {
    message?: string;
    issues?: { path: string; message: string }[];
  };
  if (!res.ok) throw new ApiError(res.status, data.message ?? `HTTP ${res.status}`, data.issues ?? []);
  return data as T;
}
