import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALLOWED_LABEL_VALUES, ROOT_FIELD_FALLBACKS } from '../../src/observability/metrics.js';
import { buildServedSchema } from '../../src/graphql/schema.js';
import { addMember, expectCode, expectOk, login, signUp, uniqueEmail, type Signed } from '../support/auth.js';
import { parseExposition, scrape, startMetricsServer, valueOf, type MetricsTestServer, type Sample } from './support.js';

const SECRET_NAME = 'payments/stripe-live-key';
const SECRET_VALUE = 'sk_live_Zq8v1-metrics-must-never-show-this';
const SUBJECT_EMAIL = 'ada.lovelace.metrics@example.org';
const PURPOSE_KEY = 'newsletter-metrics-probe';

let server: MetricsTestServer;
let owner: Signed;
let member: Signed;
let lockedEmail: string;
let refreshTokens: string[] = [];
let rootFields: Set<string>;

const metrics = async () => {
  const res = await scrape(`${server.url}/metrics`);
  expect(res.status).toBe(200);
  return { ...parseExposition(res.text), text: res.text };
};

beforeAll(async () => {
  server = await startMetricsServer({ LOGIN_MAX_FAILURES: '3', LOGIN_BACKOFF_MAX_SECONDS: '0', KEY_RETIRE_GRACE_SECONDS: '0' });
  const schema = await buildServedSchema();
  rootFields = new Set([...Object.keys(schema.getQueryType()!.getFields()), ...Object.keys(schema.getMutationType()!.getFields())]);

  owner = await signUp(server, 'Metrics Probe Tenant');
  member = await addMember(server, owner, 'USER');
  // A secret, revealed twice.
  expectOk(await server.gql('mutation($i: CreateSecretInput!) { createSecret(input: $i) { id } }', { i: { name: SECRET_NAME, value: SECRET_VALUE } }, owner.accessToken));
  for (let i = 0; i < 2; i++) {
    const read = expectOk(await server.gql<{ secret: { value: string } }>('query($n: String!) { secret(name: $n) { value } }', { n: SECRET_NAME }, owner.accessToken));
    expect(read.secret.value).toBe(SECRET_VALUE);
  }
  // Sign-in failures: one unknown email, then a member's password wrong until the lockout.
  expectCode(await login(server, uniqueEmail('nobody'), 'wrong-password-123'), 'UNAUTHENTICATED');
  lockedEmail = member.email;
  for (let i = 0; i < 3; i++) expectCode(await login(server, lockedEmail, 'not-the-password-42'), 'UNAUTHENTICATED');
  // A USER trying an ADMIN operation.
  expectCode(await server.gql('mutation { rotateTenantKey { activeDekVersion } }', {}, member.accessToken), 'FORBIDDEN');
  // A refresh token used twice.
  const REFRESH = 'mutation($t: String!) { refreshToken(refreshToken: $t) { refreshToken } }';
  const fresh = expectOk(await server.gql<{ refreshToken: { refreshToken: string } }>(REFRESH, { t: member.refreshToken }));
  refreshTokens = [member.refreshToken, fresh.refreshToken.refreshToken];
  expectCode(await server.gql(REFRESH, { t: member.refreshToken }), 'UNAUTHENTICATED');
  // The owner rotates the tenant key.
  expectOk(await server.gql('mutation { rotateTenantKey { activeDekVersion } }', {}, owner.accessToken));
}, 120_000);

afterAll(async () => {
  await server?.close();
});

