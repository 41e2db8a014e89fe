import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import {
  isContactChannel,
  normaliseContactPoint,
  normaliseEmail,
  normalisePhone,
} from '../../src/modules/privacy/contact-points.js';

/** Runs `call`, expects a BAD_USER_INPUT AppError naming `field`, and returns it. */
function refusal(call: () => unknown, field: string): AppError {
  let outcome: unknown = 'returned';
  try {
    call();
  } catch (error) {
    outcome = error;
  }
  expect(outcome).toBeInstanceOf(AppError);
  const error = outcome as AppError;
  expect(error.code).toBe('BAD_USER_INPUT');
  expect(error.extensions.field).toBe(field);
  expect(error.message.startsWith(`${field}:`)).toBe(true);
  return error;
}

/** The error (message and extensions) must not contain the submitted value or its trimmed core. */
function expectNotQuoted(error: AppError, submitted: string): void {
  const shown = `${error.message} ${JSON.stringify(error.extensions)}`;
  const core = submitted.trim();
  if (core.length >= 3) {
    expect(shown).not.toContain(core);
    expect(shown.toLowerCase()).not.toContain(core.toLowerCase());
  }
}

describe('normaliseEmail', () => {
  it('trims surrounding whitespace and lower-cases the whole address', () => {
    expect(normaliseEmail('  Alice.Smith@Example.COM \n')).toBe('alice.smith@example.com');
    expect(normaliseEmail('BOB+News@Mail.Example.org')).toBe('bob+news@mail.example.org');
  });

  it('gives one canonical form for differently cased and padded spellings', () => {
    const forms = ['carol@example.com', 'CAROL@EXAMPLE.COM', ' Carol@Example.com', 'cArOl@eXaMpLe.CoM\t'];
    expect(new Set(forms.map((f) => normaliseEmail(f))).size).toBe(1);
  });

  it('composes Unicode to NFC so visually equal addresses normalise equally', () => {
    const decomposed = 'jose\u0301@example.com';
    const composed = 'jos\u00e9@example.com';
    expect(normaliseEmail(decomposed)).toBe(normaliseEmail(composed));
  });

  it('accepts internationalised addresses and RFC 5322 atext symbols', () => {
    expect(normaliseEmail('Ünïcödé@Exämple.de')).toBe('ünïcödé@exämple.de');
    expect(normaliseEmail("o'brien!#$%&*=?^_`{|}~-x@example.co.uk")).toBe("o'brien!#$%&*=?^_`{|}~-x@example.co.uk");
  });

  it.each([
    ['no at sign', 'alice.example.com'],
    ['two at signs', 'alice@bob@example.com'],
    ['empty local part', '@example.com'],
    ['empty domain', 'alice@'],
    ['domain without a dot', 'alice@localhost'],
    ['leading dot in local part', '.alice@example.com'],
    ['double dot in local part', 'al..ice@example.com'],
    ['trailing dot in local part', 'alice.@example.com'],
    ['double dot in domain', 'alice@example..com'],
    ['label starting with a hyphen', 'alice@-example.com'],
    ['numeric top-level label', 'alice@example.123'],
    ['inner whitespace', 'ali ce@example.com'],
    ['quoted local part', '"alice smith"@example.com'],
    ['display-name form', 'Alice <alice@example.com>'],
    ['NUL byte', 'alice\u0000@example.com'],
    ['IP literal domain', 'alice@[127.0.0.1]'],
  ])('refuses an address with %s', (_case, input) => {
    const error = refusal(() => normaliseEmail(input), 'email');
    expectNotQuoted(error, input);
  });

  it('refuses empty and whitespace-only input as empty', () => {
    expect(refusal(() => normaliseEmail('   '), 'email').message).toBe('email: must not be empty');
  });

  it('refuses over-long addresses and local parts', () => {
    refusal(() => normaliseEmail(`${'a'.repeat(65)}@example.com`), 'email');
    refusal(() => normaliseEmail(`a@${'b'.repeat(250)}.com`), 'email');
  });

  it('names the field it was given', () => {
    refusal(() => normaliseEmail('nope', 'input.contactEmail'), 'input.contactEmail');
  });

  it('never quotes the submitted value in any refusal', () => {
    for (const input of ['Secret.Person@@example.com', 'very-private-name', 'x'.repeat(300) + '@example.com']) {
      expectNotQuoted(refusal(() => normaliseEmail(input), 'email'), input);
    }
  });
});

