import { isSupportedCountry, parsePhoneNumberFromString } from 'libphonenumber-js/max';
import { badInput } from '../../errors.js';

/**
 * Contact points of a data subject (email address, phone number), normalised to one
 * canonical string each, so that equal contact points always give equal blind indexes
 * and suppression hashes. Errors name the field and never quote what was submitted.
 */

/** The channels a contact point can belong to. */
export const CONTACT_CHANNELS = ['email', 'phone'] as const;
export type ContactChannel = (typeof CONTACT_CHANNELS)[number];

/** Whether `value` is one of CONTACT_CHANNELS. */
export function isContactChannel(value: unknown): value is ContactChannel {
  return typeof value === 'string' && (CONTACT_CHANNELS as readonly string[]).includes(value);
}

/** Limits of contact points, in one place (RFC 5321: 64-octet local part, 254-octet path). */
export const CONTACT_LIMITS = {
  emailMax: 254,
  emailLocalMax: 64,
  emailLabelMax: 63,
  /** Longer than any written phone number; checked before parsing so parsing stays cheap. */
  phoneInputMax: 64,
} as const;

// A local part is dot-separated atoms: ASCII letters, digits and RFC 5322 atext symbols,
// or any Unicode letter, mark or number (RFC 6531). Quoted local parts are refused.
const LOCAL_ATOM = /^[\p{L}\p{M}\p{N}!#$%&'*+/=?^_`{|}~-]+$/u;
// A domain label: letters, marks, digits and inner hyphens; the top-level label has a letter.
const DOMAIN_LABEL = /^[\p{L}\p{M}\p{N}](?:[\p{L}\p{M}\p{N}-]*[\p{L}\p{M}\p{N}])?$/u;
const HAS_LETTER = /\p{L}/u;

/**
 * An email address in canonical form: trimmed, Unicode NFC, lower-cased.
 * The whole address is lower-cased (including the local part): providers that treat
 * case as significant are vanishingly rare, and one canonical form is what makes
 * lookups and opt-outs reliable. Refuses anything not shaped like `local@domain.tld`.
 */
export function normaliseEmail(input: string, field = 'email'): string {
  const refuse = () => badInput(field, 'must be an email address of the form local-part@domain');
  if (typeof input !== 'string') throw refuse();
  const email = input.trim().normalize('NFC').toLowerCase();
  if (email.length === 0) throw badInput(field, 'must not be empty');
  if (email.length > CONTACT_LIMITS.emailMax) throw badInput(field, `must be at most ${CONTACT_LIMITS.emailMax} characters`);
  const at = email.lastIndexOf('@');
  if (at <= 0 || email.indexOf('@') !== at) throw refuse();
  const local = email.slice(0, at);
  const domain = email.slice(at + 1);
  if (local.length > CONTACT_LIMITS.emailLocalMax) throw refuse();
  if (!local.split('.').every((atom) => LOCAL_ATOM.test(atom))) throw refuse();
  const labels = domain.split('.');
  if (labels.length < 2) throw refuse();
  if (!labels.every((label) => label.length <= CONTACT_LIMITS.emailLabelMax && DOMAIN_LABEL.test(label))) throw refuse();
  if (!HAS_LETTER.test(labels[labels.length - 1] ?? '')) throw refuse();
  return email;
}

/** Options for normalisePhone. */
export interface PhoneOptions {
  /**
   * ISO 3166-1 alpha-2 region (e.g. 'GB') used to read numbers written without a
   * country code ("020 7946 0958"). Without it only international forms are accepted.
   */
  defaultRegion?: string | null;
  /** The input field to name in errors (default 'phone'). */
  field?: string;
}

/**
 * A phone number in E.164 (`+442079460958`), validated against the full numbering-plan
 * metadata. Accepts international forms (`+44 20 7946 0958`, `0044…` with a region whose
 * international prefix is 00) and, with `defaultRegion`, national forms. Refuses numbers
 * carrying an extension (E.164 cannot hold one, and dropping it silently would merge two
 * contact points) and text around a number.
 */
export function normalisePhone(input: string, options: PhoneOptions = {}): string {
  const field = options.field ?? 'phone';
  const region = options.defaultRegion ?? undefined;
  if (region !== undefined && !isSupportedCountry(region)) {
    throw badInput('defaultRegion', 'must be a supported ISO 3166-1 alpha-2 region code such as GB or US');
  }
  if (typeof input !== 'string') throw badInput(field, 'must be a phone number');
  const text = input.trim();
  if (text.length === 0) throw badInput(field, 'must not be empty');
  if (text.length > CONTACT_LIMITS.phoneInputMax) throw badInput(field, `must be at most ${CONTACT_LIMITS.phoneInputMax} characters`);
  const parsed = parsePhoneNumberFromString(text, { defaultCountry: region, extract: false });
  if (!parsed) {
    throw badInput(
      field,
      region
        ? 'must be a phone number, in international form (+44 20 7946 0958) or national form for the default region'
        : 'must be a phone number in international form, starting with + and the country code (e.g. +44 20 7946 0958)',
    );
  }
  if (parsed.ext) throw badInput(field, 'must not include an extension');
  if (!parsed.isValid()) throw badInput(field, 'is not a valid phone number for its country');
  return parsed.number;
}

/** Normalises a contact point of either channel (see normaliseEmail, normalisePhone). */
export function normaliseContactPoint(channel: ContactChannel, input: string, options: PhoneOptions = {}): string {
  return channel === 'email' ? normaliseEmail(input, options.field ?? 'email') : normalisePhone(input, options);
}