describe('metrics: /metrics after exercising features', () => {
  it('counts sign-in failures, lockouts, refresh-token reuse, denials, reveals and key rotations from stored audit events', async () => {
    // Audit events reach the observer after their append resolves; the re-encryption finishes in the background.
    await expect.poll(async () => valueOf((await metrics()).samples, 'coffer_reencryptions_completed_total'), { timeout: 20_000 }).toBe(1);
    const { samples } = await metrics();
    expect(valueOf(samples, 'coffer_login_failures_total', { reason: 'unknown_email' })).toBe(1);
    expect(valueOf(samples, 'coffer_login_failures_total', { reason: 'wrong_password' })).toBe(3);
    expect(valueOf(samples, 'coffer_login_lockouts_total')).toBe(1);
    expect(valueOf(samples, 'coffer_refresh_token_reuse_total')).toBe(1);
    expect(valueOf(samples, 'coffer_access_denied_total', { actor_type: 'USER' })).toBe(1);
    // A locked sign-in and a reused refresh token are DENIED too, but not permission refusals.
    expect(valueOf(samples, 'coffer_access_denied_total')).toBe(1);
    expect(valueOf(samples, 'coffer_secret_reveals_total', { actor_type: 'USER' })).toBe(2);
    expect(valueOf(samples, 'coffer_key_rotations_total', { kind: 'tenant_key' })).toBe(1);
    expect(valueOf(samples, 'coffer_audit_events_total', { action: 'secret.created', outcome: 'SUCCESS' })).toBe(1);
    expect(valueOf(samples, 'coffer_audit_events_total', { action: 'permission.denied', outcome: 'DENIED' })).toBe(1);
    expect(valueOf(samples, 'coffer_graphql_errors_total', { code: 'FORBIDDEN' })).toBe(1);
    expect(valueOf(samples, 'coffer_graphql_errors_total', { code: 'UNAUTHENTICATED' })).toBeGreaterThanOrEqual(5);
  });

  it('times operations by root field and operation type, never by the client-chosen operation name', async () => {
    const named = 'query LeakyName_ada_lovelace_example_org { me { user { id } } }';
    expectOk(await server.gql(named, {}, owner.accessToken));
    expectCode(await server.gql('query AlsoLeaky { noSuchField }', {}, owner.accessToken), 'BAD_USER_INPUT');
    expectOk(await server.gql('query { me { role } __typename }', {}, owner.accessToken));
    expectOk(await server.gql('query Two { me { role } secrets { totalCount } }', {}, owner.accessToken));
    const { samples, text } = await metrics();
    expect(text).not.toContain('LeakyName');
    expect(text).not.toContain('AlsoLeaky');
    expect(valueOf(samples, 'coffer_graphql_operation_duration_seconds_count', { operation_type: 'query', root_field: 'me', outcome: 'success' })).toBeGreaterThanOrEqual(2);
    expect(valueOf(samples, 'coffer_graphql_operation_duration_seconds_count', { operation_type: 'unknown', root_field: '_invalid', outcome: 'invalid' })).toBeGreaterThanOrEqual(1);
    expect(valueOf(samples, 'coffer_graphql_operation_duration_seconds_count', { operation_type: 'query', root_field: '_multiple', outcome: 'success' })).toBe(1);
    expect(valueOf(samples, 'coffer_graphql_operation_duration_seconds_count', { operation_type: 'mutation', root_field: 'rotateTenantKey', outcome: 'error' })).toBe(1);
    expect(valueOf(samples, 'coffer_graphql_resolver_duration_seconds_count', { operation_type: 'query', root_field: 'secret', outcome: 'success' })).toBe(2);
    expect(valueOf(samples, 'coffer_http_requests_total', { route: 'graphql', status_class: '2xx' })).toBeGreaterThan(10);
    expect(valueOf(samples, 'coffer_http_request_duration_seconds_count', { route: 'metrics', status_class: '2xx' })).toBeGreaterThanOrEqual(1);
  });

  it('counts consent and opt-out events by channel, and gauges open, due-soon and overdue requests', async () => {
    const subject = expectOk(
      await server.gql<{ createDataSubject: { id: string } }>('mutation($i: CreateDataSubjectInput!) { createDataSubject(input: $i) { id } }', { i: { email: SUBJECT_EMAIL } }, owner.accessToken),
    ).createDataSubject;
    expectOk(
      await server.gql(
        'mutation($i: CreateConsentPurposeInput!) { createConsentPurpose(input: $i) { id } }',
        { i: { key: PURPOSE_KEY, name: 'Newsletter', description: 'Monthly news', legalBasis: 'CONSENT', noticeText: 'We send news monthly.' } },
        owner.accessToken,
      ),
    );
    expectOk(await server.gql('mutation($i: RecordConsentInput!) { recordConsent(input: $i) { id } }', { i: { subjectId: subject.id, purpose: PURPOSE_KEY, channel: 'EMAIL', granted: true, method: 'API' } }, owner.accessToken));
    expectOk(await server.gql('mutation($s: ID!) { optOut(subjectId: $s, channel: SMS, reason: COMPLAINT, source: SUPPORT) { id } }', { s: subject.id }, owner.accessToken));
    const CREATE = 'mutation($i: CreateDataSubjectRequestInput!) { createDataSubjectRequest(input: $i) { id } }';
    const daysAgo = (days: number) => new Date(Date.now() - days * 86_400_000).toISOString();
    expectOk(await server.gql(CREATE, { i: { subjectId: subject.id, type: 'ACCESS', receivedAt: '2024-01-31T10:00:00.000Z' } }, owner.accessToken)); // overdue
    expectOk(await server.gql(CREATE, { i: { subjectId: subject.id, type: 'RECTIFICATION', receivedAt: daysAgo(26) } }, owner.accessToken)); // due within 7 days
    expectOk(await server.gql(CREATE, { i: { subjectId: subject.id, type: 'OBJECTION', receivedAt: daysAgo(1) } }, owner.accessToken)); // due in a month
    const { samples } = await metrics();
    expect(valueOf(samples, 'coffer_consent_events_total', { event: 'granted', channel: 'EMAIL' })).toBe(1);
    expect(valueOf(samples, 'coffer_consent_events_total', { event: 'opted_out', channel: 'SMS' })).toBe(1);
    expect(valueOf(samples, 'coffer_dsr_open')).toBe(3);
    expect(valueOf(samples, 'coffer_dsr_overdue')).toBe(1);
    expect(valueOf(samples, 'coffer_dsr_due_soon')).toBe(1);
    expect(valueOf(samples, 'coffer_database_up')).toBe(1);
  });

  it('gauges secrets due for rotation or expired and running re-encryptions, read from the database when scraped', async () => {
    let { samples } = await metrics();
    expect(valueOf(samples, 'coffer_secrets_rotation_due')).toBe(0);
    expect(valueOf(samples, 'coffer_secrets_expired')).toBe(0);
    // Time passing, as the database sees it: the secret's rotation date and expiry go by.
    await server.db.collection('secrets').updateOne({ name: SECRET_NAME }, { $set: { rotationDueAt: new Date(Date.now() - 60_000), expiresAt: new Date(Date.now() - 1000) } });
    // A re-encryption in progress elsewhere (another instance's tenant): 10 values, 4 done.
    await server.db.collection('tenant_keys').insertOne({ _id: 'probe-tenant' as never, tenantId: 'probe-tenant', reencryption: { state: 'RUNNING', total: 10, done: 4 } });
    ({ samples } = await metrics());
    expect(valueOf(samples, 'coffer_secrets_rotation_due')).toBe(1);
    expect(valueOf(samples, 'coffer_secrets_expired')).toBe(1);
    expect(valueOf(samples, 'coffer_reencryption_tenants_pending')).toBe(1);
    expect(valueOf(samples, 'coffer_reencryption_values_pending')).toBe(6);
    await server.db.collection('tenant_keys').deleteOne({ _id: 'probe-tenant' as never });
  });

  it('counts an audit chain verification that finds a tampered event', async () => {
    const VERIFY = 'query { verifyAuditLog { valid } }';
    expect(expectOk(await server.gql<{ verifyAuditLog: { valid: boolean } }>(VERIFY, {}, owner.accessToken)).verifyAuditLog.valid).toBe(true);
    expect(valueOf((await metrics()).samples, 'coffer_audit_chain_verification_failures_total')).toBe(0);
    await server.db.collection('audit_events').updateOne({ tenantId: owner.tenantId, action: 'secret.created' }, { $set: { 'details.version': 7 } });
    expect(expectOk(await server.gql<{ verifyAuditLog: { valid: boolean } }>(VERIFY, {}, owner.accessToken)).verifyAuditLog.valid).toBe(false);
    const { samples } = await metrics();
    expect(valueOf(samples, 'coffer_audit_chain_verification_failures_total', { chain: 'tenant' })).toBe(1);
    expect(valueOf(samples, 'coffer_audit_chain_verification_failures_total', { chain: 'platform' })).toBe(0);
  });

  it('follows the MongoDB driver pool: connections in use and available, checkout waits', async () => {
    const { samples } = await metrics();
    const inUse = valueOf(samples, 'coffer_mongodb_pool_connections', { state: 'in_use' });
    const available = valueOf(samples, 'coffer_mongodb_pool_connections', { state: 'available' });
    expect(inUse).toBeGreaterThanOrEqual(0);
    expect(inUse + available).toBeGreaterThan(0);
    expect(valueOf(samples, 'coffer_mongodb_pool_checkout_wait_seconds_count')).toBeGreaterThan(10);
  });

  it('exports the webhook delivery counter the webhook sender reports to', async () => {
    server.app.metrics.recordWebhookDelivery('delivered');
    server.app.metrics.recordWebhookDelivery('gave_up');
    server.app.metrics.recordWebhookDelivery('gave_up');
    const { samples } = await metrics();
    expect(valueOf(samples, 'coffer_webhook_deliveries_total', { outcome: 'delivered' })).toBe(1);
    expect(valueOf(samples, 'coffer_webhook_deliveries_total', { outcome: 'failed' })).toBe(0);
    expect(valueOf(samples, 'coffer_webhook_deliveries_total', { outcome: 'gave_up' })).toBe(2);
  });

  it('names every metric coffer_*, with HELP text, and includes the default process metrics', async () => {
    const { samples, help, types } = await metrics();
    for (const name of types.keys()) {
      expect(name).toMatch(/^coffer_/);
      expect(help.get(name)?.length ?? 0, name).toBeGreaterThan(10);
    }
    for (const sample of samples) expect(sample.name).toMatch(/^coffer_/);
    expect(types.get('coffer_process_cpu_seconds_total')).toBe('counter');
    expect(types.get('coffer_process_resident_memory_bytes')).toBe('gauge');
    expect(types.get('coffer_nodejs_eventloop_lag_seconds')).toBe('gauge');
  });

  it('carries no label value outside the fixed sets, and no tenant id, email, secret name or value, token or purpose key anywhere', async () => {
    const { samples, text } = await metrics();
    const defaultMetric = (s: Sample) => /^coffer_(process|nodejs)_/.test(s.name);
    for (const sample of samples) {
      for (const [label, value] of Object.entries(sample.labels)) {
        if (label === 'le' || label === 'quantile') {
          expect(value, `${sample.name} ${label}`).toMatch(/^(\+Inf|\d+(\.\d+)?(e[-+]?\d+)?)$/);
        } else if (defaultMetric(sample)) {
          // prom-client's own process metrics: Node versions, heap space names, GC kinds, handle types.
          expect(['version', 'major', 'minor', 'patch', 'space', 'kind', 'type']).toContain(label);
          expect(value).toMatch(/^[A-Za-z0-9_.-]{1,40}$/);
        } else if (label === 'root_field') {
          expect(rootFields.has(value) || (ROOT_FIELD_FALLBACKS as readonly string[]).includes(value), `root_field ${value}`).toBe(true);
        } else {
          expect(Object.keys(ALLOWED_LABEL_VALUES), `label ${label} of ${sample.name}`).toContain(label);
          expect(ALLOWED_LABEL_VALUES[label], `${sample.name}{${label}="${value}"}`).toContain(value);
        }
      }
    }
    const forbidden = [
      owner.tenantId, owner.userId, member.userId, owner.email, member.email, lockedEmail, SUBJECT_EMAIL, 'Metrics Probe Tenant',
      SECRET_NAME, 'stripe-live', SECRET_VALUE, owner.accessToken, member.accessToken, ...refreshTokens, PURPOSE_KEY, '127.0.0.1', '@example',
    ];
    for (const value of forbidden) expect(text, `metrics contain ${value.slice(0, 24)}`).not.toContain(value);
  });
});
