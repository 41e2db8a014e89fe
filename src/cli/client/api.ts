/**
 * The application commands' GraphQL client: authenticated by COFFER_API_KEY (with COFFER_URL),
 * else by the session `coffer login` stored (refreshed when its access token has expired).
 * Errors carry the server's `extensions.code`; the server never puts a value in a message, and
 * nothing here adds request variables (which may hold values) to one.
 */
import { UsageError } from '../cli-kit.js';
import { readSession, sessionPath, withSessionLock, writeSession, type StoredSession } from './session-store.js';

export class ApiError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

interface GraphQLBody<T> {
  data?: T | null;
  errors?: { message: string; extensions?: { code?: string } }[];
}

export const AUTH_PAYLOAD = 'accessToken accessTokenExpiresAt refreshToken tenant { id name } user { email }';

export interface AuthPayload {
  accessToken: string;
  accessTokenExpiresAt: string;
  refreshToken: string;
  tenant: { id: string; name: string } | null;
  user: { email: string };
}

/** Refresh this long before the access token's expiry, for clock differences and the request's own time. */
const EXPIRY_MARGIN_MS = 30_000;

/** Normalises a server URL ("https://vault.example.com/" → without the slash); refuses anything but http(s). */
export function serverUrl(text: string, from: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(`${from} is not a URL: expected e.g. https://coffer.example.com`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new UsageError(`${from} must be an http(s) URL`);
  return url.href.replace(/\/+$/, '');
}

/** One POST to <url>/graphql; GraphQL errors become ApiErrors with their code. */
export async function post<T>(url: string, query: string, variables: Record<string, unknown>, token: string | null): Promise<T> {
  let response: Response;
  try {
    response = await fetch(`${url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': 'coffer-cli', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify({ query, variables }),
      // A redirect would send the same body (a password, a refresh token, a value) to wherever it points.
      redirect: 'manual',
    });
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    throw new ApiError(`cannot reach ${url}: ${cause?.code ?? cause?.message ?? (error as Error).message}`, 'NETWORK_ERROR');
  }
  if (response.status >= 300 && response.status < 400) {
    throw new ApiError(`${url}/graphql answered HTTP ${response.status} (a redirect, not followed): give the server's final URL, e.g. its https address, with --url or COFFER_URL`, 'BAD_RESPONSE');
  }
  let body: GraphQLBody<T>;
  try {
    body = (await response.json()) as GraphQLBody<T>;
  } catch {
    throw new ApiError(`${url}/graphql answered HTTP ${response.status} without a GraphQL response: is this a Coffer server?`, 'BAD_RESPONSE');
  }
  const first = body.errors?.[0];
  if (first) throw new ApiError(first.message, first.extensions?.code ?? 'INTERNAL_SERVER_ERROR');
  if (!body.data) throw new ApiError(`${url}/graphql answered HTTP ${response.status} without data`, 'BAD_RESPONSE');
  return body.data;
}

export interface Client {
  url: string;
  /** "API key" or "session of <email>", for messages. */
  identity: string;
  request<T>(query: string, variables?: Record<string, unknown>): Promise<T>;
}

/** COFFER_API_KEY (+ COFFER_URL) when set, else the stored session. */
export function clientFromEnvironment(env: NodeJS.ProcessEnv = process.env): Client {
  if (env.COFFER_API_KEY) {
    if (!env.COFFER_URL) throw new UsageError('COFFER_API_KEY is set but COFFER_URL is not: set it to the server, e.g. https://coffer.example.com');
    const url = serverUrl(env.COFFER_URL, 'COFFER_URL');
    const key = env.COFFER_API_KEY;
    return { url, identity: 'API key', request: (query, variables = {}) => post(url, query, variables, key) };
  }
  const file = sessionPath(env);
  const session = readSession(file);
  if (!session) throw new UsageError(`not logged in: run coffer login (or set COFFER_API_KEY and COFFER_URL)`);
  return new SessionClient(session, file);
}

class SessionClient implements Client {
  readonly url: string;
  readonly identity: string;

  constructor(
    private session: StoredSession,
    private readonly file: string,
  ) {
    this.url = session.url;
    this.identity = `session of ${session.email}`;
  }

  async request<T>(query: string, variables: Record<string, unknown> = {}): Promise<T> {
    if (Date.parse(this.session.accessTokenExpiresAt) - EXPIRY_MARGIN_MS <= Date.now()) await this.refresh(this.session.accessToken);
    try {
      return await post<T>(this.url, query, variables, this.session.accessToken);
    } catch (error) {
      // Revoked or expired early (a clock off): refresh once and try again.
      if (!(error instanceof ApiError) || error.code !== 'UNAUTHENTICATED') throw error;
      await this.refresh(this.session.accessToken);
      return post<T>(this.url, query, variables, this.session.accessToken);
    }
  }

  /** Trades the refresh token for new tokens (under the lock; another process may have done it already). */
  private async refresh(stale: string): Promise<void> {
    this.session = await withSessionLock(async () => {
      const current = readSession(this.file);
      if (current && current.accessToken !== stale && Date.parse(current.accessTokenExpiresAt) - EXPIRY_MARGIN_MS > Date.now()) return current;
      const base = current ?? this.session;
      let payload: AuthPayload;
      try {
        ({ refreshToken: payload } = await post<{ refreshToken: AuthPayload }>(
          base.url,
          `mutation($refreshToken: String!) { refreshToken(refreshToken: $refreshToken) { ${AUTH_PAYLOAD} } }`,
          { refreshToken: base.refreshToken },
          null,
        ));
      } catch (error) {
        if (error instanceof ApiError && error.code === 'UNAUTHENTICATED') throw new ApiError(`the session of ${base.email} has ended: run coffer login again`, 'UNAUTHENTICATED');
        throw error;
      }
      const next = { ...base, ...sessionFields(payload) };
      writeSession(next, this.file);
      return next;
    }, this.file);
  }
}

export const sessionFields = (p: AuthPayload) => ({
  accessToken: p.accessToken,
  accessTokenExpiresAt: p.accessTokenExpiresAt,
  refreshToken: p.refreshToken,
  tenantId: p.tenant?.id ?? null,
});
