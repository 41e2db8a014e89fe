import { Arg, Ctx, ID, Int, Mutation, Query, Resolver } from 'type-graphql';
import { tenantCallerOf, type Context } from '../../graphql/context.js';
import { badInput, notFoundBecause } from '../../errors.js';
import { READABLE_FIELDS } from '../privacy/subject.document.js';
import type { ConsentEntryState } from './consent-state.js';
import type { Channel, OptOutReason, OptOutSource } from './consent-vocab.js';
import type { LedgerRecordDoc, PurposeDoc } from './consent.document.js';
import type { RetentionPeriods } from './purpose.service.js';
import {
  ChannelEnum,
  ChannelOptOutState,
  ConsentLedgerVerification,
  ConsentProofInput,
  ConsentPurpose,
  ConsentReceipt,
  ConsentRecord,
  ConsentRecordConnection,
  ConsentStatus,
  ConsentStatusEntry,
  ContactDecision,
  ContactInput,
  CreateConsentPurposeInput,
  EmailUnsubscribeHeaders,
  NoticeVersion,
  OptOutCount,
  OptOutReasonEnum,
  OptOutSourceEnum,
  OptOutStatistics,
  ProcessingRecord,
  ProcessingRetention,
  PublicLinkResult,
  RecordConsentInput,
  SignedLink,
  UpdateConsentPurposeInput,
  ConsentLedgerFinding,
} from './consent.types.js';

const toPurpose = (p: PurposeDoc): ConsentPurpose => {
  const current = p.notices.find((n) => n.version === p.currentNoticeVersion)!;
  return Object.assign(new ConsentPurpose(), {
    id: p._id, key: p.key, name: p.name, description: p.description, legalBasis: p.legalBasis, honoursGpc: p.honoursGpc,
    noticeVersion: p.currentNoticeVersion, noticeText: current.text, noticeSha256: current.sha256,
    notices: p.notices.map((n) => Object.assign(new NoticeVersion(), n)), retired: !!p.retiredAt, retiredAt: p.retiredAt, createdAt: p.createdAt, updatedAt: p.updatedAt,
  });
};

const toRecord = (r: LedgerRecordDoc): ConsentRecord =>
  Object.assign(new ConsentRecord(), {
    id: r._id, seq: r.seq, kind: r.kind, subjectId: r.subjectId, purpose: r.purposeKey, channel: r.channel, granted: r.granted, method: r.method,
    noticeVersion: r.noticeVersion, noticeSha256: r.noticeSha256, legalBasis: r.legalBasis, gpc: r.gpc, reason: r.reason, source: r.source, at: r.at,
    actorType: r.actor.type, hasProof: r.proof !== null,
  });

const toEntry = (e: ConsentEntryState): ConsentStatusEntry =>
  Object.assign(new ConsentStatusEntry(), {
    purpose: e.purposeKey, channel: e.channel, granted: e.granted, recordedGranted: e.recordedGranted, gpcOverride: e.gpcOverride, noticeVersion: e.noticeVersion,
    currentNoticeVersion: e.currentNoticeVersion, needsRenewal: e.needsRenewal, method: e.lastRecord.method, at: e.lastRecord.at, recordId: e.lastRecord._id,
  });

const linkResult = (view: { tenantName: string; channel: Channel; purposeName: string } | null): PublicLinkResult => {
  if (!view) throw badInput('token', 'this link is invalid or has expired');
  return Object.assign(new PublicLinkResult(), view);
};

@Resolver()
export class ConsentResolver {
  @Mutation(() => ConsentPurpose, { description: 'Create a processing purpose with its legal basis and notice (version 1).' })
  async createConsentPurpose(@Arg('input', () => CreateConsentPurposeInput, { description: 'The purpose.' }) input: CreateConsentPurposeInput, @Ctx() ctx: Context) {
    return toPurpose(await ctx.services.consentPurposes.createPurpose(tenantCallerOf(ctx), input));
  }

  @Mutation(() => ConsentPurpose, { description: 'Change a purpose; a changed notice text publishes a new notice version (consent under older versions then needs renewal).' })
  async updateConsentPurpose(@Arg('input', () => UpdateConsentPurposeInput, { description: 'The changes.' }) input: UpdateConsentPurposeInput, @Ctx() ctx: Context) {
    return toPurpose(await ctx.services.consentPurposes.updatePurpose(tenantCallerOf(ctx), input));
  }

