import { describe, expect, it } from 'vitest';
import { AUDIT_CATALOGUE } from '../../src/modules/audit/audit-catalogue.js';
import { CHANNELS, CONSENT_METHODS, LEGAL_BASES, OPT_OUT_REASONS, OPT_OUT_SOURCES } from '../../src/modules/consent/consent-vocab.js';

/** The audit catalogue repeats the consent vocabularies it records (audit cannot import consent): they must agree. */
describe('consent vocabularies in the audit catalogue', () => {
  it('agree with consent-vocab.ts', () => {
    const values = (action: keyof typeof AUDIT_CATALOGUE, field: string) => (AUDIT_CATALOGUE[action].details as Record<string, { values?: readonly string[] }>)[field]!.values;
    expect(values('consent.recorded', 'channel')).toEqual(CHANNELS);
    expect(values('consent.recorded', 'method')).toEqual(CONSENT_METHODS);
    expect(values('consent.purpose_created', 'legalBasis')).toEqual(LEGAL_BASES);
    expect(values('consent.opted_out', 'reason')).toEqual(OPT_OUT_REASONS);
    expect(values('consent.opted_out', 'source')).toEqual(OPT_OUT_SOURCES);
  });
});
