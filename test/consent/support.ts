import type { TestServer } from '../support/server.js';
import { expectOk, type Signed } from '../support/auth.js';

/** GraphQL helpers of the consent tests. */

export const RECORD_FIELDS = 'id seq kind subjectId purpose channel granted method noticeVersion noticeSha256 legalBasis gpc reason source at actorType hasProof';

export interface RecordShape {
  id: string;
  seq: number;
  kind: string;
  subjectId: string;
  purpose: string | null;
  channel: string | null;
  granted: boolean;
  method: string | null;
  noticeVersion: number | null;
  noticeSha256: string | null;
  gpc: boolean;
  hasProof: boolean;
}

const token = (who: Signed | string) => (typeof who === 'string' ? who : who.accessToken);

export async function createPurpose(server: TestServer, who: Signed | string, input: Record<string, unknown>) {
  return server.gql<{ createConsentPurpose: { id: string; key: string; noticeVersion: number; noticeSha256: string } }>(
    'mutation($i: CreateConsentPurposeInput!) { createConsentPurpose(input: $i) { id key noticeVersion noticeSha256 legalBasis honoursGpc retired } }',
    { i: input },
    token(who),
  );
}

export async function mustPurpose(server: TestServer, who: Signed | string, key: string, extra: Record<string, unknown> = {}) {
  return expectOk(
    await createPurpose(server, who, {
      key,
      name: `Purpose ${key}`,
      description: `What ${key} is for`,
      legalBasis: 'CONSENT',
      noticeText: `We use your contact details for ${key}. v1`,
      ...extra,
    }),
  ).createConsentPurpose;
}

export function recordConsent(server: TestServer, who: Signed | string, input: Record<string, unknown>) {
  return server.gql<{ recordConsent: RecordShape }>(`mutation($i: RecordConsentInput!) { recordConsent(input: $i) { ${RECORD_FIELDS} } }`, { i: input }, token(who));
}

export async function mustRecord(server: TestServer, who: Signed | string, input: Record<string, unknown>): Promise<RecordShape> {
  return expectOk(await recordConsent(server, who, { channel: 'EMAIL', granted: true, method: 'WEB_FORM', ...input })).recordConsent;
}

export function canContact(server: TestServer, who: Signed | string, subjectId: string, channel: string, purpose: string, gpc = false) {
  return server.gql<{ canContact: { subjectId: string; allowed: boolean; reasons: string[] } }>(
    'query($s: ID!, $c: Channel!, $p: String!, $g: Boolean) { canContact(subjectId: $s, channel: $c, purpose: $p, gpc: $g) { subjectId allowed reasons } }',
    { s: subjectId, c: channel, p: purpose, g: gpc },
    token(who),
  );
}

export async function reasons(server: TestServer, who: Signed | string, subjectId: string, channel: string, purpose: string, gpc = false): Promise<string[]> {
  return expectOk(await canContact(server, who, subjectId, channel, purpose, gpc)).canContact.reasons;
}

export const STATUS = 'query($s: ID!) { consentStatus(subjectId: $s) { subjectId entries { purpose channel granted recordedGranted gpcOverride noticeVersion currentNoticeVersion needsRenewal method recordId } channels { channel purpose optedOut } gpcSignalled } }';

export interface StatusShape {
  entries: { purpose: string; channel: string; granted: boolean; recordedGranted: boolean; gpcOverride: boolean; noticeVersion: number; needsRenewal: boolean; recordId: string }[];
  channels: { channel: string; purpose: string | null; optedOut: boolean }[];
  gpcSignalled: boolean;
}

export async function status(server: TestServer, who: Signed | string, subjectId: string): Promise<StatusShape> {
  return expectOk(await server.gql<{ consentStatus: StatusShape }>(STATUS, { s: subjectId }, token(who))).consentStatus;
}

export function optOut(server: TestServer, who: Signed | string, vars: Record<string, unknown>) {
  return server.gql<{ optOut: RecordShape }>(
    `mutation($s: ID!, $c: Channel!, $r: OptOutReason!, $src: OptOutSource!, $p: String, $proof: ConsentProofInput) { optOut(subjectId: $s, channel: $c, reason: $r, source: $src, purpose: $p, proof: $proof) { ${RECORD_FIELDS} } }`,
    { r: 'SUBJECT_REQUEST', src: 'SUPPORT', ...vars },
    token(who),
  );
}

export async function unsubscribeUrl(server: TestServer, who: Signed | string, subjectId: string, channel: string, purpose: string): Promise<string> {
  return expectOk(
    await server.gql<{ unsubscribeLink: { url: string } }>(
      'query($s: ID!, $c: Channel!, $p: String!) { unsubscribeLink(subjectId: $s, channel: $c, purpose: $p) { url expiresAt } }',
      { s: subjectId, c: channel, p: purpose },
      token(who),
    ),
  ).unsubscribeLink.url;
}

/** The path of a public link on the test server (the link itself names UNSUBSCRIBE_BASE_URL). */
export function onServer(server: TestServer, url: string): string {
  return `${server.url}${new URL(url).pathname}`;
}

export async function verifyLedger(server: TestServer, who: Signed | string) {
  return expectOk(
    await server.gql<{ verifyConsentLedger: { valid: boolean; checked: number; headSeq: number; findings: { seq: number | null; recordId: string | null; problem: string }[] } }>(
      '{ verifyConsentLedger { valid checked headSeq findings { seq recordId problem } } }',
      {},
      token(who),
    ),
  ).verifyConsentLedger;
}
