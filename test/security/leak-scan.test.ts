import { randomBytes } from 'node:crypto';
import { Binary, type Document } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUTH_FIELDS, expectOk } from '../support/auth.js';
import { startServer, type GraphQLResponse, type TestServer } from '../support/server.js';
import { SUBJECT_FIELDS } from '../privacy/support.js';
import { mustPurpose, onServer } from '../consent/support.js';

/**
 * Issue "Prove it under load" §4: a leak scan over everything.
 *
 * One server at LOG_LEVEL=trace. Every feature is driven with distinctive marker values
 * (credentials, secret values, personal data, reasons, proofs, link tokens), including bad
 * inputs that carry markers into error paths. Then every document of every collection (at
 * several checkpoints, since erasure and deletion remove documents), every log line, every
 * GraphQL error and HTTP error body, every public page and every audit event's details are
 * scanned for each marker, its lower-cased and normalised forms and its base64 encodings.
 * Zero hits, apart from the explicit exceptions in ALLOWED below.
 */

const T = randomBytes(4).toString('hex');

type Kind = 'credential' | 'personal' | 'secret-value' | 'link-token';
interface Marker {
  label: string;
  kind: Kind;
  /** The value as sent, then its lower-cased and normalised forms. */
  forms: string[];
}
const markers: Marker[] = [];
function mark(label: string, kind: Kind, value: string, ...normalised: string[]): string {
  const forms = [...new Set([value, value.toLowerCase(), ...normalised].filter((f) => f.length >= 6))];
  markers.push({ label, kind, forms });
  return value;
}

// Credentials.
const ownerEmail = mark('owner email', 'personal', `Owner.Mk${T}@Example.com`, `owner.mk${T}@example.com`);
const ownerPassword = mark('owner password', 'credential', `Lantern-${T}-ownerPw!`);
const memberEmail = mark('member email', 'personal', `Member.Mk${T}@example.com`);
const memberPassword = mark('member password', 'credential', `Harbor-${T}-memberPw!`);
const memberNewPassword = mark('member new password', 'credential', `Quartz-${T}-newPw!`);
const wrongPassword = mark('wrong password', 'credential', `Wrong-${T}-horsePw!`);
const pendingEmail = mark('pending invitee email', 'personal', `Pending.Mk${T}@example.com`);
// Secret values (names are tenant identifiers, not values: they carry no marker).
const v1 = mark('secret value (create)', 'secret-value', `sv-create-${T}-alpha`);
const v2 = mark('secret value (update)', 'secret-value', `sv-update-${T}-bravo`);
const v3 = mark('secret value (setSecrets)', 'secret-value', `sv-set-${T}-charlie`);
const v4 = mark('secret value (importSecrets)', 'secret-value', `sv-import-${T}-delta`);
const v5 = mark('secret value (api key write)', 'secret-value', `sv-apikey-${T}-echo`);
const v6 = mark('secret value (conflicting write)', 'secret-value', `sv-conflict-${T}-foxtrot`);
const badDotenvLine = mark('malformed .env line', 'secret-value', `not an assignment ${T} golf`);
// A data subject.
const subjectEmail = mark('subject email', 'personal', ` Ada.Mk${T}@Example.ORG `, `ada.mk${T}@example.org`);
const subjectEmail2 = mark('subject email (rectified)', 'personal', `Augusta.Mk${T}@example.org`);
// Not +44 20 7946 0958: the validator's error message quotes that one as its example.
const subjectPhone = mark('subject phone', 'personal', '+44 20 7946 0321', '+442079460321', '2079460321', '020 7946 0321', '7946 0321');
const fullName = mark('subject full name', 'personal', `Ada Mk${T} Lovelace`);
const externalId = mark('subject external id', 'personal', `ext-${T}-ada`);
const attrValue = mark('attribute value', 'personal', `attr-${T}-loom`);
const attrNested = mark('nested attribute value', 'personal', `attr-nested-${T}-engine`);
const identityValue = mark('identity value', 'personal', `ident-${T}-badge`);
const restrictionReason = mark('restriction reason', 'personal', `restrict-${T}-moved house`);
// Requests.
const dsrNotes = mark('DSR notes', 'personal', `dsr-notes-${T}-called twice`);
const dsrExtend = mark('DSR extension reason', 'personal', `dsr-extend-${T}-many systems`);
const dsrReject = mark('DSR rejection reason', 'personal', `dsr-reject-${T}-identity unverified`);
// Consent proofs (the notice text is not personal and carries no marker).
const proofIp = mark('consent proof ip', 'personal', '198.51.100.173');
const proofUa = mark('consent proof user agent', 'personal', `UA-Mk${T}/9.1`);
const proofEvidence = mark('consent proof evidence', 'personal', `evidence-${T}-signed form`);
const optOutEvidence = mark('opt-out proof evidence', 'personal', `optout-evidence-${T}-call`);
const pageUa = mark('public page user agent', 'personal', `PageUA-Mk${T}/2.0`);
// Bad inputs whose values must not be echoed.
const badEmail = mark('invalid email', 'personal', `Bad Mk${T}@@example..com`);
const badPhone = mark('invalid phone', 'personal', `+1 555 Mk${T} bad`);
const bogusRefresh = mark('forged refresh token', 'credential', `rt${T}forged.${T}Zm9yZ2VkLXNlY3JldA`);
const bogusLinkToken = mark('forged link token', 'link-token', `eyJMk${T}.forged.${T}sig`);

