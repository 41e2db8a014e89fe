import { readFileSync } from 'node:fs';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { auditEvent, userActor, type AuditCaller } from '../../src/modules/audit/audit-builder.js';
import { AUDIT_CATALOGUE, type AuditAction, type DetailsOf } from '../../src/modules/audit/audit-catalogue.js';
import { catalogueTable } from '../../src/modules/audit/audit-catalogue-table.js';
import type { AuditEventInput, AuditSink } from '../../src/modules/audit/audit-event.js';
import { AuditEventError } from '../../src/modules/audit/audit-input.js';
import { ROLES } from '../../src/identity/roles.js';

const caller: AuditCaller = { tenantId: 't1', actor: userActor('u1'), request: { ip: '203.0.113.7', userAgent: 'vitest', requestId: 'r1' } };
const sink: AuditSink = { append: async () => {} };

/** Lines with @ts-expect-error fail `npm run typecheck` if they ever compile; they never run. */
function refusedAtCompileTime(freeForm: Record<string, unknown>): void {
  // @ts-expect-error an action that is not in the catalogue
  auditEvent('secret.exported', { caller, resource: { id: 's1' }, details: { name: 'prod/db' } });
  // @ts-expect-error a detail key the action does not declare (personal data has no field to go in)
  auditEvent('secret.created', { caller, resource: { id: 's1' }, details: { name: 'prod/db', version: 1, email: 'ann@example.com' } });
  // @ts-expect-error free-form details
  auditEvent('secret.created', { caller, resource: { id: 's1' }, details: freeForm });
  // @ts-expect-error a value of the wrong type
  auditEvent('secret.created', { caller, resource: { id: 's1' }, details: { name: 'prod/db', version: '1' } });
  // @ts-expect-error a literal outside the declared union
  auditEvent('auth.login.failed', { caller, resource: { id: null }, details: { reason: 'typo in ann@example.com' } });
  // @ts-expect-error a required detail left out
  auditEvent('secret.created', { caller, resource: { id: 's1' }, details: { name: 'prod/db' } });
  // @ts-expect-error details on an action that declares none
  auditEvent('auth.signup', { caller, resource: { id: 't1' }, details: { email: 'ann@example.com' } });
  // @ts-expect-error a resource type the action is not about
  auditEvent('secret.created', { caller, resource: { type: 'USER', id: 'u1' }, details: { name: 'prod/db', version: 1 } });
  // @ts-expect-error an action about several resource types must name one
  auditEvent('permission.denied', { caller, resource: { id: null }, details: { needed: 'ADMIN' } });
  const handMade: AuditEventInput = { tenantId: 't1', actor: userActor('u1'), action: 'secret.created', resource: { type: 'SECRET', id: 's1' }, outcome: 'SUCCESS', details: {} };
  // @ts-expect-error the sink takes only events made by auditEvent()
  void sink.append(handMade);
}

describe('the audit catalogue at compile time', () => {
  it('derives each action\'s details type from its entry', () => {
    expectTypeOf<DetailsOf<'secret.created'>>().toEqualTypeOf<{ name: string; version: number }>();
    expectTypeOf<DetailsOf<'auth.login.failed'>>().toEqualTypeOf<{ reason: 'unknown_email' | 'wrong_password' | 'locked'; failures?: number }>();
    expectTypeOf<DetailsOf<'secret.versions_destroyed'>['versions']>().toEqualTypeOf<readonly number[]>();
    expectTypeOf<'secret.exported'>().not.toExtend<AuditAction>();
    expectTypeOf(refusedAtCompileTime).toBeFunction();
  });
});

describe('auditEvent', () => {
  it('builds the stored event from the catalogue: default resource type and outcome, request fields, platform chain', () => {
    expect(auditEvent('secret.created', { caller, resource: { id: 's1' }, details: { name: 'prod/db', version: 1 } })).toEqual({
      tenantId: 't1',
      actor: { type: 'USER', id: 'u1' },
      action: 'secret.created',
      resource: { type: 'SECRET', id: 's1' },
      outcome: 'SUCCESS',
      ip: '203.0.113.7',
      userAgent: 'vitest',
      requestId: 'r1',
      details: { name: 'prod/db', version: 1 },
    });
    const failed = auditEvent('auth.login.failed', { caller: { tenantId: null, actor: userActor(null) }, resource: { id: null }, details: { reason: 'locked', failures: undefined }, outcome: 'DENIED' });
    expect(failed).toMatchObject({ tenantId: '__platform__', actor: { type: 'PUBLIC', id: null }, outcome: 'DENIED', ip: null, details: { reason: 'locked' } });
    expect(failed.details).not.toHaveProperty('failures');
  });

  it('refuses at run time what a cast smuggled past the compiler', () => {
    const smuggled = (details: object) => () => auditEvent('secret.created', { caller, resource: { id: 's1' }, details: details as DetailsOf<'secret.created'> });
    expect(smuggled({ name: 'prod/db', version: 1, email: 'ann@example.com' })).toThrow(new AuditEventError('secret.created: details.email is not declared in the audit catalogue'));
    expect(smuggled({ name: 'prod/db', version: '1' })).toThrow(/details\.version must be a whole number/);
    expect(smuggled({ name: 'prod/db', version: -1 })).toThrow(AuditEventError);
    expect(smuggled({ name: 'prod/db' })).toThrow(/details\.version is required/);
    expect(smuggled({ name: '', version: 1 })).toThrow(/details\.name must be a name/);
    expect(() => auditEvent('auth.login.failed', { caller, resource: { id: null }, details: { reason: 'nope' as 'locked' } })).toThrow(/must be one of unknown_email, wrong_password, locked/);
    expect(() => auditEvent('auth.refresh_token.reused', { caller, resource: { id: 's' }, details: { userId: 'ann@example.com' } })).toThrow(/details\.userId must be an opaque id/);
    expect(() => auditEvent('auth.login.locked', { caller, resource: { id: null }, details: { until: 'tomorrow' } })).toThrow(/ISO-8601/);
    expect(() => auditEvent('secret.versions_destroyed', { caller, resource: { id: 's' }, details: { name: 'a', versions: [1, 'two' as unknown as number] } })).toThrow(/details\.versions item 1 must be a whole number/);
    expect(() => auditEvent('auth.signup', { caller, resource: { id: 't' }, details: { email: 'ann@example.com' } as never })).toThrow(/details\.email is not declared/);
    expect(() => auditEvent('secret.exported' as AuditAction, { caller, resource: { id: 's' } } as never)).toThrow(/not in the audit catalogue/);
    expect(() => auditEvent('secret.created', { caller, resource: { type: 'USER' as 'SECRET', id: 'u' }, details: { name: 'a', version: 1 } })).toThrow(/about SECRET, not USER/);
  });
});

describe('the catalogue', () => {
  it('records the member roles as they are', () => {
    expect(AUDIT_CATALOGUE['member.invited'].details.role.values).toEqual([...ROLES]);
  });

  it('justifies every id and name field', () => {
    for (const [action, entry] of Object.entries(AUDIT_CATALOGUE)) {
      for (const [key, field] of Object.entries(entry.details)) {
        expect(field.why.length, `${action} ${key}`).toBeGreaterThan(10);
      }
    }
  });

  it('is listed in README "The audit log" (regenerate the table from catalogueTable() when this fails)', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    expect(readme).toContain(catalogueTable());
  });
});
