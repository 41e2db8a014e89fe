import { describe, expect, it } from 'vitest';
import {
  buildSubjectExport,
  canonicalJson,
  serialiseSubjectExport,
  subjectExportFileName,
  type SubjectExportInput,
} from '../../src/modules/privacy/subject-export.js';

const d = (iso: string) => new Date(iso);

const input: SubjectExportInput = {
  exportedAt: d('2025-03-10T08:00:00Z'),
  tenant: { id: 'tenant-1', name: 'Acme' },
  subject: {
    id: 'subj-1',
    createdAt: d('2024-06-01T12:00:00Z'),
    displayName: 'Alice Smith',
    email: 'alice@example.com',
    phone: '+442079460958',
    attributes: { zeta: 1, alpha: { y: true, b: [{ k2: 2, k1: 1 }] } },
    identities: [
      { label: 'loyalty_id', value: 'L-9' },
      { label: 'customer_id', value: 'C-1042' },
    ],
  },
  restriction: { since: d('2025-02-01T00:00:00Z'), reason: 'accuracy contested' },
  accessLog: [
    { at: d('2025-03-02T09:00:00Z'), actor: { type: 'USER', id: 'user-7' }, action: 'READ', purpose: 'support' },
    { at: d('2025-01-05T09:00:00Z'), actor: { type: 'API_KEY', id: 'key-1' }, action: 'UPDATE' },
  ],
  requests: [
    { id: 'dsr-2', type: 'ACCESS', status: 'IN_PROGRESS', receivedAt: d('2025-03-01T10:00:00Z') },
    {
      id: 'dsr-1',
      type: 'RECTIFICATION',
      status: 'COMPLETED',
      receivedAt: d('2025-01-31T10:00:00Z'),
      extension: { months: 2, reason: 'complex', decidedAt: d('2025-02-10T00:00:00Z') },
      closedAt: d('2025-03-05T00:00:00Z'),
    },
  ],
};