/** Tokens the server issues (added as they are seen): the whole value and its secret part. */
function markToken(label: string, kind: Kind, token: string): string {
  const secretPart = token.slice(token.lastIndexOf('.') + 1);
  markers.push({ label, kind, forms: [...new Set([token, secretPart])] });
  return token;
}

/**
 * Stored by design. Each: collection, field path (dotted, array indexes as `[]`), marker label, why.
 * Anything else found anywhere is a hit.
 */
const ALLOWED: { collection: string; path: string; label: string; why: string }[] = [
  { collection: 'users', path: 'email', label: 'owner email', why: 'a tenant user’s login email is stored in users by design (normalised)' },
  { collection: 'users', path: 'email', label: 'member email', why: 'a tenant user’s login email is stored in users by design (normalised)' },
  { collection: 'invitations', path: 'email', label: 'member email', why: 'an invitation names the invitee’s email by design (shown to the tenant’s managers)' },
  { collection: 'invitations', path: 'email', label: 'pending invitee email', why: 'a pending invitation names the invitee’s email by design' },
];

interface Hit {
  where: string;
  marker: string;
  form: string;
  detail: string;
}

/** base64 / base64url fragments that any encoding of text containing `value` must contain, at each byte alignment. */
function base64Forms(value: string): string[] {
  const bytes = Buffer.from(value, 'utf8');
  const out: string[] = [];
  for (let k = 0; k < 3; k++) {
    const b64 = Buffer.concat([Buffer.alloc(k), bytes]).toString('base64');
    const core = b64.slice(k === 0 ? 0 : 4, -4);
    if (core.length >= 8) out.push(core, core.replace(/\+/g, '-').replace(/\//g, '_'));
  }
  return out;
}

function formsOf(marker: Marker): string[] {
  return [...new Set(marker.forms.flatMap((f) => [f, ...base64Forms(f)]))];
}

/** Every marker form found in `text` (case-insensitive for the textual forms, exact for base64). */
function scanText(text: string, where: string, detail: string, hits: Hit[], skip: (m: Marker) => boolean = () => false): void {
  const lower = text.toLowerCase();
  for (const marker of markers) {
    if (skip(marker)) continue;
    for (const form of marker.forms) {
      if (lower.includes(form.toLowerCase())) hits.push({ where, marker: marker.label, form, detail });
    }
    for (const form of formsOf(marker).filter((f) => !marker.forms.includes(f))) {
      if (text.includes(form)) hits.push({ where, marker: marker.label, form: `base64 of ${marker.forms[0]}`, detail });
    }
  }
}

/** Walks a document: every key and every leaf (Binary as base64, utf8 and latin1 of its bytes), with its path. */
function leaves(value: unknown, path: string, out: { path: string; text: string }[]): void {
  if (value === null || value === undefined) return;
  if (value instanceof Binary || (typeof value === 'object' && (value as { _bsontype?: string })._bsontype === 'Binary')) {
    const bytes = Buffer.from((value as Binary).buffer);
    out.push({ path, text: bytes.toString('base64') }, { path, text: bytes.toString('utf8') }, { path, text: bytes.toString('latin1') });
    return;
  }
  if (value instanceof Uint8Array) {
    const bytes = Buffer.from(value);
    out.push({ path, text: bytes.toString('base64') }, { path, text: bytes.toString('utf8') }, { path, text: bytes.toString('latin1') });
    return;
  }
  if (Array.isArray(value)) {
    value.forEach((item) => leaves(item, `${path}[]`, out));
    return;
  }
  if (value instanceof Date) return;
  if (typeof value === 'object' && !(value as { _bsontype?: string })._bsontype) {
    for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
      const child = path ? `${path}.${key}` : key;
      out.push({ path: `${child} (key)`, text: key });
      leaves(item, child, out);
    }
    return;
  }
  out.push({ path, text: String(value) });
}

let server: TestServer;
const snapshots: { label: string; collections: Record<string, Document[]> }[] = [];
/** Every GraphQL response that had errors, and every HTTP response with a 4xx/5xx status, as text. */
const errorBodies: { what: string; text: string }[] = [];
/** Public page bodies (HTML): they may carry their own link token, never personal data. */
const pageBodies: { what: string; text: string }[] = [];

async function gql<T = Record<string, unknown>>(what: string, query: string, variables: Record<string, unknown> = {}, token?: string, headers?: Record<string, string>): Promise<GraphQLResponse<T>> {
  const res = await server.gql<T>(query, variables, token, headers);
  if (res.errors || res.status >= 400) errorBodies.push({ what, text: JSON.stringify({ status: res.status, errors: res.errors }) });
  return res;
}
async function ok<T = Record<string, any>>(what: string, query: string, variables: Record<string, unknown> = {}, token?: string, headers?: Record<string, string>): Promise<T> {
  return expectOk(await gql<T>(what, query, variables, token, headers));
}
async function fails(what: string, query: string, variables: Record<string, unknown>, token?: string): Promise<string> {
  const res = await gql(what, query, variables, token);
  expect(res.errors, `${what} should fail`).toBeDefined();
  return res.errors![0]!.extensions.code;
}
async function page(what: string, url: string, init: RequestInit = {}): Promise<number> {
  const res = await fetch(url, { redirect: 'manual', ...init });
  const text = await res.text();
  pageBodies.push({ what, text });
  if (res.status >= 400) errorBodies.push({ what, text });
  return res.status;
}
async function snapshot(label: string): Promise<void> {
  const collections: Record<string, Document[]> = {};
  for (const { name } of await server.db.listCollections().toArray()) collections[name] = await server.db.collection(name).find({}).toArray();
  snapshots.push({ label, collections });
}

beforeAll(async () => {
  server = await startServer({ LOG_LEVEL: 'trace', UNSUBSCRIBE_BASE_URL: 'https://mail.example.test/', KEY_RETIRE_GRACE_SECONDS: '0' });
});
afterAll(async () => server?.close());

async function authPayload(what: string, query: string, variables: Record<string, unknown>, token?: string) {
  const data = await ok<Record<string, { accessToken: string; refreshToken: string; user: { id: string }; tenant: { id: string; slug: string } }>>(what, query, variables, token);
  const p = Object.values(data)[0]!;
  markToken(`${what}: access token`, 'credential', p.accessToken);
  markToken(`${what}: refresh token`, 'credential', p.refreshToken);
  return p;
}

describe('leak scan over everything', () => {
  it('finds no marker value in any collection, log line, error, page or audit event', async () => {
    // ---- Accounts: sign-up, login, refresh, invitations, change password.
    const signed = await authPayload('signUp', `mutation($i: SignUpInput!) { signUp(input: $i) { ${AUTH_FIELDS} } }`, { i: { email: ownerEmail, password: ownerPassword, tenantName: 'Leak Scan Ltd' } });
    const slug = signed.tenant.slug;
    let ownerToken = signed.accessToken;
    const logged = await authPayload('login', `mutation($i: LoginInput!) { login(input: $i) { ${AUTH_FIELDS} } }`, { i: { email: ownerEmail, password: ownerPassword } });
    const refreshed = await authPayload('refreshToken', `mutation($t: String!) { refreshToken(refreshToken: $t) { ${AUTH_FIELDS} } }`, { t: logged.refreshToken });
    ownerToken = refreshed.accessToken;
    // Reuse of a spent refresh token (treated as theft), a forged one, a wrong password, an invalid email.
    await fails('refresh reuse', 'mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken } }', { t: logged.refreshToken });
    await fails('forged refresh', 'mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken } }', { t: bogusRefresh });
    await fails('wrong password', `mutation($i: LoginInput!) { login(input: $i) { accessToken } }`, { i: { email: ownerEmail, password: wrongPassword } });
    await fails('login bad email', `mutation($i: LoginInput!) { login(input: $i) { accessToken } }`, { i: { email: badEmail, password: wrongPassword } });
    await fails('signUp bad email', `mutation($i: SignUpInput!) { signUp(input: $i) { accessToken } }`, { i: { email: badEmail, password: wrongPassword, tenantName: 'Bad' } });
    await fails('signUp taken email', `mutation($i: SignUpInput!) { signUp(input: $i) { accessToken } }`, { i: { email: ownerEmail, password: wrongPassword, tenantName: 'Again' } });
    await fails('signUp weak password', `mutation($i: SignUpInput!) { signUp(input: $i) { accessToken } }`, { i: { email: `weak.${T}@example.com`, password: `${T}`, tenantName: 'Weak' } });
    await fails('tampered access token', '{ me { user { id } } }', {}, `${ownerToken}x`);
    // The reuse above revoked that session family: log in again.
    ownerToken = (await authPayload('login again', `mutation($i: LoginInput!) { login(input: $i) { ${AUTH_FIELDS} } }`, { i: { email: ownerEmail, password: ownerPassword } })).accessToken;

    const invite = await ok<{ inviteMember: { token: string } }>('inviteMember', 'mutation($i: InviteMemberInput!) { inviteMember(input: $i) { token } }', { i: { email: memberEmail, role: 'ADMIN' } }, ownerToken);
    markToken('invitation token', 'credential', invite.inviteMember.token);
    const pending = await ok<{ inviteMember: { token: string } }>('inviteMember pending', 'mutation($i: InviteMemberInput!) { inviteMember(input: $i) { token } }', { i: { email: pendingEmail, role: 'USER' } }, ownerToken);
    markToken('pending invitation token', 'credential', pending.inviteMember.token);
    await fails('invite bad email', 'mutation($i: InviteMemberInput!) { inviteMember(input: $i) { token } }', { i: { email: badEmail, role: 'USER' } }, ownerToken);
    await fails('accept forged invitation', 'mutation($i: AcceptInvitationInput!) { acceptInvitation(input: $i) { accessToken } }', { i: { token: `${invite.inviteMember.token}x`, password: memberPassword } });
    const member = await authPayload('acceptInvitation', `mutation($i: AcceptInvitationInput!) { acceptInvitation(input: $i) { ${AUTH_FIELDS} } }`, { i: { token: invite.inviteMember.token, password: memberPassword } });
    await fails('changePassword wrong current', 'mutation($i: ChangePasswordInput!) { changePassword(input: $i) }', { i: { currentPassword: wrongPassword, newPassword: memberNewPassword } }, member.accessToken);
    await ok('changePassword', 'mutation($i: ChangePasswordInput!) { changePassword(input: $i) }', { i: { currentPassword: memberPassword, newPassword: memberNewPassword } }, member.accessToken);
    const memberAgain = await authPayload('member login', `mutation($i: LoginInput!) { login(input: $i) { ${AUTH_FIELDS} } }`, { i: { email: memberEmail, password: memberNewPassword } });

    // ---- Vault: create, update, setSecrets, importSecrets, reveal, versions, delete/restore/destroy.
    await ok('createSecret', 'mutation($i: CreateSecretInput!) { createSecret(input: $i) { id } }', { i: { name: 'app/db-password', value: v1, description: 'database', tags: ['db'] } }, ownerToken);
    await ok('updateSecret', 'mutation($i: UpdateSecretInput!) { updateSecret(input: $i) { version } }', { i: { name: 'app/db-password', value: v2 } }, ownerToken);
    await fails('updateSecret conflict', 'mutation($i: UpdateSecretInput!) { updateSecret(input: $i) { version } }', { i: { name: 'app/db-password', value: v6, expectedVersion: 1 } }, ownerToken);
    await fails('createSecret duplicate', 'mutation($i: CreateSecretInput!) { createSecret(input: $i) { id } }', { i: { name: 'app/db-password', value: v6 } }, ownerToken);
    await fails('createSecret oversized', 'mutation($i: CreateSecretInput!) { createSecret(input: $i) { id } }', { i: { name: 'app/big', value: `${v6}${'x'.repeat(70_000)}` } }, ownerToken);
    await fails('updateSecret unknown', 'mutation($i: UpdateSecretInput!) { updateSecret(input: $i) { version } }', { i: { name: 'app/nothing-here', value: v6 } }, ownerToken);
    const set = await ok<{ setSecrets: { ok: boolean }[] }>('setSecrets', 'mutation($items: [SetSecretInput!]!) { setSecrets(items: $items) { ok errorCode errorMessage } }', { items: [{ name: 'app/api-token', value: v3 }, { name: 'app/db-password', value: v6, expectedVersion: 1 }] }, ownerToken);
    expect(set.setSecrets.map((r) => r.ok)).toEqual([true, false]);
    errorBodies.push({ what: 'setSecrets item errors', text: JSON.stringify(set) });
    const imported = await ok('importSecrets', 'mutation($d: String!) { importSecrets(dotenv: $d, prefix: "env/") { ok line errorCode errorMessage } }', { d: `SMTP_PASSWORD=${v4}\n${badDotenvLine}\n` }, ownerToken);
    errorBodies.push({ what: 'importSecrets item errors', text: JSON.stringify(imported) });
    expect((await ok<{ secret: { value: string } }>('reveal', '{ secret(name: "app/db-password") { value } }', {}, ownerToken)).secret.value).toBe(v2);
    expect((await ok<{ secret: { value: string } }>('reveal v1', '{ secret(name: "app/db-password") { value(version: 1) } }', {}, ownerToken)).secret.value).toBe(v1);
    await ok('versions', '{ secret(name: "app/db-password") { versions { version destroyed } } }', {}, ownerToken);
    await ok('deleteSecret', 'mutation { deleteSecret(name: "env/SMTP_PASSWORD") { status } }', {}, ownerToken);
    await ok('restoreSecret', 'mutation { restoreSecret(name: "env/SMTP_PASSWORD") { status } }', {}, ownerToken);
    await ok('destroySecretVersions', 'mutation { destroySecretVersions(name: "app/db-password", versions: [1]) { version } }', {}, ownerToken);
    await fails('reveal destroyed', '{ secret(name: "app/db-password") { value(version: 1) } }', {}, ownerToken);

    // ---- API keys: create one and use it; a tampered key is refused.
    const created = await ok<{ createApiKey: { apiKey: string } }>('createApiKey', 'mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) { apiKey } }', { i: { name: 'ci', role: 'ADMIN', prefixes: ['*'], scopes: ['SECRETS_READ', 'SECRETS_WRITE', 'SUBJECTS_READ', 'SUBJECTS_WRITE'] } }, ownerToken);
    const apiKey = markToken('api key', 'credential', created.createApiKey.apiKey);
    expect((await ok<{ secret: { value: string } }>('reveal by api key', '{ secret(name: "app/api-token") { value } }', {}, apiKey)).secret.value).toBe(v3);
    await ok('write by api key', 'mutation($i: CreateSecretInput!) { createSecret(input: $i) { id } }', { i: { name: 'ci/deploy-key', value: v5 } }, apiKey);
    await fails('tampered api key', '{ secret(name: "app/api-token") { value } }', {}, `${apiKey}x`);

    // ---- Key rotation: new DEK version, re-encryption to the end.
    await ok('rotateTenantKey', 'mutation { rotateTenantKey { activeDekVersion } }', {}, ownerToken);

    // ---- Data subjects: create, read with purposes, find, rectify, restrict, access log, export.
    const subject = (
      await ok<{ createDataSubject: { id: string } }>('createDataSubject', `mutation($i: CreateDataSubjectInput!) { createDataSubject(input: $i) { ${SUBJECT_FIELDS} } }`, {
        i: { externalId, email: subjectEmail, phone: subjectPhone, fullName, attributes: { hobby: attrValue, nested: { deep: [attrNested] } }, identities: [{ label: 'badge', value: identityValue }] },
      }, ownerToken)
    ).createDataSubject;
    await ok('dataSubject read', `query($id: ID!) { dataSubject(id: $id, purpose: "support") { ${SUBJECT_FIELDS} } }`, { id: subject.id }, ownerToken);
    await ok('dataSubject read by api key', `query($id: ID!) { dataSubject(id: $id, purpose: "billing") { email phone } }`, { id: subject.id }, apiKey);
    await ok('dataSubjects by email', `query($f: DataSubjectFilter) { dataSubjects(filter: $f, purpose: "support") { edges { node { id } } } }`, { f: { email: subjectEmail } }, ownerToken);
    await ok('dataSubjects by phone', `query($f: DataSubjectFilter) { dataSubjects(filter: $f, purpose: "support") { edges { node { id } } } }`, { f: { phone: subjectPhone } }, ownerToken);
    await ok('dataSubjects by externalId', `query($f: DataSubjectFilter) { dataSubjects(filter: $f, purpose: "support") { edges { node { id } } } }`, { f: { externalId } }, ownerToken);
    await fails('createDataSubject duplicate externalId', 'mutation($i: CreateDataSubjectInput!) { createDataSubject(input: $i) { id } }', { i: { externalId, fullName } }, ownerToken);
    await fails('createDataSubject invalid email', 'mutation($i: CreateDataSubjectInput!) { createDataSubject(input: $i) { id } }', { i: { email: badEmail, fullName } }, ownerToken);
    await fails('createDataSubject invalid phone', 'mutation($i: CreateDataSubjectInput!) { createDataSubject(input: $i) { id } }', { i: { phone: badPhone, fullName } }, ownerToken);
    await fails('createDataSubject oversized attributes', 'mutation($i: CreateDataSubjectInput!) { createDataSubject(input: $i) { id } }', { i: { attributes: { [attrValue]: `${attrNested}${'x'.repeat(17_000)}` } } }, ownerToken);
    await fails('createDataSubject oversized name', 'mutation($i: CreateDataSubjectInput!) { createDataSubject(input: $i) { id } }', { i: { fullName: `${fullName}${'y'.repeat(5_000)}` } }, ownerToken);
    await fails('dataSubjects invalid email filter', 'query($f: DataSubjectFilter) { dataSubjects(filter: $f, purpose: "support") { edges { cursor } } }', { f: { email: badEmail } }, ownerToken);
    await fails('updateDataSubject unknown id', 'mutation($i: UpdateDataSubjectInput!) { updateDataSubject(input: $i) { id changedFields } }', { i: { id: '000000000000000000000000', email: subjectEmail2, fullName } }, ownerToken);
    await fails('dataSubject bad purpose', 'query($id: ID!, $p: String!) { dataSubject(id: $id, purpose: $p) { id } }', { id: subject.id, p: fullName }, ownerToken);
    await ok('updateDataSubject', 'mutation($i: UpdateDataSubjectInput!) { updateDataSubject(input: $i) { id changedFields } }', { i: { id: subject.id, email: subjectEmail2 } }, ownerToken);
    await ok('restrictProcessing', 'mutation($id: ID!, $r: String!) { restrictProcessing(subjectId: $id, reason: $r) { restricted } }', { id: subject.id, r: restrictionReason }, ownerToken);
    await fails('read while restricted', `query($id: ID!) { dataSubject(id: $id, purpose: "support") { email } }`, { id: subject.id }, ownerToken);
    await fails('update while restricted', 'mutation($i: UpdateDataSubjectInput!) { updateDataSubject(input: $i) { id changedFields } }', { i: { id: subject.id, fullName } }, ownerToken);
    await ok('read restricted for legal claims', `query($id: ID!) { dataSubject(id: $id, purpose: "legal_claims") { email restrictedSince } }`, { id: subject.id }, ownerToken);
    await ok('liftRestriction', 'mutation($id: ID!) { liftRestriction(subjectId: $id) { restricted } }', { id: subject.id }, ownerToken);
    await ok('dataAccessLog', 'query($id: ID!) { dataAccessLog(subjectId: $id) { edges { node { purpose } } } }', { id: subject.id }, ownerToken);
    await ok('exportSubjectData', 'mutation($id: ID!) { exportSubjectData(subjectId: $id) { fileName document } }', { id: subject.id }, ownerToken);

    // ---- Data-subject requests: notes, extension and rejection reasons, completion (export).
    const REQ = 'id status notes extension { reason } rejectionReason';
    const daysAgo = new Date(Date.now() - 86_400_000).toISOString();
    const r1 = (await ok<{ createDataSubjectRequest: { id: string } }>('createDataSubjectRequest', `mutation($i: CreateDataSubjectRequestInput!) { createDataSubjectRequest(input: $i) { ${REQ} } }`, { i: { subjectId: subject.id, type: 'ACCESS', receivedAt: daysAgo, notes: dsrNotes } }, ownerToken)).createDataSubjectRequest;
    await ok('extendDataSubjectRequest', `mutation($id: ID!, $r: String!) { extendDataSubjectRequest(id: $id, reason: $r, months: 1) { ${REQ} } }`, { id: r1.id, r: dsrExtend }, ownerToken);
    await fails('extend twice', `mutation($id: ID!, $r: String!) { extendDataSubjectRequest(id: $id, reason: $r, months: 1) { id } }`, { id: r1.id, r: dsrExtend }, ownerToken);
    await ok('startDataSubjectRequest', 'mutation($id: ID!) { startDataSubjectRequest(id: $id) { status } }', { id: r1.id }, ownerToken);
    await ok('completeDataSubjectRequest', 'mutation($id: ID!) { completeDataSubjectRequest(id: $id) { request { status } export { fileName } } }', { id: r1.id }, ownerToken);
    const r2 = (await ok<{ createDataSubjectRequest: { id: string } }>('createDataSubjectRequest 2', `mutation($i: CreateDataSubjectRequestInput!) { createDataSubjectRequest(input: $i) { id } }`, { i: { subjectId: subject.id, type: 'RECTIFICATION', receivedAt: daysAgo, notes: dsrNotes } }, ownerToken)).createDataSubjectRequest;
    await ok('rejectDataSubjectRequest', `mutation($id: ID!, $r: String!) { rejectDataSubjectRequest(id: $id, reason: $r) { ${REQ} } }`, { id: r2.id, r: dsrReject }, ownerToken);
    await fails('reject oversized reason', `mutation($id: ID!, $r: String!) { rejectDataSubjectRequest(id: $id, reason: $r) { id } }`, { id: r2.id, r: `${dsrReject}${'z'.repeat(3_000)}` }, ownerToken);
    await fails('createDataSubjectRequest unknown subject', `mutation($i: CreateDataSubjectRequestInput!) { createDataSubjectRequest(input: $i) { id } }`, { i: { subjectId: '000000000000000000000000', type: 'ACCESS', receivedAt: daysAgo, notes: dsrNotes } }, ownerToken);
    await ok('dataSubjectRequests', `query { dataSubjectRequests { edges { node { ${REQ} } } } }`, {}, ownerToken);

    // ---- Consent: purpose, consent with proof, opt-out with proof, links and public pages, double opt-in.
    await mustPurpose(server, ownerToken, 'newsletter');
    await ok('recordConsent', 'mutation($i: RecordConsentInput!) { recordConsent(input: $i) { id hasProof } }', {
      i: { subjectId: subject.id, purpose: 'newsletter', channel: 'EMAIL', granted: true, method: 'WEB_FORM', proof: { ip: proofIp, userAgent: proofUa, evidence: proofEvidence } },
    }, ownerToken);
    await fails('recordConsent oversized proof', 'mutation($i: RecordConsentInput!) { recordConsent(input: $i) { id } }', {
      i: { subjectId: subject.id, purpose: 'newsletter', channel: 'EMAIL', granted: true, method: 'WEB_FORM', proof: { ip: `${proofIp}-${badPhone}`, userAgent: proofUa, evidence: `${proofEvidence}${'e'.repeat(20_000)}` } },
    }, ownerToken);
    await ok('optOut', 'mutation($s: ID!, $p: ConsentProofInput) { optOut(subjectId: $s, channel: SMS, reason: SUBJECT_REQUEST, source: SUPPORT, proof: $p) { id } }', { s: subject.id, p: { evidence: optOutEvidence, ip: proofIp, userAgent: proofUa } }, ownerToken);
    await ok('optIn', 'mutation($s: ID!, $p: ConsentProofInput!) { optIn(subjectId: $s, channel: SMS, proof: $p) { id } }', { s: subject.id, p: { evidence: optOutEvidence, ip: proofIp, userAgent: proofUa } }, ownerToken);
    await ok('consentStatus', 'query($s: ID!) { consentStatus(subjectId: $s) { gpcSignalled } }', { s: subject.id }, ownerToken);
    await ok('consentHistory', 'query($s: ID!) { consentHistory(subjectId: $s) { edges { node { id hasProof } } } }', { s: subject.id }, ownerToken);
    await ok('canContact', 'query($s: ID!) { canContact(subjectId: $s, channel: EMAIL, purpose: "newsletter") { allowed } }', { s: subject.id }, ownerToken);
    const link = await ok<{ unsubscribeLink: { url: string } }>('unsubscribeLink', 'query($s: ID!) { unsubscribeLink(subjectId: $s, channel: EMAIL, purpose: "newsletter") { url } }', { s: subject.id }, ownerToken);
    const unsubUrl = onServer(server, link.unsubscribeLink.url);
    markToken('unsubscribe link token', 'link-token', unsubUrl.slice(unsubUrl.lastIndexOf('/') + 1));
    const headers = await ok<{ emailUnsubscribeHeaders: { url: string } }>('emailUnsubscribeHeaders', 'query($s: ID!) { emailUnsubscribeHeaders(subjectId: $s, purpose: "newsletter") { url listUnsubscribe } }', { s: subject.id }, ownerToken);
    const appUrl = headers.emailUnsubscribeHeaders.url;
    markToken('unsubscribe header token', 'link-token', appUrl.slice(appUrl.lastIndexOf('/') + 1));
    expect(await page('GET unsubscribe page', unsubUrl, { headers: { 'user-agent': pageUa } })).toBe(200);
    expect(await page('POST unsubscribe one-click', unsubUrl, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', 'user-agent': pageUa }, body: 'List-Unsubscribe=One-Click' })).toBe(200);
    await ok('unsubscribe mutation', 'mutation($t: String!) { unsubscribe(token: $t) { channel } }', { t: appUrl.slice(appUrl.lastIndexOf('/') + 1) });
    await fails('unsubscribe forged token', 'mutation($t: String!) { unsubscribe(token: $t) { channel } }', { t: bogusLinkToken });
    expect(await page('GET unsubscribe forged', `${server.url}/unsubscribe/${bogusLinkToken}`, { headers: { 'user-agent': pageUa } })).toBe(400);
    expect(await page('POST unsubscribe forged', `${server.url}/unsubscribe/${bogusLinkToken}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', 'user-agent': pageUa }, body: 'List-Unsubscribe=One-Click' })).toBe(400);
    await mustPurpose(server, ownerToken, 'offers');
    const confirm = await ok<{ requestConsentConfirmation: { url: string } }>('requestConsentConfirmation', 'mutation($s: ID!) { requestConsentConfirmation(subjectId: $s, purpose: "offers", channel: EMAIL) { url } }', { s: subject.id }, ownerToken);
    const confirmUrl = onServer(server, confirm.requestConsentConfirmation.url);
    markToken('confirmation link token', 'link-token', confirmUrl.slice(confirmUrl.lastIndexOf('/') + 1));
    expect(await page('GET confirm page', confirmUrl, { headers: { 'user-agent': pageUa } })).toBe(200);
    expect(await page('POST confirm', confirmUrl, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', 'user-agent': pageUa }, body: 'confirm=consent' })).toBe(200);
    expect(await page('GET confirm forged', `${server.url}/confirm/${bogusLinkToken}`)).toBe(400);

    // ---- Malformed requests carrying markers: GraphQL's own coercion and parse errors, HTTP body errors.
    await fails('variable of the wrong type', 'mutation($i: CreateSecretInput!) { createSecret(input: $i) { id } }', { i: { name: 'app/typed', value: { nested: v6 } } }, ownerToken);
    await fails('enum variable with a marker', 'mutation($id: ID!, $r: ErasureReason!) { eraseSubject(subjectId: $id, reason: $r) { state } }', { id: subject.id, r: fullName }, ownerToken);
    await fails('unknown input field named by a marker', 'mutation($i: CreateDataSubjectInput!) { createDataSubject(input: $i) { id } }', { i: { [attrValue]: fullName } }, ownerToken);
    await fails('inline literal of the wrong type', `mutation { createSecret(input: { name: "app/inline", value: { x: "${v6}" } }) { id } }`, {}, ownerToken);
    await fails('parse error', `mutation { createSecret(input: { name: "app/parse", value: "${v6}" ) { id } }`, {}, ownerToken);
    for (const [what, body, type] of [
      ['malformed JSON body', `{"query": "{ me { user { id } } }", "variables": {"p": "${memberPassword}"`, 'application/json'],
      ['oversized body', JSON.stringify({ query: '{ me { user { id } } }', variables: { p: `${v6}${'w'.repeat(2_000_000)}` } }), 'application/json'],
      ['form body to /graphql', `password=${encodeURIComponent(memberPassword)}`, 'application/x-www-form-urlencoded'],
    ] as const) {
      const res = await fetch(`${server.url}/graphql`, { method: 'POST', headers: { 'content-type': type, authorization: `Bearer ${ownerToken}` }, body });
      const text = await res.text();
      expect(res.status, what).toBeGreaterThanOrEqual(400);
      errorBodies.push({ what, text });
    }

    // ---- Wait for the key rotation's re-encryption to finish before the checkpoint.
    let state = '';
    for (let i = 0; i < 200 && state !== 'DONE'; i++) {
      state = (await ok<{ tenantKeyStatus: { reencryption: { state: string } } }>('tenantKeyStatus', '{ tenantKeyStatus { reencryption { state } } }', {}, ownerToken)).tenantKeyStatus.reencryption.state;
      if (state !== 'DONE') await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(state).toBe('DONE');
    await snapshot('after every feature');

    // ---- Erasure (receipt), then the account and the tenant.
    await ok('eraseSubject', 'mutation($id: ID!) { eraseSubject(subjectId: $id, reason: CONSENT_WITHDRAWN) { state receipt } }', { id: subject.id }, ownerToken);
    await ok('erasureReceipt', 'query($id: ID!) { erasureReceipt(subjectId: $id) { state receipt } }', { id: subject.id }, ownerToken);
    await fails('read erased', `query($id: ID!) { dataSubject(id: $id, purpose: "support") { email } }`, { id: subject.id }, ownerToken);
    await snapshot('after erasure');
    await ok('exportMyData', '{ exportMyData { format document } }', {}, memberAgain.accessToken);
    await fails('deleteMyAccount wrong password', 'mutation($p: String!) { deleteMyAccount(password: $p) }', { p: wrongPassword }, memberAgain.accessToken);
    await ok('deleteMyAccount', 'mutation($p: String!) { deleteMyAccount(password: $p) }', { p: memberNewPassword }, memberAgain.accessToken);
    await fails('login deleted account', `mutation($i: LoginInput!) { login(input: $i) { accessToken } }`, { i: { email: memberEmail, password: memberNewPassword } });
    await snapshot('after deleteMyAccount');
    await fails('deleteTenant wrong slug', 'mutation($s: String!) { deleteTenant(confirmSlug: $s) { state } }', { s: fullName }, ownerToken);
    await ok('deleteTenant', 'mutation($s: String!) { deleteTenant(confirmSlug: $s) { state receipt } }', { s: slug }, ownerToken);
    await snapshot('after deleteTenant');

    // ---- The scans.
    const hits: Hit[] = [];
    const allowedUsed = new Set<string>();
    for (const snap of snapshots) {
      for (const [collection, docs] of Object.entries(snap.collections)) {
        for (const doc of docs) {
          const found: { path: string; text: string }[] = [];
          leaves(doc, '', found);
          for (const leaf of found) {
            const leafHits: Hit[] = [];
            scanText(leaf.text, `db ${collection}`, `${snap.label}, _id ${String(doc._id)}, ${leaf.path}`, leafHits);
            for (const hit of leafHits) {
              const basePath = leaf.path.replace(/\[\]/g, '');
              const allowed = ALLOWED.find((a) => a.collection === collection && a.path === basePath && a.label === hit.marker);
              if (allowed) allowedUsed.add(`${collection}.${allowed.path}: ${allowed.label}`);
              else hits.push(hit);
            }
          }
          // The whole document serialised (the driver's JSON, Binary included), for anything the walk missed.
          const docHits: Hit[] = [];
          scanText(JSON.stringify(doc), `db ${collection} (serialised)`, `${snap.label}, _id ${String(doc._id)}`, docHits, (m) => ALLOWED.some((a) => a.collection === collection && a.label === m.label));
          hits.push(...docHits);
        }
      }
      // Audit events' details on their own (no exception applies to them).
      for (const event of snap.collections.audit_events ?? []) {
        scanText(JSON.stringify(event.details ?? {}), 'audit event details', `${snap.label}, ${String(event.action)} seq ${String(event.seq)}`, hits);
      }
    }
    server.logs.forEach((line, i) => {
      let msg = '';
      try {
        msg = String((JSON.parse(line) as { msg?: unknown }).msg);
      } catch {
        msg = line.slice(0, 80);
      }
      scanText(line, 'log line', `#${i} "${msg}"`, hits);
    });
    for (const body of errorBodies) scanText(body.text, 'error response', body.what, hits);
    // A page may show its own link token (in its form); never personal data or any other credential.
    for (const body of pageBodies) scanText(body.text, 'public page', body.what, hits, (m) => m.kind === 'link-token');

    // The scan must have seen what it claims to have seen.
    expect(server.config.logLevel).toBe('trace');
    expect(server.logs.length).toBeGreaterThan(100);
    expect(errorBodies.length).toBeGreaterThan(30);
    expect(snapshots[0]!.collections.audit_events?.length ?? 0).toBeGreaterThan(30);
    for (const name of ['users', 'secrets', 'data_subjects', 'subject_keys', 'data_access_log', 'consent_ledger', 'audit_events', 'api_keys']) {
      expect(Object.keys(snapshots[0]!.collections), name).toContain(name);
    }
    // Positive controls: the scanner does find what is there (the allowed login email, a marker planted in a copy).
    // Every exception is needed (none is stale or broader than what is stored).
    expect([...allowedUsed].sort()).toEqual(ALLOWED.map((a) => `${a.collection}.${a.path}: ${a.label}`).sort());
    const control: Hit[] = [];
    scanText(`x${Buffer.from(`..${v1}..`).toString('base64url')}x`, 'control', 'base64url', control);
    scanText(Buffer.from(`${subjectPhone.replace(/\D/g, '').slice(2)}`).toString('latin1'), 'control', 'phone digits', control);
    expect(control.map((h) => h.marker)).toEqual(expect.arrayContaining(['secret value (create)', 'subject phone']));

    const report = [...new Set(hits.map((h) => `${h.where} :: ${h.marker} (${h.form}) :: ${h.detail}`))];
    if (report.length) console.log(`leak scan: ${report.length} hit(s)\n${report.join('\n')}`);
    expect(report, report.join('\n')).toEqual([]);
  }, 180_000);
});
