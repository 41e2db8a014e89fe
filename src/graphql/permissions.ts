import { allow, chain, deny, rule, shield, type IRules } from 'graphql-shield';
import { ROLES, roleAtLeast, type Role } from '../modules/members/roles.js';
import type { Context } from './context.js';
import { forbidden, unauthenticated } from './errors.js';

/**
 * Who may do what: the whole rule tree, readable top to bottom.
 * Anything not named here is denied (fallbackRule), and a denial is FORBIDDEN;
 * a missing or bad token is UNAUTHENTICATED.
 */

const isAuthenticated = rule({ cache: 'contextual' })((_parent, _args, ctx: Context) =>
  ctx.viewer ? true : unauthenticated(ctx.authError ?? 'Authentication required'),
);

const inTenant = rule({ cache: 'contextual' })((_parent, _args, ctx: Context) =>
  ctx.viewer?.tenantId ? true : forbidden('This operation needs a token scoped to a tenant'),
);

type ShieldRule = Parameters<typeof chain>[number];

function hasRole(minimum: Role) {
  return rule(`hasRole${minimum}`, { cache: 'contextual' })((_parent, _args, ctx: Context) => {
    if (roleAtLeast(ctx.viewer?.role, minimum)) return true;
    ctx.logger.info(
      { event: 'permission.denied', userId: ctx.viewer?.userId, tenantId: ctx.viewer?.tenantId, needed: minimum },
      'permission denied',
    );
    return forbidden(`Requires the ${minimum} role or higher`);
  });
}

/** One rule per role (shield needs each named rule defined once). */
const roleRules = new Map<Role, ShieldRule>(ROLES.map((role) => [role, chain(isAuthenticated, inTenant, hasRole(role))]));

/** Signed in, scoped to a tenant, with a role of `minimum` or higher there. */
const atLeast = (minimum: Role): ShieldRule => roleRules.get(minimum)!;

const isPlatformAdmin = chain(
  isAuthenticated,
  rule({ cache: 'contextual' })((_parent, _args, ctx: Context) =>
    ctx.viewer?.platformAdmin ? true : forbidden('Requires a platform administrator'),
  ),
);

export const permissionRules: IRules = {
  Query: {
    me: isAuthenticated,
    sessions: isAuthenticated,
    members: atLeast('USER'),
    invitations: atLeast('ADMIN'),
    tenants: isPlatformAdmin,
  },
  Mutation: {
    // Public: these establish identity.
    signUp: allow,
    login: allow,
    refreshToken: allow,
    acceptInvitation: allow,
    // The caller's own account and session.
    switchTenant: isAuthenticated,
    logout: isAuthenticated,
    changePassword: isAuthenticated,
    revokeSession: isAuthenticated,
    // Members of the current tenant.
    inviteMember: atLeast('ADMIN'),
    revokeInvitation: atLeast('ADMIN'),
    updateMemberRole: atLeast('ADMIN'),
    removeMember: atLeast('ADMIN'),
    // Platform administration.
    suspendTenant: isPlatformAdmin,
    reactivateTenant: isPlatformAdmin,
  },
  // Object types: reaching one already passed the rule of the operation that returned it.
  AuthPayload: allow,
  Viewer: allow,
  User: allow,
  Tenant: allow,
  Membership: allow,
  Member: allow,
  Invitation: allow,
  Session: allow,
};

export const permissions = shield(permissionRules, {
  fallbackRule: deny,
  fallbackError: () => forbidden('Not allowed'),
  allowExternalErrors: true,
  debug: false,
});
