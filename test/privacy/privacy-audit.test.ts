import { describe, expect, it } from 'vitest';
import { auditEvent, userActor } from '../../src/modules/audit/audit-builder.js';
import { AUDIT_CATALOGUE } from '../../src/modules/audit/audit-catalogue.js';
import { AuditEventError } from '../../src/modules/audit/audit-input.js';
import { API_KEY_SCOPES } from '../../src/identity/scopes.js';
import { ERASURE_REASON_CODES } from '../../src/modules/privacy/erasure-receipt.js';
import { READABLE_FIELDS } from '../../src/modules/privacy/subject.document.js';

const caller = { tenantId: 't1', actor: userActor('u1') };

describe('privacy in the audit catalogue', () => {
  it('records the privacy vocabularies as the privacy module declares them', () => {
    expect(AUDIT_CATALOGUE['subject.read'].details.fields.values).toEqual([...READABLE_FIELDS]);
    expect(AUDIT_CATALOGUE['subject.erased'].details.reasonCode.values).toEqual([...ERASURE_REASON_CODES]);
    expect(AUDIT_CATALOGUE['apikey.created'].details.scopes.values).toEqual([...API_KEY_SCOPES]);
  });

  it('builds subject events about DATA_SUBJECT, refusing values where only field names go', () => {
    const event = auditEvent('subject.read', { caller, resource: { id: 'ds_1' }, details: { fields: ['email'] } });
    expect(event).toMatchObject({ resource: { type: 'DATA_SUBJECT', id: 'ds_1' }, details: { fields: ['email'] } });
    // The caller's free purpose label stays in the erasable access log, never in the immutable chain.
    expect(() => auditEvent('subject.read', { caller, resource: { id: 'ds_1' }, details: { fields: ['email'], purpose: 'jane.doe' } as never })).toThrow(/not declared/);
    expect(() => auditEvent('subject.updated', { caller, resource: { id: 'ds_1' }, details: { fields: ['ada@example.com' as 'email'] } })).toThrow(AuditEventError);
    expect(() => auditEvent('subject.restricted', { caller, resource: { id: 'ds_1' }, details: { reason: 'complaint' } as never })).toThrow(/not declared/);
  });
});
