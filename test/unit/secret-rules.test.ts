import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import { scopePrefix, secretStatus, validName, withinPrefixes } from '../../src/modules/secrets/secret-rules.js';

describe('secret rules (pure)', () => {
  it('accepts path-like names and refuses dot segments and odd characters', () => {
    expect(validName('prod/db/password')).toBe('prod/db/password');
    for (const bad of ['prod/../x', './a', 'a b', 'a//b', '']) expect(() => validName(bad)).toThrow(AppError);
  });

  it('treats API-key prefixes as whole path segments', () => {
    expect(scopePrefix('prod/db')).toBe('prod/db/');
    expect(scopePrefix('*')).toBe('*');
    expect(withinPrefixes('prod/db/password', ['prod/db'])).toBe(true);
    expect(withinPrefixes('prod/dbadmin/password', ['prod/db'])).toBe(false);
    expect(withinPrefixes('anything', null)).toBe(true);
    expect(withinPrefixes('anything', ['*'])).toBe(true);
  });

  it('shows the first of DELETED, EXPIRED, ROTATION_DUE, ACTIVE', () => {
    const now = new Date('2026-01-10T00:00:00Z');
    const past = new Date('2026-01-01T00:00:00Z');
    const future = new Date('2026-02-01T00:00:00Z');
    expect(secretStatus({ deletedAt: past, expiresAt: past, rotationDueAt: past }, now)).toBe('DELETED');
    expect(secretStatus({ deletedAt: null, expiresAt: past, rotationDueAt: past }, now)).toBe('EXPIRED');
    expect(secretStatus({ deletedAt: null, expiresAt: null, rotationDueAt: past }, now)).toBe('ROTATION_DUE');
    expect(secretStatus({ deletedAt: null, expiresAt: future, rotationDueAt: future }, now)).toBe('ACTIVE');
  });
});
