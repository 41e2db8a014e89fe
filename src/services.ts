import type { Db } from 'mongodb';
import type { Config } from './config.js';
import { TenantScope } from './db/tenant-scope.js';
import type { Services } from './graphql/context.js';
import type { Logger } from './logger.js';
import { AccountService } from './modules/auth/account.service.js';
import { AuthService } from './modules/auth/auth.service.js';
import { PasswordHasher } from './modules/auth/passwords.js';
import { SessionGuard } from './modules/auth/session-guard.js';
import { SessionRepository } from './modules/auth/session.repository.js';
import { SessionService } from './modules/auth/session.service.js';
import { Throttle } from './modules/auth/throttle.js';
import { TokenService } from './modules/auth/tokens.js';
import { UserRepository } from './modules/auth/user.repository.js';
import { InvitationDirectory, InvitationRepository } from './modules/members/invitation.repository.js';
import { MemberService } from './modules/members/member.service.js';
import { MembershipDirectory, MembershipRepository } from './modules/members/membership.repository.js';
import { TenantRepository } from './modules/tenants/tenant.repository.js';
import { TenantService } from './modules/tenants/tenant.service.js';

/** The composition root: every service gets its dependencies here, explicitly. */
export async function createServices({ config, db, logger }: { config: Config; db: Db; logger: Logger }) {
  const users = new UserRepository(db);
  const tenantRepository = new TenantRepository(db);
  const sessions = new SessionRepository(db);
  const membershipDirectory = new MembershipDirectory(db);
  const invitationDirectory = new InvitationDirectory(db);
  const membershipsOf = (tenantId: string) => new MembershipRepository(new TenantScope(db, tenantId));
  const invitationsOf = (tenantId: string) => new InvitationRepository(new TenantScope(db, tenantId));

  const tokens = await TokenService.create(config.jwt);
  const passwords = new PasswordHasher(config.passwords);
  const throttle = new Throttle(config.rateLimit.authAttemptsPerMinute);
  const guard = new SessionGuard({
    sessions,
    users,
    tenants: tenantRepository,
    memberships: membershipDirectory,
    cacheSeconds: config.sessions.revocationCheckSeconds,
  });
  const sessionService = new SessionService({
    sessions,
    tokens,
    logger,
    refreshTokenTtlDays: config.sessions.refreshTokenTtlDays,
  });
  const tenants = new TenantService({ tenants: tenantRepository, membershipsOf, guard, logger });
  const auth = new AuthService({
    users,
    tenants: tenantRepository,
    tenantService: tenants,
    memberships: membershipDirectory,
    sessions,
    sessionService,
    guard,
    passwords,
    throttle,
    logger,
    lockout: config.lockout,
  });
  const account = new AccountService({ users, sessions, auth, guard, passwords, throttle, logger });
  const members = new MemberService({
    membershipsOf,
    invitationsOf,
    invitationDirectory,
    users,
    tenants: tenantRepository,
    sessions,
    sessionService,
    auth,
    guard,
    passwords,
    throttle,
    logger,
    invitationTtlHours: config.invitationTtlHours,
  });

  const services: Services = { auth, account, members, tenants, users, tenantRepository, membershipDirectory };
  return { services, tokens, guard, passwords };
}
