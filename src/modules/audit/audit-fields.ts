/**
 * The only kinds of value an audit event's `details` may hold. The audit chain is
 * immutable (an event can never be edited or erased without breaking it), so a
 * detail must never be able to carry personal data: no kind here is free text a
 * person typed about themselves. Each catalogue field (audit-catalogue.ts) is one
 * of these; its TypeScript type is derived from it, and the builder checks it at
 * run time too (audit-builder.ts).
 */

/** What a detail value is. */
export type FieldKind =
  /** An opaque id Coffer generated (user, session, invitation, key…): no meaning outside Coffer. */
  | 'id'
  /** One of a closed list of literals (roles, reasons, operation names). */
  | 'enum'
  /** A whole number ≥ 0 (versions, counts). */
  | 'count'
  /** true or false. */
  | 'boolean'
  /** An ISO-8601 UTC timestamp as Date#toISOString writes it. */
  | 'time'
  /** A name a tenant or operator gave a resource (secret names, API key names); `why` says why it is not personal data. */
  | 'name';

/**
 * One field of a catalogue entry. `T` is the value's TypeScript type and
 * `Optional` whether the field may be left out; both are carried for the type
 * system only (`type` is never set).
 */
export interface Field<T = unknown, Optional extends boolean = boolean> {
  readonly kind: FieldKind;
  readonly optional: Optional;
  /** A list of values of the kind (at most AUDIT_LIMITS.detailsArrayMax). */
  readonly list: boolean;
  /** The allowed literals of an `enum` field; null otherwise. */
  readonly values: readonly string[] | null;
  /** What the field records and, for `id` and `name`, why it is not personal data. */
  readonly why: string;
  /** Phantom: never set at run time. */
  readonly type?: T;
}

const field = <T>(kind: FieldKind, why: string, values: readonly string[] | null = null): Field<T, false> => ({ kind, optional: false, list: false, values, why });

/** An opaque Coffer-generated id. */
export const id = (why: string): Field<string, false> => field('id', why);
/** A whole number ≥ 0. */
export const count = (why: string): Field<number, false> => field('count', why);
/** A boolean. */
export const flag = (why: string): Field<boolean, false> => field('boolean', why);
/** An ISO-8601 UTC time (pass `date.toISOString()`). */
export const isoTime = (why: string): Field<string, false> => field('time', why);
/** A name a tenant or operator chose for a resource; `why` must say why it is not personal data. */
export const name = (why: string): Field<string, false> => field('name', why);
/** One of the given literals. */
export const oneOf = <const V extends readonly [string, ...string[]]>(values: V, why: string): Field<V[number], false> => field('enum', why, values);

/** A list of values of `item`'s kind. */
export const listOf = <T>(item: Field<T, false>): Field<readonly T[], false> => ({ ...item, list: true, type: undefined });
/** The same field, which may be left out. */
export const optional = <T>(item: Field<T, false>): Field<T, true> => ({ ...item, optional: true, type: undefined });

/** A catalogue entry's details: field name → field. */
export type FieldSpec = Readonly<Record<string, Field>>;

type ValueOf<F> = F extends Field<infer T, boolean> ? T : never;
type RequiredKeys<S> = { [K in keyof S]: S[K] extends Field<unknown, true> ? never : K }[keyof S];
type OptionalKeys<S> = { [K in keyof S]: S[K] extends Field<unknown, true> ? K : never }[keyof S];
type Flatten<T> = { [K in keyof T]: T[K] } & {};

/** No details at all: any key is refused (`{}` would accept anything). */
export type NoDetails = { readonly [key: string]: never };

/** The details object a spec allows: its required and optional fields, nothing else. */
export type DetailsOfSpec<S> = [keyof S] extends [never]
  ? NoDetails
  : Flatten<{ [K in RequiredKeys<S>]: ValueOf<S[K]> } & { [K in OptionalKeys<S>]?: ValueOf<S[K]> }>;

const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,199}$/;
const NAME_MAX = 1024;
const LIST_MAX = 100;

/** Why `value` does not fit `f` (a single value, not a list), or null when it does. */
function scalarProblem(f: Field, value: unknown): string | null {
  switch (f.kind) {
    case 'id':
      return typeof value === 'string' && ID.test(value) ? null : 'must be an opaque id';
    case 'enum':
      return typeof value === 'string' && f.values!.includes(value) ? null : `must be one of ${f.values!.join(', ')}`;
    case 'count':
      return Number.isSafeInteger(value) && (value as number) >= 0 ? null : 'must be a whole number ≥ 0';
    case 'boolean':
      return typeof value === 'boolean' ? null : 'must be a boolean';
    case 'time':
      return typeof value === 'string' && ISO_TIME.test(value) ? null : 'must be an ISO-8601 UTC time';
    case 'name':
      return typeof value === 'string' && value.length > 0 && value.length <= NAME_MAX ? null : `must be a name of 1 to ${NAME_MAX} characters`;
  }
}

/** Why `value` does not fit `f`, or null when it does. */
export function fieldProblem(f: Field, value: unknown): string | null {
  if (!f.list) return scalarProblem(f, value);
  if (!Array.isArray(value) || value.length > LIST_MAX) return `must be a list of at most ${LIST_MAX} values`;
  for (const [index, item] of value.entries()) {
    const problem = scalarProblem(f, item);
    if (problem) return `item ${index} ${problem}`;
  }
  return null;
}
