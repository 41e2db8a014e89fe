import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'vitest';
import type { WebhookOptions } from '../../src/modules/webhooks/webhook-wiring.js';
import { expectOk, type Signed } from '../support/auth.js';
import { startServer, type GraphQLResponse, type TestServer } from '../support/server.js';

/** Quick jobs for tests; loopback receivers allowed (the SSRF tests turn it off again). */
export const WEBHOOK_TEST_ENV: Record<string, string> = {
  WEBHOOK_ALLOW_HTTP: 'true',
  WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true',
  WEBHOOK_DELIVERY_INTERVAL_MS: '100',
  WEBHOOK_SCAN_INTERVAL_SECONDS: '1',
  WEBHOOK_TIMEOUT_MS: '2000',
  WEBHOOK_MAX_ATTEMPTS: '3',
  WEBHOOK_BACKOFF_BASE_MS: '100',
  WEBHOOK_BACKOFF_MAX_MS: '400',
};

export function startWebhookServer(overrides: Record<string, string> = {}, sharedDbName?: string, webhooks?: WebhookOptions): Promise<TestServer> {
  return startServer({ ...WEBHOOK_TEST_ENV, ...overrides }, sharedDbName, webhooks ? { webhooks } : {});
}

export interface Received {
  headers: http.IncomingHttpHeaders;
  body: string;
  at: number;
}

/** A webhook receiver on loopback: records every request, answers what `respond` says (default 204). */
export class Receiver {
  readonly received: Received[] = [];
  respond: (request: Received, index: number) => { status: number; body?: string; delayMs?: number } = () => ({ status: 204 });
  private server: http.Server | undefined;
  url = '';

  async start(): Promise<this> {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const entry = { headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), at: Date.now() };
        this.received.push(entry);
        const answer = this.respond(entry, this.received.length - 1);
        setTimeout(() => {
          res.statusCode = answer.status;
          res.end(answer.body ?? '');
        }, answer.delayMs ?? 0);
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hook`;
    return this;
  }

  close(): Promise<void> {
    return new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  /** Requests whose payload type is `type` (the dotted name). */
  ofType(type: string): Received[] {
    return this.received.filter((r) => (JSON.parse(r.body) as { type: string }).type === type);
  }
}

export async function waitFor<T>(what: string, probe: () => Promise<T | null | undefined | false> | T | null | undefined | false, timeoutMs = 15_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export const WEBHOOK_FIELDS = 'id url events description enabled createdAt secretCreatedAt previousSecretValidUntil';
export interface WebhookShape {
  id: string;
  url: string;
  events: string[];
  description: string;
  enabled: boolean;
  createdAt: string;
  secretCreatedAt: string;
  previousSecretValidUntil: string | null;
}

export function createWebhook(server: TestServer, who: Signed, input: { url: string; events: string[]; description?: string }): Promise<GraphQLResponse<{ createWebhook: { webhook: WebhookShape; signingSecret: string } }>> {
  return server.gql(`mutation($i: CreateWebhookInput!) { createWebhook(input: $i) { signingSecret webhook { ${WEBHOOK_FIELDS} } } }`, { i: input }, who.accessToken);
}

export async function mustCreateWebhook(server: TestServer, who: Signed, input: { url: string; events: string[]; description?: string }) {
  return expectOk(await createWebhook(server, who, input)).createWebhook;
}

export const DELIVERY_FIELDS = 'id eventId eventType status attempts lastHttpStatus lastError lastResponseSnippet lastDurationMs createdAt lastAttemptAt nextAttemptAt deliveredAt';
export interface DeliveryShape {
  id: string;
  eventId: string;
  eventType: string;
  status: string;
  attempts: number;
  lastHttpStatus: number | null;
  lastError: string | null;
  lastResponseSnippet: string | null;
  lastDurationMs: number | null;
  createdAt: string;
  lastAttemptAt: string | null;
  nextAttemptAt: string | null;
  deliveredAt: string | null;
}

export async function deliveriesOf(server: TestServer, who: Signed, webhookId: string): Promise<DeliveryShape[]> {
  const res = await server.gql<{ webhookDeliveries: { edges: { node: DeliveryShape }[] } }>(
    `query($id: ID!) { webhookDeliveries(webhookId: $id, first: 20) { edges { node { ${DELIVERY_FIELDS} } } } }`,
    { id: webhookId },
    who.accessToken,
  );
  return expectOk(res).webhookDeliveries.edges.map((e) => e.node);
}

/** A secret that expires in two days: the scan raises SECRET_EXPIRING for it. */
export async function expiringSecret(server: TestServer, who: Signed, name: string, value: string): Promise<string> {
  const res = await server.gql<{ createSecret: { id: string } }>('mutation($i: CreateSecretInput!) { createSecret(input: $i) { id } }', { i: { name, value, expiresAt: new Date(Date.now() + 2 * 86_400_000).toISOString() } }, who.accessToken);
  return expectOk(res).createSecret.id;
}

export function payloadOf(received: Received): { type: string; timestamp: string; data: Record<string, unknown> } {
  const parsed = JSON.parse(received.body) as { type: string; timestamp: string; data: Record<string, unknown> };
  expect(Object.keys(parsed).sort()).toEqual(['data', 'timestamp', 'type']);
  return parsed;
}
