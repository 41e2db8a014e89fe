import type { JSONWebKeySet } from 'jose';
import { appError, badInput, conflict } from '../../errors.js';
import type { RequestInfo, TenantCaller } from '../../identity/caller.js';
import { auditEvent } from '../audit/audit-builder.js';
import type { AuditSink } from '../audit/audit-event.js';
import type { DataSubjectDoc } from '../privacy/subject.document.js';
import type { SubjectRepository } from '../privacy/subject.repository.js';
import type { ConsentLedgerService } from './consent-ledger.service.js';
import { CONFIRMATION_DAYS, signLink, UNSUBSCRIBE_DAYS, verifyLink, type LinkClaims, type LinkKind } from './consent-links.js';
import { liveSubject, publicCallerIn, purposeByKey } from './consent-lookup.js';
import type { ReceiptKey } from './consent-receipt.js';
import { isSubjectId, validChannel, type Proof } from './consent-rules.js';
import { optedOut } from './consent-state.js';
import type { Channel, OptOutReason, OptOutSource } from './consent-vocab.js';
import type { PurposeDoc } from './consent.document.js';
import type { ConsentRepository } from './consent.repository.js';
import type { OptOutService } from './opt-out.service.js';

export interface ConsentLinkServiceDeps {
  consentOf: (tenantId: string) => ConsentRepository;
  subjectsOf: (tenantId: string) => SubjectRepository;
  audit: AuditSink;
  /** Signs the links (the access-token key); `jwks` and `issuer` verify them. */
  signer: () => { privateKey: ReceiptKey; kid: string };
  jwks: () => JSONWebKeySet;
  issuer: string;
  tenantName: (tenantId: string) => Promise<string>;
  /** UNSUBSCRIBE_BASE_URL: where the public pages are served (no trailing slash); null when unset in production (no links). */
  publicBaseUrl: string | null;
  /** Records the double opt-in grant. */
  ledger: Pick<ConsentLedgerService, 'appendConsent'>;
  /** Records the unsubscribe. */
  optOuts: Pick<OptOutService, 'appendOptOut'>;
}

/** Public-page outcomes: what the page may show (the tenant's name and the channel; never anything about the subject). */
export interface PublicLinkView {
  tenantName: string;
  channel: Channel;
  purposeName: string;
}

const CHANNEL_TEXT: Record<Channel, string> = { EMAIL: 'email', SMS: 'text message (SMS)', WHATSAPP: 'WhatsApp', PUSH: 'push notification', PHONE: 'phone call', POST: 'post' };
export const channelText = (channel: Channel) => CHANNEL_TEXT[channel];

/**
 * Signed unsubscribe and double opt-in confirmation links, and what their public pages do with
 * them (docs/ARCHITECTURE.md §14): describe, unsubscribe (also RFC 8058 one-click), confirm.
 */
export class ConsentLinkService {
  constructor(private readonly deps: ConsentLinkServiceDeps) {}

  async unsubscribeLink(caller: TenantCaller, subjectId: string, channel: Channel, purposeKey: string, validForDays?: number | null) {
    const base = this.publicBaseUrl();
    const days = validForDays ?? UNSUBSCRIBE_DAYS.default;
    if (!Number.isInteger(days) || days < UNSUBSCRIBE_DAYS.min || days > UNSUBSCRIBE_DAYS.max) throw badInput('validForDays', `must be ${UNSUBSCRIBE_DAYS.min} to ${UNSUBSCRIBE_DAYS.max} days`);
    const ch = validChannel(channel);
    const purpose = await purposeByKey(this.deps.consentOf(caller.tenantId), purposeKey, 'purpose');
    const subject = await liveSubject(this.deps.subjectsOf, caller.tenantId, subjectId);
    const { token, expiresAt } = await signLink('unsubscribe', { tenantId: caller.tenantId, subjectId: subject._id, channel: ch, purposeKey: purpose.key, noticeVersion: null }, days, this.deps.signer(), this.deps.issuer);
    return { url: `${base}/unsubscribe/${token}`, expiresAt };
  }

  /** RFC 8058 headers for an email: List-Unsubscribe (https URL) and List-Unsubscribe-Post. */
  async emailUnsubscribeHeaders(caller: TenantCaller, subjectId: string, purposeKey: string) {
    const { url, expiresAt } = await this.unsubscribeLink(caller, subjectId, 'EMAIL', purposeKey);
    return { listUnsubscribe: `<${url}>`, listUnsubscribePost: 'List-Unsubscribe=One-Click', url, expiresAt };
  }

  async requestConfirmation(caller: TenantCaller, subjectId: string, purposeKey: string, channel: Channel) {
    const base = this.publicBaseUrl();
    const ch = validChannel(channel);
    const purpose = await purposeByKey(this.deps.consentOf(caller.tenantId), purposeKey, 'purpose');
    if (purpose.retiredAt) throw conflict('purpose: this purpose is retired and takes no new consent');
    const subject = await liveSubject(this.deps.subjectsOf, caller.tenantId, subjectId);
    const { token, expiresAt } = await signLink(
      'confirmation',
      { tenantId: caller.tenantId, subjectId: subject._id, channel: ch, purposeKey: purpose.key, noticeVersion: purpose.currentNoticeVersion },
      CONFIRMATION_DAYS,
      this.deps.signer(),
      this.deps.issuer,
    );
    await this.deps.audit.append(auditEvent('consent.confirmation_requested', { caller, resource: { id: subject._id }, details: { purposeKey: purpose.key, channel: ch } }));
    return { url: `${base}/confirm/${token}`, expiresAt };
  }

