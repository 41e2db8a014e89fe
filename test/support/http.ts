import { expect } from 'vitest';
import type { GraphQLResponse } from './server.js';

/** base64url of a JSON value or of raw bytes, as JWT segments are encoded. */
export function b64url(value: unknown): string {
  const bytes = value instanceof Uint8Array ? Buffer.from(value) : Buffer.from(JSON.stringify(value), 'utf8');
  return bytes.toString('base64url');
}

/** Decodes one base64url JWT segment as JSON. */
export function decodeSegment<T = Record<string, unknown>>(segment: string): T {
  return JSON.parse(Buffer.from(segment, 'base64url').toString('utf8')) as T;
}

export const ME_QUERY = '{ me { user { id } } }';

/**
 * A refused token: UNAUTHENTICATED as the first error and no data at all
 * (`me` is non-null, so a refusal nulls the whole response).
 */
export function expectRefused(res: GraphQLResponse): void {
  expect(res.errors?.[0]?.extensions.code, JSON.stringify(res.errors ?? res.data)).toBe('UNAUTHENTICATED');
  expect(res.data ?? null).toBeNull();
}

export interface RawResponse {
  status: number;
  headers: Headers;
  text: string;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  json: any;
}

/** fetch() that reads the whole body once and keeps both the text and (if any) the JSON. */
export async function request(url: string, init: RequestInit = {}): Promise<RawResponse> {
  const response = await fetch(url, { redirect: 'manual', ...init });
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, text, json };
}

/** A JSON POST of a GraphQL operation to `<base>/graphql`. */
export function postGraphql(
  base: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<RawResponse> {
  return request(`${base}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}
