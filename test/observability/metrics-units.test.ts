import { Kind, parse, type FragmentDefinitionNode, type OperationDefinitionNode } from 'graphql';
import { describe, expect, it } from 'vitest';
import { buildServedSchema } from '../../src/graphql/schema.js';
import { rootFieldLabel } from '../../src/graphql/metrics-plugin.js';
import { routeOf } from '../../src/observability/http-metrics.js';
import { CofferMetrics, statusClass, type StateSnapshot } from '../../src/observability/metrics.js';
import { cachedSnapshot } from '../../src/observability/state-counts.repository.js';
import { parseExposition, valueOf } from './support.js';

const SNAPSHOT: StateSnapshot = { dsrOpen: 4, dsrDueSoon: 1, dsrOverdue: 2, secretsRotationDue: 3, secretsExpired: 0, reencryptionTenants: 1, reencryptionValues: 9 };

describe('scrape-time gauges', () => {
  it('read the database once per scrape, and report coffer_database_up 0 (keeping the last values) when the read fails', async () => {
    const metrics = new CofferMetrics();
    let reads = 0;
    let fail = false;
    metrics.stateGauges(async () => {
      reads++;
      if (fail) throw new Error('connection refused');
      return SNAPSHOT;
    });
    let { samples } = parseExposition((await metrics.exposition()).body);
    expect(reads).toBe(1);
    expect(valueOf(samples, 'coffer_database_up')).toBe(1);
    expect(valueOf(samples, 'coffer_dsr_overdue')).toBe(2);
    expect(valueOf(samples, 'coffer_reencryption_values_pending')).toBe(9);
    fail = true;
    await new Promise((resolve) => setImmediate(resolve));
    ({ samples } = parseExposition((await metrics.exposition()).body));
    expect(reads).toBe(2);
    expect(valueOf(samples, 'coffer_database_up')).toBe(0);
    expect(valueOf(samples, 'coffer_dsr_overdue')).toBe(2);
  });

  it('are cached for the given time, and a failed read is not cached', async () => {
    let reads = 0;
    let fail = true;
    const read = cachedSnapshot(async () => {
      reads++;
      if (fail) throw new Error('down');
      return SNAPSHOT;
    }, 60_000);
    await expect(read()).rejects.toThrow('down');
    await new Promise((resolve) => setImmediate(resolve));
    fail = false;
    await expect(read()).resolves.toEqual(SNAPSHOT);
    await expect(read()).resolves.toEqual(SNAPSHOT);
    expect(reads).toBe(2);
  });
});

describe('bounded labels', () => {
  it('labels an operation by its root field from the schema, never by anything else the client wrote', async () => {
    const schema = await buildServedSchema();
    const label = (source: string) => {
      const document = parse(source);
      const operation = document.definitions.find((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION)!;
      return rootFieldLabel(schema, operation, document.definitions.filter((d): d is FragmentDefinitionNode => d.kind === Kind.FRAGMENT_DEFINITION));
    };
    expect(label('query Anything_At_All { me { role } }')).toBe('me');
    expect(label('query { a: me { role } }')).toBe('me');
    expect(label('mutation { rotateTenantKey { activeDekVersion } }')).toBe('rotateTenantKey');
    expect(label('query { ... on Query { me { role } } }')).toBe('me');
    expect(label('query { ...F } fragment F on Query { secrets { totalCount } }')).toBe('secrets');
    expect(label('query { me { role } secrets { totalCount } }')).toBe('_multiple');
    expect(label('query { __schema { types { name } } }')).toBe('_introspection');
    expect(label('query { __typename me { role } }')).toBe('me');
    expect(label('query { notAField }')).toBe('_invalid');
    expect(label('mutation { me { role } }')).toBe('_invalid');
    expect(label('subscription { me { role } }')).toBe('_invalid');
  });

  it('groups paths into a fixed set of routes, and statuses into classes', () => {
    expect(routeOf('/graphql')).toBe('graphql');
    expect(routeOf('/GraphQL')).toBe('graphql');
    expect(routeOf('/readyz')).toBe('health');
    expect(routeOf('/unsubscribe/eyJhbGciOi.secret-token')).toBe('consent_page');
    expect(routeOf('/confirm/abc')).toBe('consent_page');
    expect(routeOf('/users/ada@example.com')).toBe('other');
    expect(routeOf('/metrics')).toBe('metrics');
    expect([statusClass(101), statusClass(204), statusClass(304), statusClass(429), statusClass(503), statusClass(999)]).toEqual(['1xx', '2xx', '3xx', '4xx', '5xx', '5xx']);
  });

  it('maps an unknown error code, audit action or checkout reason to a fixed fallback', async () => {
    const metrics = new CofferMetrics();
    metrics.graphqlError('ada@example.com');
    metrics.auditEvent('made.up', 'SUCCESS');
    metrics.poolCheckoutFailed('some driver text', 0.1);
    const { samples } = parseExposition((await metrics.exposition()).body);
    expect(valueOf(samples, 'coffer_graphql_errors_total', { code: 'OTHER' })).toBe(1);
    expect(valueOf(samples, 'coffer_audit_events_total', { action: 'other' })).toBe(1);
    expect(valueOf(samples, 'coffer_mongodb_pool_checkout_failures_total', { reason: 'other' })).toBe(1);
  });
});
