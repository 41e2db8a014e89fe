import { suppressionHash } from '../privacy/blind-index.js';
import { openSubjectField } from '../privacy/subject-cipher.js';
import type { SubjectKeyStore } from '../privacy/subject-keys.js';
import type { DataSubjectDoc } from '../privacy/subject.document.js';
import type { SubjectRepository } from '../privacy/subject.repository.js';
import type { ConsentTenantKeys } from './consent-tenant-keys.js';
import { contactKindOf, type Channel } from './consent-vocab.js';

export interface SuppressionHashesDeps {
  subjectsOf: (tenantId: string) => SubjectRepository;
  keyStore: SubjectKeyStore;
  keys: ConsentTenantKeys;
}

/** A suppression entry: `<CHANNEL>:<purpose key or *>:<hash>`. */
export function entryOf(channel: Channel, purposeKey: string | null, hash: string): string {
  return `${channel}:${purposeKey ?? '*'}:${hash}`;
}

/** Suppression hashes of subjects' current contact points, under the tenant's suppression key. */
export class SuppressionHashes {
  constructor(private readonly deps: SuppressionHashesDeps) {}

  /** Suppression hashes of each live subject's current email and phone (keys read in one `$in`). */
  async contactHashes(tenantId: string, subjects: DataSubjectDoc[]): Promise<Map<string, { email: string | null; phone: string | null }>> {
    const out = new Map<string, { email: string | null; phone: string | null }>();
    const withContact = subjects.filter((s) => s.status === 'ACTIVE' && (s.sealed.email || s.sealed.phone));
    if (withContact.length === 0) return out;
    const repo = this.deps.subjectsOf(tenantId);
    const keys = await this.deps.keyStore.subjectKeys(repo, withContact.map((s) => ({ subjectId: s._id, keyId: s.keyId })));
    const supKey = await this.deps.keys.suppressionKey(tenantId);
    try {
      for (const s of withContact) {
        const key = keys.get(s._id);
        if (!key) continue;
        const open = (field: 'email' | 'phone') => (s.sealed[field] ? openSubjectField(key, { tenantId, subjectId: s._id, field }, Buffer.from(s.sealed[field]!.buffer)) : null);
        const email = open('email');
        const phone = open('phone');
        out.set(s._id, { email: email ? suppressionHash(supKey, 'email', email) : null, phone: phone ? suppressionHash(supKey, 'phone', phone) : null });
      }
    } finally {
      supKey.fill(0);
      for (const key of keys.values()) key.fill(0);
    }
    return out;
  }

  /** The suppression entry of the subject's current contact point for this channel (none when it has none). */
  async entriesOf(tenantId: string, subject: DataSubjectDoc, channel: Channel, purposeKey: string | null): Promise<string[]> {
    const kind = contactKindOf(channel);
    if (!kind) return [];
    const hash = (await this.contactHashes(tenantId, [subject])).get(subject._id)?.[kind];
    return hash ? [entryOf(channel, purposeKey, hash)] : [];
  }
}
