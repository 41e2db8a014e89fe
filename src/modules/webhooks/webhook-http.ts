import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import { AppError } from '../../errors.js';
import { RESPONSE_SNIPPET_BYTES } from './webhook.document.js';
import { checkedAddresses, hostOf, parseWebhookUrl, RefusedDestination, safeLookup, systemResolver, type Resolver, type WebhookUrlPolicy } from './webhook-url.js';

/** How one POST went: an HTTP status (any), or an error code of ours; never the receiver's error text. */
export interface PostResult {
  httpStatus: number | null;
  /** null when a response came (whatever its status). */
  error: 'timeout' | 'refused_url' | 'refused_address' | 'dns_failed' | 'connection_failed' | 'internal_error' | null;
  /** The first bytes of the body, printable ASCII only. */
  snippet: string | null;
  durationMs: number;
}

export interface PostOptions {
  timeoutMs: number;
  policy: WebhookUrlPolicy;
  resolve?: Resolver;
}

/** Printable ASCII of the first bytes, the rest replaced by '?'. */
function printable(bytes: Buffer): string {
  return [...bytes.subarray(0, RESPONSE_SNIPPET_BYTES)].map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '?')).join('');
}

function codeOf(error: unknown): PostResult['error'] {
  if (error instanceof RefusedDestination) return error.code;
  const { name, code } = (error ?? {}) as { name?: unknown; code?: unknown };
  if (code === 'refused_address' || code === 'dns_failed') return code;
  if (name === 'TimeoutError' || name === 'AbortError' || code === 'ABORT_ERR') return 'timeout';
  return 'connection_failed';
}

/**
 * POSTs `body` to `rawUrl`: the URL rules checked again (the operator may have tightened them),
 * an IP literal checked here, a host name checked by the socket's own lookup (safeLookup: the
 * connection goes to the address that was checked). No redirect is followed (a 3xx is a failed
 * attempt), no agent keeps sockets, the whole exchange is bounded by `timeoutMs`, and at most
 * RESPONSE_SNIPPET_BYTES of the response are read.
 */
export async function postWebhook(rawUrl: string, body: string, headers: Record<string, string>, options: PostOptions): Promise<PostResult> {
  const started = process.hrtime.bigint();
  const elapsed = () => Number((process.hrtime.bigint() - started) / 1_000_000n);
  const resolve = options.resolve ?? systemResolver;
  let url: URL;
  try {
    url = parseWebhookUrl(rawUrl, options.policy);
    if (isIP(hostOf(url))) await checkedAddresses(hostOf(url), options.policy, resolve);
  } catch (error) {
    return { httpStatus: null, error: error instanceof AppError ? 'refused_url' : codeOf(error), snippet: null, durationMs: elapsed() };
  }
  const client = url.protocol === 'https:' ? https : http;
  return new Promise<PostResult>((done) => {
    let settled = false;
    const finish = (result: Omit<PostResult, 'durationMs'>) => {
      if (settled) return;
      settled = true;
      done({ ...result, durationMs: elapsed() });
    };
    const request = client.request(
      url,
      {
        method: 'POST',
        agent: false,
        lookup: safeLookup(options.policy, resolve) as unknown as http.RequestOptions['lookup'],
        signal: AbortSignal.timeout(options.timeoutMs),
        headers: { ...headers, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), 'user-agent': 'Coffer-Webhooks/1' },
      },
      (response) => {
        const chunks: Buffer[] = [];
        let size = 0;
        const end = () => {
          finish({ httpStatus: response.statusCode ?? null, error: null, snippet: size > 0 ? printable(Buffer.concat(chunks)) : null });
          response.destroy();
        };
        response.on('data', (chunk: Buffer) => {
          chunks.push(chunk);
          size += chunk.length;
          if (size >= RESPONSE_SNIPPET_BYTES) end();
        });
        response.on('end', end);
        response.on('error', end);
      },
    );
    request.on('error', (error) => finish({ httpStatus: null, error: codeOf(error), snippet: null }));
    request.end(body);
  });
}