  @Mutation(() => ConsentPurpose, { description: 'Retire a purpose: it takes no new consent; it is never deleted while records refer to it.' })
  async retireConsentPurpose(@Arg('key', () => String, { description: 'The purpose key.' }) key: string, @Ctx() ctx: Context) {
    return toPurpose(await ctx.services.consentPurposes.retirePurpose(tenantCallerOf(ctx), key));
  }

  @Query(() => [ConsentPurpose], { description: 'The tenant\'s purposes, by key.' })
  async consentPurposes(@Arg('includeRetired', () => Boolean, { nullable: true, description: 'Include retired purposes (default false).' }) includeRetired: boolean | null, @Ctx() ctx: Context) {
    return (await ctx.services.consentPurposes.purposes(tenantCallerOf(ctx), includeRetired ?? false)).map(toPurpose);
  }

  @Query(() => [ProcessingRecord], { description: 'The basis of a record of processing activities (GDPR Art. 30): each purpose, its legal basis, the kinds of personal data held and the tenant\'s retention periods.' })
  async recordsOfProcessing(@Ctx() ctx: Context) {
    const records = await ctx.services.consentPurposes.recordsOfProcessing(tenantCallerOf(ctx));
    return records.map(({ purpose: p, retention }) =>
      Object.assign(new ProcessingRecord(), {
        purpose: toPurpose(p),
        legalBasis: p.legalBasis,
        personalData: [...READABLE_FIELDS, 'consentProof'],
        retention: retentionText(retention),
        retentionPeriods: Object.assign(new ProcessingRetention(), retention),
        retentionNote: 'From the tenant\'s retention policy (retentionPolicy, setRetentionPolicy); a subject\'s own retention date overrides the subject period. Consent ledger records and suppression entries are kept: the ledger is the proof of consent, suppression makes an opt-out outlive erasure.',
      }),
    );
  }

  @Mutation(() => ConsentRecord, { description: 'Append a consent decision to the immutable ledger (granted: false withdraws). The proof is sealed under the subject\'s key.' })
  async recordConsent(@Arg('input', () => RecordConsentInput, { description: 'The decision.' }) input: RecordConsentInput, @Ctx() ctx: Context) {
    return toRecord(await ctx.services.consentLedger.recordConsent(tenantCallerOf(ctx), input));
  }

  @Mutation(() => ConsentRecord, { description: 'Withdraw consent to a purpose on a channel (a ledger record with granted: false).' })
  async withdrawConsent(
    @Arg('subjectId', () => ID, { description: 'The subject.' }) subjectId: string,
    @Arg('purpose', () => String, { description: 'Purpose key.' }) purpose: string,
    @Arg('channel', () => ChannelEnum, { description: 'Channel.' }) channel: Channel,
    @Ctx() ctx: Context,
  ) {
    return toRecord(await ctx.services.consentLedger.withdrawConsent(tenantCallerOf(ctx), subjectId, purpose, channel));
  }

  @Query(() => ConsentStatus, { description: 'Current consent per purpose × channel (latest record wins; needsRenewal under an older notice; GPC conflicts shown) and channel opt-outs.' })
  async consentStatus(@Arg('subjectId', () => ID, { description: 'The subject.' }) subjectId: string, @Ctx() ctx: Context) {
    const status = await ctx.services.consentLedger.status(tenantCallerOf(ctx), subjectId);
    return Object.assign(new ConsentStatus(), {
      subjectId: status.subjectId,
      entries: status.entries.map(toEntry),
      channels: status.channels.map((c) => Object.assign(new ChannelOptOutState(), { channel: c.channel, purpose: c.purposeKey, optedOut: c.optedOut })),
      gpcSignalled: status.gpcSignalled,
      gpcSignalledAt: status.gpcSignalledAt,
    });
  }

  @Query(() => ConsentRecordConnection.Connection, { description: 'A subject\'s consent and opt-out records, newest first.' })
  async consentHistory(
    @Arg('subjectId', () => ID, { description: 'The subject (also an erased one: its records stay, proofs shredded).' }) subjectId: string,
    @Arg('first', () => Int, { nullable: true, description: 'Page size (default 50, at most 200).' }) first: number | null,
    @Arg('after', () => String, { nullable: true, description: 'endCursor of the previous page.' }) after: string | null,
    @Ctx() ctx: Context,
  ) {
    const page = await ctx.services.consentLedger.history(tenantCallerOf(ctx), subjectId, first, after);
    const edges = page.items.map((r) => ({ cursor: page.cursorOf(r), node: toRecord(r) }));
    return ConsentRecordConnection.of({ edges, pageInfo: { hasNextPage: page.hasNextPage, endCursor: edges.at(-1)?.cursor ?? null }, totalCount: page.totalCount });
  }

