import type { TenantScope } from '../../db/tenant-scope.js';
import type { TenantCipher } from './tenant-cipher.js';

/** One stored item holding values sealed under tenant DEKs (a secret with its versions, a subject's key, ...). */
export interface SealedItem {
  _id: string;
}

/** One step of a walk: the items needing work, and where the next step starts (null: the walk is over). */
export interface SealedBatch<T extends SealedItem> {
  items: T[];
  next: string | null;
}

/**
 * A kind of data sealed under tenant DEKs, implemented by the module that owns it and
 * registered in the SealedDataRegistry. Key rotation, its progress and DEK retirement
 * walk every registered kind, so data of an unregistered kind would lose its DEK.
 *
 * Every function works inside one tenant's scope. Items are walked in `_id` order.
 * (Methods, not function properties: the registry holds kinds of different item types.)
 */
export interface SealedDataKind<T extends SealedItem = SealedItem> {
  /** Unique among registered kinds; stored as re-encryption progress, so keep it stable. */
  readonly name: string;
  /** The collection holding the items (for operators and logs). */
  readonly collection: string;
  /** How many live sealed values each DEK version holds (destroyed values excluded). */
  countByDek(scope: TenantScope): Promise<Map<number, number>>;
  /**
   * One batch of a walk over the tenant's items with `_id` > `cursor` (null: from the start),
   * looking at about `limit` items: those holding a live value sealed under a DEK version
   * other than `target`, in `_id` order, and the cursor to continue after.
   */
  staleAfter(scope: TenantScope, target: number, cursor: string | null, limit: number): Promise<SealedBatch<T>>;
  /** The item as stored now, or null when it is gone. */
  findOne(scope: TenantScope, id: string): Promise<T | null>;
  /**
   * Re-seals the item's values not on `target` with `cipher.reseal`, written back in one
   * compare-and-set against the item as read. Returns how many values it re-sealed
   * (0 when none needed it), or null when the item changed meanwhile (the caller re-reads it).
   */
  reseal(scope: TenantScope, item: T, target: number, cipher: TenantCipher): Promise<number | null>;
}

/** Every kind of data sealed under tenant DEKs, in registration order (the order rotation walks them). */
export class SealedDataRegistry {
  private readonly kinds: SealedDataKind[] = [];

  constructor(kinds: readonly SealedDataKind[] = []) {
    for (const kind of kinds) this.register(kind);
  }

  /** Adds a kind; a second kind with the same name is refused. */
  register(kind: SealedDataKind): this {
    if (this.kinds.some((k) => k.name === kind.name)) throw new Error(`sealed data kind "${kind.name}" is already registered`);
    this.kinds.push(kind);
    return this;
  }

  /** The registered kinds, in order. */
  list(): readonly SealedDataKind[] {
    return [...this.kinds];
  }

  /** Live sealed values per DEK version, summed over every kind. */
  async countByDek(scope: TenantScope): Promise<Map<number, number>> {
    const total = new Map<number, number>();
    for (const kind of this.kinds) {
      for (const [version, count] of await kind.countByDek(scope)) total.set(version, (total.get(version) ?? 0) + count);
    }
    return total;
  }
}
