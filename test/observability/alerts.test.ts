import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseExposition, scrape, startMetricsServer, type MetricsTestServer } from './support.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const dir = path.join(root, 'deploy/prometheus');

interface Rule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
const RULES = (parse(readFileSync(path.join(dir, 'alerts.yml'), 'utf8')) as { groups: { name: string; rules: Rule[] }[] }).groups.flatMap((g) => g.rules);
const UNIT_TESTS = parse(readFileSync(path.join(dir, 'alerts.test.yml'), 'utf8')) as {
  tests: { alert_rule_test: { alertname: string; exp_alerts: unknown[] }[] }[];
};

/** Series Prometheus makes itself for every scrape target, not exported by /metrics. */
const PROMETHEUS_SERIES = new Set(['up']);

const promtool = spawnSync('promtool', ['--version'], { encoding: 'utf8' }).status === 0;
const MISSING = 'SKIPPED: promtool is not installed (Debian: apt-get install prometheus; .ci/run installs it)';
if (!promtool) process.stderr.write(`test/observability/alerts.test.ts: ${MISSING}\n`);

function run(args: string[]) {
  const result = spawnSync('promtool', args, { cwd: dir, encoding: 'utf8' });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

describe('deploy/prometheus/prometheus.yml (the compose monitoring profile)', () => {
  it.skipIf(!promtool)(promtool ? 'passes promtool check config, loading alerts.yml beside it' : `passes promtool check config (${MISSING})`, () => {
    const { status, output } = run(['check', 'config', 'prometheus.yml']);
    expect(status, output).toBe(0);
    expect(output).toContain('SUCCESS: 1 rule files found');
    expect(output).toContain(`SUCCESS: ${RULES.length} rules found`);
  });

  it('scrapes Coffer under job="coffer", the job every alert expects', () => {
    const config = parse(readFileSync(path.join(dir, 'prometheus.yml'), 'utf8')) as { scrape_configs: { job_name: string }[]; rule_files: string[] };
    expect(config.scrape_configs.map((c) => c.job_name)).toEqual(['coffer']);
    expect(config.rule_files).toEqual(['alerts.yml']);
    for (const rule of RULES.filter((r) => r.expr.includes('job='))) expect(rule.expr, rule.alert).toContain('job="coffer"');
  });
});

describe('deploy/prometheus/alerts.yml', () => {
  it.skipIf(!promtool)(promtool ? 'passes promtool check rules' : `passes promtool check rules (${MISSING})`, () => {
    const { status, output } = run(['check', 'rules', 'alerts.yml']);
    expect(output).toContain(`SUCCESS: ${RULES.length} rules found`);
    expect(status, output).toBe(0);
  });

  it.skipIf(!promtool)(promtool ? 'passes its unit tests (promtool test rules alerts.test.yml)' : `passes its unit tests (${MISSING})`, () => {
    const { status, output } = run(['test', 'rules', 'alerts.test.yml']);
    expect(status, output).toBe(0);
    expect(output).toContain('SUCCESS');
  });

  it('has the alerts the security checklist asks for, each with a severity, summary and description', () => {
    expect(RULES.map((r) => r.alert).sort()).toEqual(
      [
        'CofferAuditChainVerificationFailed',
        'CofferDatabaseUnavailable',
        'CofferDsrDueSoon',
        'CofferDsrOverdue',
        'CofferForbiddenSpike',
        'CofferHigh5xxRate',
        'CofferHighFailedLoginRate',
        'CofferInstanceDown',
        'CofferRateLimitStorm',
        'CofferReencryptionStalled',
        'CofferRefreshTokenReuse',
        'CofferSecretsExpired',
        'CofferSecretsRotationDue',
      ].sort(),
    );
    for (const rule of RULES) {
      expect(['critical', 'warning'], rule.alert).toContain(rule.labels?.severity);
      expect(rule.annotations?.summary, rule.alert).toBeTruthy();
      expect(rule.annotations?.description, rule.alert).toBeTruthy();
    }
  });

  it('unit-tests every alert both firing and silent', () => {
    const cases = UNIT_TESTS.tests.flatMap((t) => t.alert_rule_test);
    for (const rule of RULES) {
      expect(cases.some((c) => c.alertname === rule.alert && c.exp_alerts.length > 0), `${rule.alert} fires in a test`).toBe(true);
      expect(cases.some((c) => c.alertname === rule.alert && c.exp_alerts.length === 0), `${rule.alert} stays silent in a test`).toBe(true);
    }
  });

  it('gives each alert a runbook line in README "Monitoring"', () => {
    const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
    const start = readme.indexOf('\n## Monitoring');
    expect(start).toBeGreaterThan(0);
    const section = readme.slice(start, readme.indexOf('\n## ', start + 5));
    for (const rule of RULES) expect(section, rule.alert).toContain(`\`${rule.alert}\``);
  });

  describe('against a running server', () => {
    let server: MetricsTestServer;
    beforeAll(async () => {
      server = await startMetricsServer();
    });
    afterAll(async () => {
      await server?.close();
    });

    it('uses only metric names /metrics actually exports (and up, which Prometheus adds)', async () => {
      const { samples, types } = parseExposition((await scrape(`${server.url}/metrics`)).text);
      const exported = new Set([...types.keys(), ...samples.map((s) => s.name)]);
      const used = new Set(RULES.flatMap((r) => [...r.expr.matchAll(/\b([a-z_][a-z0-9_]*)\s*(?:\{|\[|\)|\s|==|>|$)/g)].map((m) => m[1]!)));
      const functionsAndKeywords = new Set(['sum', 'by', 'rate', 'increase', 'max', 'delta', 'and', 'instance', 'job']);
      const metricNames = [...used].filter((name) => !functionsAndKeywords.has(name));
      expect(metricNames.length).toBeGreaterThan(10);
      for (const name of metricNames) {
        expect(exported.has(name) || PROMETHEUS_SERIES.has(name), `${name} is not exported by /metrics`).toBe(true);
      }
    });
  });
});