describe('normalisePhone', () => {
  it('turns international forms into E.164', () => {
    expect(normalisePhone('+44 20 7946 0958')).toBe('+442079460958');
    expect(normalisePhone('  +1 (213) 373-4253 ')).toBe('+12133734253');
    expect(normalisePhone('+49 30 123456')).toBe('+4930123456');
  });

  it('reads national forms with a default region and gives the same E.164 as the international form', () => {
    expect(normalisePhone('020 7946 0958', { defaultRegion: 'GB' })).toBe('+442079460958');
    expect(normalisePhone('(213) 373-4253', { defaultRegion: 'US' })).toBe('+12133734253');
    expect(normalisePhone('030 123456', { defaultRegion: 'DE' })).toBe(normalisePhone('+49 30 123456'));
  });

  it("reads the region's international dialling prefix (00 in Germany)", () => {
    expect(normalisePhone('0044 20 7946 0958', { defaultRegion: 'DE' })).toBe('+442079460958');
  });

  it('prefers the explicit country code over the default region', () => {
    expect(normalisePhone('+44 20 7946 0958', { defaultRegion: 'US' })).toBe('+442079460958');
  });

  it('refuses a national form without a default region, asking for the international form', () => {
    const error = refusal(() => normalisePhone('020 7946 0958'), 'phone');
    expect(error.message).toContain('international form');
    expectNotQuoted(error, '020 7946 0958');
  });

  it.each([
    ['too short', '+44 20 7946 095'],
    ['an unassigned country code', '+999 123 456 789'],
    ['letters', 'call me maybe'],
    ['text around a number', 'call +44 20 7946 0958 now'],
    ['too few digits for the region', '12345'],
  ])('refuses a number that is %s', (_case, input) => {
    const error = refusal(() => normalisePhone(input, { defaultRegion: 'US' }), 'phone');
    expectNotQuoted(error, input);
  });

  it('refuses a number with an extension rather than silently dropping it', () => {
    const error = refusal(() => normalisePhone('+1 213 373 4253 ext. 12'), 'phone');
    expect(error.message).toBe('phone: must not include an extension');
  });

  it('refuses empty and over-long input', () => {
    refusal(() => normalisePhone('  '), 'phone');
    refusal(() => normalisePhone(`+44 ${'1'.repeat(80)}`), 'phone');
  });

  it('refuses an unknown default region, naming defaultRegion', () => {
    refusal(() => normalisePhone('020 7946 0958', { defaultRegion: 'XX' }), 'defaultRegion');
    refusal(() => normalisePhone('020 7946 0958', { defaultRegion: 'gb' }), 'defaultRegion');
  });

  it('names the field it was given', () => {
    refusal(() => normalisePhone('nope', { field: 'input.mobile' }), 'input.mobile');
  });

  it('never quotes the submitted value in any refusal', () => {
    for (const input of ['+44 20 7946 095', '+1 213 373 4253 ext. 99', '07700 900123']) {
      expectNotQuoted(refusal(() => normalisePhone(input), 'phone'), input);
    }
  });
});

describe('normaliseContactPoint', () => {
  it('dispatches on the channel', () => {
    expect(normaliseContactPoint('email', ' A@B.CO ')).toBe('a@b.co');
    expect(normaliseContactPoint('phone', '020 7946 0958', { defaultRegion: 'GB' })).toBe('+442079460958');
  });

  it('knows exactly the email and phone channels', () => {
    expect(isContactChannel('email')).toBe(true);
    expect(isContactChannel('phone')).toBe(true);
    expect(isContactChannel('sms')).toBe(false);
    expect(isContactChannel(undefined)).toBe(false);
  });
});