  @Query(() => ConsentReceipt, { description: 'The signed receipt of a ledger record.' })
  async consentReceipt(@Arg('id', () => ID, { description: 'Receipt (record) id.' }) id: string, @Ctx() ctx: Context) {
    const receipt = await ctx.services.consentLedger.receipt(tenantCallerOf(ctx), id);
    return Object.assign(new ConsentReceipt(), { id: receipt.id, jws: receipt.jws, payload: receipt.payload as unknown as Record<string, unknown> });
  }

  @Query(() => ConsentLedgerVerification, { description: 'Verify the tenant\'s consent ledger chain: edits, deletions and insertions made in the database are reported.' })
  async verifyConsentLedger(@Ctx() ctx: Context) {
    const result = await ctx.services.consentLedger.verifyLedger(tenantCallerOf(ctx));
    return Object.assign(new ConsentLedgerVerification(), { ...result, findings: result.findings.map((f) => Object.assign(new ConsentLedgerFinding(), f)) });
  }

  @Mutation(() => ConsentRecord, { description: 'Opt a subject out of a channel (every purpose, or one). Email and phone channels also suppress the contact point (kept after erasure).' })
  async optOut(
    @Arg('subjectId', () => ID, { description: 'The subject.' }) subjectId: string,
    @Arg('channel', () => ChannelEnum, { description: 'Channel.' }) channel: Channel,
    @Arg('reason', () => OptOutReasonEnum, { description: 'Why.' }) reason: OptOutReason,
    @Arg('source', () => OptOutSourceEnum, { description: 'Where it came from.' }) source: OptOutSource,
    @Arg('purpose', () => String, { nullable: true, description: 'Only this purpose (default: every purpose).' }) purpose: string | null,
    @Arg('proof', () => ConsentProofInput, { nullable: true, description: 'Proof (sealed).' }) proof: ConsentProofInput | null,
    @Ctx() ctx: Context,
  ) {
    return toRecord(await ctx.services.optOuts.optOut(tenantCallerOf(ctx), { subjectId, channel, reason, source, purpose, proof }));
  }

  @Mutation(() => ConsentRecord, { description: 'Opt a subject back in to a channel (proof required); removes matching suppression entries.' })
  async optIn(
    @Arg('subjectId', () => ID, { description: 'The subject.' }) subjectId: string,
    @Arg('channel', () => ChannelEnum, { description: 'Channel.' }) channel: Channel,
    @Arg('proof', () => ConsentProofInput, { description: 'Proof of the opt-in (sealed).' }) proof: ConsentProofInput,
    @Arg('purpose', () => String, { nullable: true, description: 'Only this purpose (default: every purpose).' }) purpose: string | null,
    @Ctx() ctx: Context,
  ) {
    return toRecord(await ctx.services.optOuts.optIn(tenantCallerOf(ctx), { subjectId, channel, proof, purpose }));
  }

  @Query(() => OptOutStatistics, { description: 'Opt-outs recorded in [from, to), per channel and reason.' })
  async optOutStatistics(@Arg('from', () => Date, { description: 'Start.' }) from: Date, @Arg('to', () => Date, { description: 'End (at most 366 days later).' }) to: Date, @Ctx() ctx: Context) {
    const stats = await ctx.services.optOuts.optOutStatistics(tenantCallerOf(ctx), from, to);
    return Object.assign(new OptOutStatistics(), { ...stats, counts: stats.counts.map((c) => Object.assign(new OptOutCount(), c)) });
  }

  @Query(() => ContactDecision, { description: 'May the subject be contacted on this channel for this purpose? gpc: the request carries a Global Privacy Control signal (recorded).' })
  async canContact(
    @Arg('subjectId', () => ID, { description: 'The subject.' }) subjectId: string,
    @Arg('channel', () => ChannelEnum, { description: 'Channel.' }) channel: Channel,
    @Arg('purpose', () => String, { description: 'Purpose key.' }) purpose: string,
    @Arg('gpc', () => Boolean, { nullable: true, description: 'A Global Privacy Control signal came with the request.' }) gpc: boolean | null,
    @Ctx() ctx: Context,
  ) {
    return Object.assign(new ContactDecision(), await ctx.services.contactDecisions.canContact(tenantCallerOf(ctx), subjectId, channel, purpose, gpc ?? false));
  }

