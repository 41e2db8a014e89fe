import type { Channel, ContactReason } from './consent-vocab.js';
import type { LedgerRecordDoc, PurposeDoc } from './consent.document.js';

/**
 * Current state from a subject's ledger records (pure functions): the latest record wins, per
 * purpose × channel for consent and per channel (optionally per purpose) for opt-outs. Global
 * Privacy Control: a record carrying `gpc: true` (or a GPC signal) withdraws every purpose marked
 * honoursGpc until a later affirmative grant (granted, without GPC, not by method GPC).
 */

type Rec = Pick<LedgerRecordDoc, '_id' | 'seq' | 'kind' | 'purposeId' | 'purposeKey' | 'channel' | 'granted' | 'method' | 'noticeVersion' | 'gpc' | 'at'>;

const latest = <T extends { seq: number }>(items: T[]): T | null => items.reduce<T | null>((best, item) => (best === null || item.seq > best.seq ? item : best), null);

const affirmative = (r: Rec) => r.kind === 'CONSENT' && r.granted && !r.gpc && r.method !== 'GPC';

/** The seq of the latest GPC signal of the subject (0 when none). */
export function latestGpcSeq(records: Rec[]): number {
  return records.filter((r) => r.gpc || r.kind === 'GPC').reduce((max, r) => Math.max(max, r.seq), 0);
}

export interface ConsentEntryState {
  purposeId: string;
  purposeKey: string;
  channel: Channel;
  /** What the latest record says. */
  recordedGranted: boolean;
  /** What holds once GPC is applied. */
  granted: boolean;
  gpcOverride: boolean;
  noticeVersion: number | null;
  currentNoticeVersion: number;
  needsRenewal: boolean;
  lastRecord: Rec;
}

/** Whether GPC overrides consent to `purpose` on `channel` (the latest signal is later than the latest affirmative grant). */
export function gpcOverrides(records: Rec[], purpose: PurposeDoc, channel: Channel, extraSignal = false): boolean {
  if (!purpose.honoursGpc) return false;
  const signal = latestGpcSeq(records);
  const grant = latest(records.filter((r) => affirmative(r) && r.purposeId === purpose._id && r.channel === channel));
  if (extraSignal) return true; // a signal on this very check is later than any record
  return signal > 0 && signal > (grant?.seq ?? 0);
}

/** The state of each purpose × channel the subject has consent records for. */
export function consentEntries(records: Rec[], purposes: Map<string, PurposeDoc>): ConsentEntryState[] {
  const groups = new Map<string, Rec[]>();
  for (const r of records) {
    if (r.kind !== 'CONSENT' || !r.purposeId || !r.channel) continue;
    const key = `${r.purposeId}|${r.channel}`;
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  const out: ConsentEntryState[] = [];
  for (const group of groups.values()) {
    const last = latest(group)!;
    const purpose = purposes.get(last.purposeId!);
    if (!purpose) continue;
    const override = last.granted && gpcOverrides(records, purpose, last.channel!);
    const granted = last.granted && !override;
    out.push({
      purposeId: purpose._id,
      purposeKey: purpose.key,
      channel: last.channel!,
      recordedGranted: last.granted,
      granted,
      gpcOverride: override,
      noticeVersion: last.noticeVersion,
      currentNoticeVersion: purpose.currentNoticeVersion,
      needsRenewal: last.granted && (last.noticeVersion ?? 0) < purpose.currentNoticeVersion,
      lastRecord: last,
    });
  }
  return out.sort((a, b) => (a.purposeKey + a.channel < b.purposeKey + b.channel ? -1 : 1));
}

/** Whether the latest opt-out/opt-in for the channel (channel-wide, or for this purpose) is an opt-out. */
export function optedOut(records: Rec[], channel: Channel, purposeKey: string | null): boolean {
  const relevant = records.filter((r) => (r.kind === 'OPT_OUT' || r.kind === 'OPT_IN') && r.channel === channel);
  const wide = latest(relevant.filter((r) => r.purposeKey === null));
  const scoped = purposeKey === null ? null : latest(relevant.filter((r) => r.purposeKey === purposeKey));
  return wide?.kind === 'OPT_OUT' || scoped?.kind === 'OPT_OUT';
}

export interface SubjectFacts {
  status: 'ACTIVE' | 'ERASING' | 'ERASED' | 'UNKNOWN';
  restricted: boolean;
  suppressed: boolean;
}

/** The reasons a contact is not allowed (empty: allowed). */
export function contactReasons(facts: SubjectFacts, records: Rec[], purpose: PurposeDoc, channel: Channel, gpcSignal: boolean): ContactReason[] {
  if (facts.status === 'UNKNOWN') return facts.suppressed ? ['UNKNOWN_SUBJECT', 'SUPPRESSED'] : ['UNKNOWN_SUBJECT'];
  if (facts.status !== 'ACTIVE') return facts.suppressed ? ['ERASED', 'SUPPRESSED'] : ['ERASED'];
  const reasons: ContactReason[] = [];
  if (facts.restricted) reasons.push('RESTRICTED');
  if (optedOut(records, channel, purpose.key)) reasons.push('OPTED_OUT');
  if (facts.suppressed) reasons.push('SUPPRESSED');
  if (gpcOverrides(records, purpose, channel, gpcSignal)) reasons.push('GPC');
  if (purpose.legalBasis === 'CONSENT') {
    const last = latest(records.filter((r) => r.kind === 'CONSENT' && r.purposeId === purpose._id && r.channel === channel));
    if (!last) reasons.push('NO_CONSENT');
    else if (!last.granted) reasons.push('CONSENT_WITHDRAWN');
    else if ((last.noticeVersion ?? 0) < purpose.currentNoticeVersion) reasons.push('NOTICE_OUTDATED');
  }
  return reasons;
}