describe('buildSubjectExport', () => {
  it('produces the documented version-1 document', () => {
    const doc = buildSubjectExport(input);
    expect(doc).toEqual({
      format: 'coffer.subject-export',
      version: 1,
      exportedAt: '2025-03-10T08:00:00.000Z',
      tenant: { id: 'tenant-1', name: 'Acme' },
      subject: {
        id: 'subj-1',
        createdAt: '2024-06-01T12:00:00.000Z',
        updatedAt: null,
        displayName: 'Alice Smith',
        email: 'alice@example.com',
        phone: '+442079460958',
        attributes: { alpha: { b: [{ k1: 1, k2: 2 }], y: true }, zeta: 1 },
        identities: [
          { label: 'customer_id', value: 'C-1042' },
          { label: 'loyalty_id', value: 'L-9' },
        ],
      },
      restriction: { restricted: true, since: '2025-02-01T00:00:00.000Z', reason: 'accuracy contested' },
      accessLog: [
        { at: '2025-01-05T09:00:00.000Z', actor: { type: 'API_KEY', id: 'key-1' }, action: 'UPDATE', purpose: null },
        { at: '2025-03-02T09:00:00.000Z', actor: { type: 'USER', id: 'user-7' }, action: 'READ', purpose: 'support' },
      ],
      requests: [
        {
          id: 'dsr-1',
          type: 'RECTIFICATION',
          status: 'COMPLETED',
          receivedAt: '2025-01-31T10:00:00.000Z',
          dueAt: '2025-04-30T10:00:00.000Z',
          extension: { months: 2, reason: 'complex', decidedAt: '2025-02-10T00:00:00.000Z' },
          closedAt: '2025-03-05T00:00:00.000Z',
        },
        {
          id: 'dsr-2',
          type: 'ACCESS',
          status: 'IN_PROGRESS',
          receivedAt: '2025-03-01T10:00:00.000Z',
          dueAt: '2025-04-01T10:00:00.000Z',
          extension: null,
          closedAt: null,
        },
      ],
      consent: [],
      optOuts: [],
    });
  });

  it('puts the top-level keys in the documented order', () => {
    expect(Object.keys(buildSubjectExport(input))).toEqual([
      'format', 'version', 'exportedAt', 'tenant', 'subject', 'restriction', 'accessLog', 'requests', 'consent', 'optOuts',
    ]);
  });

  it('gives byte-identical JSON whatever order the facts were read in', () => {
    const reordered: SubjectExportInput = {
      ...input,
      subject: {
        ...input.subject,
        attributes: { alpha: { b: [{ k1: 1, k2: 2 }], y: true }, zeta: 1 },
        identities: [...(input.subject.identities ?? [])].reverse(),
      },
      accessLog: [...(input.accessLog ?? [])].reverse(),
      requests: [...(input.requests ?? [])].reverse(),
    };
    expect(serialiseSubjectExport(buildSubjectExport(reordered))).toBe(serialiseSubjectExport(buildSubjectExport(input)));
  });

  it('writes null for every absent optional value, so every document has the same keys', () => {
    const minimal = buildSubjectExport({
      exportedAt: d('2025-03-10T08:00:00Z'),
      tenant: { id: 't', name: 'T' },
      subject: { id: 's', createdAt: d('2025-01-01T00:00:00Z') },
    });
    expect(minimal.subject).toEqual({
      id: 's', createdAt: '2025-01-01T00:00:00.000Z', updatedAt: null, displayName: null, email: null, phone: null, attributes: {}, identities: [],
    });
    expect(minimal.restriction).toEqual({ restricted: false, since: null, reason: null });
    expect([minimal.accessLog, minimal.requests, minimal.consent, minimal.optOuts]).toEqual([[], [], [], []]);
  });

  it('includes consent history and opt-outs, sorted by time', () => {
    const doc = buildSubjectExport({
      ...input,
      consent: [
        { purpose: 'newsletter', granted: false, at: d('2025-02-01T00:00:00Z') },
        { purpose: 'newsletter', granted: true, at: d('2024-07-01T00:00:00Z'), source: 'signup_form' },
      ],
      optOuts: [
        { channel: 'phone', at: d('2025-02-02T00:00:00Z') },
        { channel: 'email', at: d('2025-02-02T00:00:00Z') },
      ],
    });
    expect(doc.consent.map((c) => [c.at, c.granted, c.source])).toEqual([
      ['2024-07-01T00:00:00.000Z', true, 'signup_form'],
      ['2025-02-01T00:00:00.000Z', false, null],
    ]);
    expect(doc.optOuts.map((o) => o.channel)).toEqual(['email', 'phone']);
  });

  it('refuses invalid dates', () => {
    expect(() => buildSubjectExport({ ...input, exportedAt: new Date(Number.NaN) })).toThrow('exportedAt');
  });

  it('does not mutate its input', () => {
    const before = JSON.stringify(input);
    buildSubjectExport(input);
    expect(JSON.stringify(input)).toBe(before);
  });
});

describe('serialiseSubjectExport', () => {
  it('is pretty JSON with two-space indentation and a final newline, and parses back to the document', () => {
    const doc = buildSubjectExport(input);
    const text = serialiseSubjectExport(doc);
    expect(text.startsWith('{\n  "format": "coffer.subject-export",\n  "version": 1,')).toBe(true);
    expect(text.endsWith('}\n')).toBe(true);
    expect(JSON.parse(text)).toEqual(doc);
  });
});

describe('canonicalJson', () => {
  it('sorts object keys at every depth and keeps array order', () => {
    expect(JSON.stringify(canonicalJson({ b: [3, { d: 1, c: 2 }, 1], a: null }))).toBe('{"a":null,"b":[3,{"c":2,"d":1},1]}');
  });

  it('keeps a "__proto__" key as data rather than setting a prototype', () => {
    const parsed = JSON.parse('{"__proto__": {"x": 1}, "a": 1}') as Parameters<typeof canonicalJson>[0];
    const result = canonicalJson(parsed) as Record<string, unknown>;
    expect(Object.getPrototypeOf(result)).toBe(Object.prototype);
    expect(Object.keys(result)).toEqual(['__proto__', 'a']);
  });
});

describe('subjectExportFileName', () => {
  it('names the subject id and export instant, never personal data', () => {
    const name = subjectExportFileName(buildSubjectExport(input));
    expect(name).toBe('coffer-subject-export-subj-1-20250310T080000Z.json');
    expect(name).not.toContain('alice');
  });
});