  /** What a public page may show for a valid token; null for an invalid, expired or dangling one (the page says nothing more). */
  async describeLink(kind: LinkKind, token: string): Promise<PublicLinkView | null> {
    const resolved = await this.resolveLink(kind, token);
    return resolved && { tenantName: resolved.tenantName, channel: resolved.claims.channel, purposeName: resolved.purpose.name };
  }

  /**
   * Public unsubscribe (page button, RFC 8058 one-click POST, or an app through GraphQL): opts the
   * subject out of the channel for the link's purpose, with proof (ip, user agent sealed), audited
   * with actor PUBLIC. Repeating it changes nothing. `tenantId`: the caller's tenant, when known
   * (a token of another tenant is refused).
   */
  async unsubscribe(token: string, request: RequestInfo, via: 'PAGE' | 'ONE_CLICK' | 'APP', tenantId: string | null = null): Promise<PublicLinkView | null> {
    const resolved = await this.resolveLink('unsubscribe', token);
    if (!resolved || (tenantId !== null && resolved.claims.tenantId !== tenantId)) return null;
    const { claims, subject, purpose } = resolved;
    const repo = this.deps.consentOf(claims.tenantId);
    const records = await repo.recordsOfSubjects([subject._id]);
    if (!optedOut(records, claims.channel, purpose.key)) {
      const proof: Proof = { ip: request.ip, userAgent: request.userAgent, capturedAt: new Date().toISOString(), evidence: `unsubscribe link ${claims.tokenId}` };
      const reason: OptOutReason = via === 'ONE_CLICK' ? 'ONE_CLICK' : 'UNSUBSCRIBE_LINK';
      const source: OptOutSource = via === 'ONE_CLICK' ? 'EMAIL_HEADER' : via === 'APP' ? 'APP' : 'PUBLIC_PAGE';
      await this.deps.optOuts.appendOptOut(repo, publicCallerIn(claims.tenantId, request), subject, claims.channel, purpose.key, reason, source, proof);
    }
    return { tenantName: resolved.tenantName, channel: claims.channel, purposeName: purpose.name };
  }

  /**
   * Double opt-in: records the consent (method DOUBLE_OPT_IN, the notice version of the request).
   * Each token is single-use: it is marked used (an insert with a unique `_id`) before the grant
   * is written, so a second POST of the same link, even after a withdrawal or concurrently with
   * the first, answers the same page and writes nothing.
   */
  async confirm(token: string, request: RequestInfo): Promise<PublicLinkView | null> {
    const resolved = await this.resolveLink('confirmation', token);
    if (!resolved) return null;
    const { claims, subject, purpose } = resolved;
    if (purpose.retiredAt) return null;
    const notice = purpose.notices.find((n) => n.version === claims.noticeVersion);
    if (!notice) return null;
    const view = { tenantName: resolved.tenantName, channel: claims.channel, purposeName: purpose.name };
    const repo = this.deps.consentOf(claims.tenantId);
    if (!(await repo.claimConfirmation(claims.tokenId, claims.expiresAt))) return view;
    try {
      const proof: Proof = { ip: request.ip, userAgent: request.userAgent, capturedAt: new Date().toISOString(), evidence: `confirmation link ${claims.tokenId}` };
      await this.deps.ledger.appendConsent(repo, publicCallerIn(claims.tenantId, request), subject, purpose, claims.channel, true, 'DOUBLE_OPT_IN', notice, proof, false);
    } catch (error) {
      await repo.releaseConfirmation(claims.tokenId).catch(() => {});
      throw error;
    }
    return view;
  }

  /** Where links point; SERVICE_UNAVAILABLE naming the setting when it is unset (production without UNSUBSCRIBE_BASE_URL). */
  private publicBaseUrl(): string {
    if (this.deps.publicBaseUrl) return this.deps.publicBaseUrl;
    throw appError('SERVICE_UNAVAILABLE', 'Unsubscribe and confirmation links are not configured: set UNSUBSCRIBE_BASE_URL (an https URL) to issue them', { setting: 'UNSUBSCRIBE_BASE_URL' });
  }

  private async resolveLink(kind: LinkKind, token: string): Promise<{ claims: LinkClaims; subject: DataSubjectDoc; purpose: PurposeDoc; tenantName: string } | null> {
    const claims = await verifyLink(kind, token, this.deps.jwks(), this.deps.issuer);
    if (!claims || !isSubjectId(claims.subjectId)) return null;
    const subject = await this.deps.subjectsOf(claims.tenantId).findSubject(claims.subjectId);
    if (!subject || subject.status !== 'ACTIVE') return null;
    const purpose = await this.deps.consentOf(claims.tenantId).findPurposeByKey(claims.purposeKey);
    if (!purpose) return null;
    const tenantName = await this.deps.tenantName(claims.tenantId);
    if (!tenantName) return null;
    return { claims, subject, purpose, tenantName };
  }
}
