import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { MongoClient } from 'mongodb';
import { expect, inject } from 'vitest';
import { createApp, type CofferApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { graphqlAt, testEnv, type TestServer } from '../support/server.js';

export type MetricsTestServer = TestServer & { app: CofferApp };

/** Like startServer (test/support/server.ts), with scrape-time gauges never cached (each scrape reads the database). */
export async function startMetricsServer(overrides: Record<string, string> = {}): Promise<MetricsTestServer> {
  const dbName = `m_${randomUUID().slice(0, 8)}`;
  const config = loadConfig(testEnv(overrides), { warn: () => {} });
  const logs: string[] = [];
  const logger = createLogger(config.logLevel, new Writable({ write(chunk: Buffer, _enc, done) { logs.push(chunk.toString('utf8')); done(); } }));
  const client = new MongoClient(inject('mongoUri'));
  await client.connect();
  const db = client.db(dbName);
  const app = await createApp({ config, db, logger, metricsStateCacheMs: 0 });
  const { port } = await app.listen(0, '127.0.0.1');
  const url = `http://127.0.0.1:${port}`;
  return {
    url, app, config, db, logs, writes: [], commands: [],
    gql: graphqlAt(url),
    async close() {
      await app.close();
      await db.dropDatabase().catch(() => {});
      await client.close();
    },
  };
}

/** One sample of the text exposition format. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses the Prometheus text format (the subset prom-client writes). */
export function parseExposition(text: string): { samples: Sample[]; help: Map<string, string>; types: Map<string, string> } {
  const samples: Sample[] = [];
  const help = new Map<string, string>();
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const meta = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line);
    if (meta) {
      (meta[1] === 'HELP' ? help : types).set(meta[2]!, meta[3]!);
      continue;
    }
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    expect(match, `unparsable line: ${line}`).not.toBeNull();
    const labels: Record<string, string> = {};
    for (const pair of (match![2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[pair[1]!] = pair[2]!;
    samples.push({ name: match![1]!, labels, value: Number(match![3]) });
  }
  return { samples, help, types };
}

/** The value of one series (0 when absent). */
export function valueOf(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  const found = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  return found.reduce((sum, s) => sum + s.value, 0);
}

export async function scrape(url: string, headers: Record<string, string> = {}): Promise<{ status: number; text: string; contentType: string | null }> {
  const response = await fetch(url, { headers });
  return { status: response.status, text: await response.text(), contentType: response.headers.get('content-type') };
}