  @Query(() => [ContactDecision], { description: 'Contact decisions for up to 1,000 recipients (by subject id, email or phone) in one call, in input order.' })
  async canContactMany(
    @Arg('contacts', () => [ContactInput], { description: 'Recipients (1 to 1,000).' }) contacts: ContactInput[],
    @Arg('channel', () => ChannelEnum, { description: 'Channel.' }) channel: Channel,
    @Arg('purpose', () => String, { description: 'Purpose key.' }) purpose: string,
    @Ctx() ctx: Context,
  ) {
    return (await ctx.services.contactDecisions.canContactMany(tenantCallerOf(ctx), contacts, channel, purpose)).map((d) => Object.assign(new ContactDecision(), d));
  }

  @Query(() => SignedLink, { description: 'A signed unsubscribe link (UNSUBSCRIBE_BASE_URL/unsubscribe/<token>) bound to tenant, subject, channel and purpose.' })
  async unsubscribeLink(
    @Arg('subjectId', () => ID, { description: 'The subject.' }) subjectId: string,
    @Arg('channel', () => ChannelEnum, { description: 'Channel.' }) channel: Channel,
    @Arg('purpose', () => String, { description: 'Purpose key.' }) purpose: string,
    @Arg('validForDays', () => Int, { nullable: true, description: 'Lifetime in days (30 to 365, default 90).' }) validForDays: number | null,
    @Ctx() ctx: Context,
  ) {
    return Object.assign(new SignedLink(), await ctx.services.consentLinks.unsubscribeLink(tenantCallerOf(ctx), subjectId, channel, purpose, validForDays));
  }

  @Query(() => EmailUnsubscribeHeaders, { description: 'The RFC 8058 headers to set on an email: List-Unsubscribe and List-Unsubscribe-Post.' })
  async emailUnsubscribeHeaders(
    @Arg('subjectId', () => ID, { description: 'The subject.' }) subjectId: string,
    @Arg('purpose', () => String, { description: 'Purpose key.' }) purpose: string,
    @Ctx() ctx: Context,
  ) {
    return Object.assign(new EmailUnsubscribeHeaders(), await ctx.services.consentLinks.emailUnsubscribeHeaders(tenantCallerOf(ctx), subjectId, purpose));
  }

  @Mutation(() => SignedLink, { description: 'A signed, expiring (7 days) double opt-in confirmation link; opening it and confirming records consent with method DOUBLE_OPT_IN.' })
  async requestConsentConfirmation(
    @Arg('subjectId', () => ID, { description: 'The subject.' }) subjectId: string,
    @Arg('purpose', () => String, { description: 'Purpose key.' }) purpose: string,
    @Arg('channel', () => ChannelEnum, { description: 'Channel.' }) channel: Channel,
    @Ctx() ctx: Context,
  ) {
    return Object.assign(new SignedLink(), await ctx.services.consentLinks.requestConfirmation(tenantCallerOf(ctx), subjectId, purpose, channel));
  }

  @Mutation(() => PublicLinkResult, { description: 'Unsubscribe with a link token (for apps): the same as the public page. Public; a signed-in caller may only use tokens of its own tenant. Repeating it is harmless.' })
  async unsubscribe(@Arg('token', () => String, { description: 'The token of an unsubscribe link.' }) token: string, @Ctx() ctx: Context) {
    const tenantId = ctx.apiKey?.tenantId ?? ctx.viewer?.tenantId ?? null;
    const view = await ctx.services.consentLinks.unsubscribe(token, ctx.request, 'APP', tenantId);
    if (!view) throw notFoundBecause('This link is invalid or has expired');
    return linkResult(view);
  }
}

/** The retention periods in words, e.g. "data subjects: 365 days after their last change; data-access log: kept; closed requests: 30 days". */
function retentionText(r: RetentionPeriods): string {
  const days = (n: number | null, after: string) => (n === null ? 'kept' : `${n} day${n === 1 ? '' : 's'} ${after}`);
  return [
    `data subjects: ${days(r.subjectRetentionDays, 'after their last change')}`,
    `data-access log: ${days(r.accessLogRetentionDays, 'after recording')}`,
    `closed requests: ${days(r.requestRetentionDays, 'after closing')}`,
  ].join('; ');
}
