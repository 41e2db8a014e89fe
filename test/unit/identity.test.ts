import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import { inTenant, tenantIdOf } from '../../src/identity/caller.js';
import { apiKeyCaller, publicCaller, systemCaller, userCaller, userOf } from '../../src/identity/callers.js';
import { roleAtLeast } from '../../src/identity/roles.js';
import { enumOf } from '../../src/graphql/enums.js';

const request = { ip: '10.0.0.1', userAgent: 'test', requestId: 'r1' };

describe('identity (pure)', () => {
  it('ranks roles OWNER > ADMIN > MANAGER > USER', () => {
    expect(roleAtLeast('OWNER', 'ADMIN')).toBe(true);
    expect(roleAtLeast('MANAGER', 'ADMIN')).toBe(false);
    expect(roleAtLeast(null, 'USER')).toBe(false);
  });

  it('builds one Caller shape whoever authenticated', () => {
    const user = userCaller({ userId: 'u1', sessionId: 's1', tenantId: 't1', role: 'ADMIN', platformAdmin: false }, request);
    expect(user).toMatchObject({ actor: { type: 'USER', id: 'u1' }, tenantId: 't1', role: 'ADMIN', sessionId: 's1', request });
    expect(userOf(user)).toEqual({ userId: 'u1', sessionId: 's1', tenantId: 't1', role: 'ADMIN', platformAdmin: false });
    expect(user.scopes).toBeNull();
    const key = apiKeyCaller({ id: 'k1', tenantId: 't1', role: 'USER', prefixes: ['prod/'], scopes: ['SECRETS_READ'] }, request);
    expect(inTenant(key)).toMatchObject({ actor: { type: 'API_KEY', id: 'k1' }, prefixes: ['prod/'], scopes: ['SECRETS_READ'] });
    expect(tenantIdOf(systemCaller('cli:x', request, { tenantId: 't2', role: 'OWNER' }))).toBe('t2');
  });

  it('refuses tenant work without a tenant, and user work for other callers', () => {
    expect(() => inTenant(publicCaller(request))).toThrow(AppError);
    expect(() => userOf(apiKeyCaller({ id: 'k1', tenantId: 't1', role: 'USER', prefixes: null, scopes: ['SECRETS_READ'] }, request))).toThrow(AppError);
  });

  it('derives GraphQL enum objects from the const arrays', () => {
    expect(enumOf(['A', 'B'] as const)).toEqual({ A: 'A', B: 'B' });
  });
});
