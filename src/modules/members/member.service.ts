import { randomUUID } from 'node:crypto';
import type { Logger } from '../../logger.js';
import type { AuditSink } from '../audit/audit-event.js';
import { auditEvent, userActor } from '../audit/audit-builder.js';
import { digestsEqual, randomToken, sha256Hex } from '../../crypto/random.js';
import { badInput, conflict, forbidden, notFound, unauthenticated } from '../../errors.js';
import type { AuthService } from '../auth/auth.service.js';
import { normaliseEmail, passwordProblem } from '../auth/password-policy.js';
import type { PasswordHasher } from '../auth/passwords.js';
import type { SessionGuard } from '../auth/session-guard.js';
import type { SessionRepository } from '../auth/session.repository.js';
import type { AuthPayloadData, SessionService } from '../auth/session.service.js';
import type { Throttle } from '../auth/throttle.js';
import { isDuplicateKey } from '../../db/mongo-errors.js';
import type { UserDoc, UserRepository } from '../auth/user.repository.js';
import { tenantIdOf, type Caller } from '../../identity/caller.js';
import type { TenantRepository } from '../tenants/tenant.repository.js';
import type { InvitationDirectory, InvitationDoc, InvitationRepository } from './invitation.repository.js';
import type { MembershipDoc, MembershipRepository } from '../tenants/membership.repository.js';
import { roleAtLeast, type Role } from '../../identity/roles.js';
import { clientBucket } from '../auth/client-bucket.js';

interface MemberDeps {
  membershipsOf: (tenantId: string) => MembershipRepository;
  invitationsOf: (tenantId: string) => InvitationRepository;
  invitationDirectory: InvitationDirectory;
  users: UserRepository;
  tenants: TenantRepository;
  sessions: SessionRepository;
  sessionService: SessionService;
  auth: AuthService;
  guard: SessionGuard;
  /** Drops cached API-key state of keys a member created, when their role changes. */
  forgetKeysOf: (tenantId: string, userId: string) => void;
  /** Revokes the API keys a member created, when they leave the tenant. */
  revokeKeysOf: (tenantId: string, userId: string) => Promise<number>;
  passwords: PasswordHasher;
  throttle: Throttle;
  logger: Logger;
  audit: AuditSink;
  invitationTtlHours: number;
}

export interface MemberView {
  user: UserDoc;
  role: Role;
  joinedAt: Date;
}

/** Invitation tokens are `inv_<invitation id>.<256 random bits>`. */
function parseInvitationToken(token: string): { id: string; secretHash: string } | null {
  const match = /^inv_([0-9a-f-]{36})\.([A-Za-z0-9_-]{43})$/.exec(token);
  return match ? { id: match[1]!, secretHash: sha256Hex(match[2]!) } : null;
}

/** Members of a tenant: listing, inviting, changing roles and removing. */
export class MemberService {
  constructor(private readonly deps: MemberDeps) {}

  async list(caller: Caller): Promise<MemberView[]> {
    const memberships = await this.deps.membershipsOf(tenantIdOf(caller)).list();
    const users = await this.deps.users.findManyByIds(memberships.map((m) => m.userId));
    const byId = new Map(users.map((u) => [u._id, u]));
    return memberships.flatMap((m) => {
      const user = byId.get(m.userId);
      return user ? [{ user, role: m.role, joinedAt: m.joinedAt }] : [];
    });
  }

  /** A member cannot grant a role above their own. */
  private assertCanGrant(caller: Caller, role: Role): void {
    if (!roleAtLeast(caller.role, role)) throw forbidden(`You cannot grant the ${role} role`);
  }

  async invite(caller: Caller, input: { email: string; role: Role }): Promise<{ invitation: InvitationDoc; token: string }> {
    const { request } = caller;
    const tenantId = tenantIdOf(caller);
    this.assertCanGrant(caller, input.role);
    const email = normaliseEmail(input.email);
    const existing = await this.deps.users.findByEmail(email);
    if (existing && (await this.deps.membershipsOf(tenantId).find(existing._id))) {
      throw conflict('That person is already a member');
    }
    const secret = randomToken(32);
    const now = new Date();
    const invitation = await this.deps.invitationsOf(tenantId).create({
      _id: randomUUID(),
      email,
      role: input.role,
      tokenHash: sha256Hex(secret),
      invitedBy: caller.actor.id,
      createdAt: now,
      expiresAt: new Date(now.getTime() + this.deps.invitationTtlHours * 3_600_000),
      acceptedAt: null,
      acceptedBy: null,
    });
    this.deps.logger.info({ event: 'member.invited', tenantId, invitationId: invitation._id, role: input.role, actorId: caller.actor.id }, 'member invited');
    await this.deps.audit.append(auditEvent('member.invited', { caller: { tenantId, actor: userActor(caller.actor.id), request }, resource: { id: invitation._id }, details: { role: input.role } }));
    return { invitation, token: `inv_${invitation._id}.${secret}` };
  }

  listInvitations(caller: Caller): Promise<InvitationDoc[]> {
    return this.deps.invitationsOf(tenantIdOf(caller)).listPending(new Date());
  }

  /**
   * Withdraws a pending invitation. As for members, nobody acts on what a member ranked
   * above them made (an ADMIN cannot revoke an OWNER's invitation); the refusal is audited.
   */
  async revokeInvitation(caller: Caller, id: string): Promise<boolean> {
    const { request } = caller;
    const tenantId = tenantIdOf(caller);
    const invitations = this.deps.invitationsOf(tenantId);
    const invitation = await invitations.findPending(id);
    if (!invitation) throw notFound('Invitation');
    const inviter = await this.deps.membershipsOf(tenantId).find(invitation.invitedBy);
    if (inviter && !roleAtLeast(caller.role, inviter.role)) {
      await this.deps.audit.append(
        auditEvent('permission.denied', { caller: { tenantId, actor: userActor(caller.actor.id), request }, resource: { type: 'INVITATION', id }, details: { needed: inviter.role, operation: 'revokeInvitation' }, outcome: 'DENIED' }),
      );
      throw forbidden(`You cannot revoke an invitation sent by a member with the ${inviter.role} role`);
    }
    if (!(await invitations.revoke(id))) throw notFound('Invitation');
    await this.deps.audit.append(auditEvent('invitation.revoked', { caller: { tenantId, actor: userActor(caller.actor.id), request }, resource: { id } }));
    return true;
  }

  /**
   * Accepts an invitation. A new user sets a password here. An existing account
   * must prove it is theirs (signed in as that user, or their current password),
   * so whoever holds the token cannot take over an existing account.
   */
  async accept(input: { token: string; password?: string | null }, caller: Caller): Promise<AuthPayloadData> {
    const { request } = caller;
    await this.deps.throttle.consume(`invitation:${clientBucket(request.ip)}`);
    const invalid = () => badInput('token', 'invitation is invalid, expired or already used');
    const parsed = parseInvitationToken(input.token);
    if (!parsed) throw invalid();
    const invitation = await this.deps.invitationDirectory.findById(parsed.id);
    const now = new Date();
    if (!invitation || !digestsEqual(invitation.tokenHash, parsed.secretHash)) throw invalid();
    if (invitation.acceptedAt || invitation.expiresAt <= now) throw invalid();
    const tenant = await this.deps.tenants.findById(invitation.tenantId);
    if (!tenant || tenant.status !== 'ACTIVE') throw invalid();
    // An invitation is only as good as its inviter: gone, no longer allowed to invite
    // (ADMIN+), or below the invited role, and it is void.
    const inviter = await this.deps.membershipsOf(tenant._id).find(invitation.invitedBy);
    if (!inviter || !roleAtLeast(inviter.role, 'ADMIN') || !roleAtLeast(inviter.role, invitation.role)) throw invalid();

    const existing = await this.deps.users.findByEmail(invitation.email);
    const user = existing
      ? await this.proveOwnership(existing, input.password ?? null, caller)
      : await this.prepareNewUser(invitation.email, input.password ?? null);

    const invitations = this.deps.invitationsOf(tenant._id);
    if (!(await invitations.claim(invitation._id, user.existing ? user.doc._id : null, now))) throw invalid();
    // Each step done is undone if a later one fails: nothing half-made stays behind.
    let created: UserDoc | undefined;
    let joined: string | undefined;
    let ownerAdded = false;
    try {
      const member = user.existing ? user.doc : (created = await this.createUser(invitation.email, user.passwordHash));
      if (!user.existing) await invitations.setAcceptedBy(invitation._id, member._id);
      await this.deps.membershipsOf(tenant._id).add(member._id, invitation.role);
      joined = member._id;
      if (invitation.role === 'OWNER') {
        await this.deps.tenants.addOwner(tenant._id);
        ownerAdded = true;
      }
      this.deps.logger.info({ event: 'member.joined', tenantId: tenant._id, userId: member._id, role: invitation.role }, 'invitation accepted');
      await this.deps.audit.append(auditEvent('member.joined', { caller: { tenantId: tenant._id, actor: userActor(member._id), request }, resource: { id: member._id }, details: { role: invitation.role, invitationId: invitation._id } }));
      return await this.deps.sessionService.start(member, tenant, invitation.role, request);
    } catch (error) {
      if (ownerAdded) await this.deps.tenants.releaseOwner(tenant._id);
      if (joined) await this.deps.membershipsOf(tenant._id).remove(joined, invitation.role);
      await invitations.release(invitation._id);
      if (created) await this.deps.users.delete(created._id);
      if (isDuplicateKey(error)) throw conflict('Already a member of this tenant');
      throw error;
    }
  }

  private async proveOwnership(user: UserDoc, password: string | null, caller: Caller) {
    const request = caller.request;
    if (caller.actor.type === 'USER' && caller.actor.id === user._id) return { existing: true as const, doc: user };
    if (!password) throw unauthenticated('This email already has an account: sign in as it or give its password');
    const verified = await this.deps.auth.verifyCredentials(user.email, password, request);
    // A password alone must not open a session of an account with a second factor.
    if (await this.deps.auth.secondFactorEnabled(verified._id)) {
      throw unauthenticated('This account uses a second factor: log in (completeLogin), then accept the invitation while signed in');
    }
    return { existing: true as const, doc: verified };
  }

  private async prepareNewUser(email: string, password: string | null) {
    if (!password) throw badInput('password', 'is required to create your account');
    const problem = passwordProblem(password, email);
    if (problem) throw badInput('password', problem);
    return { existing: false as const, passwordHash: await this.deps.passwords.hash(password) };
  }

  private async createUser(email: string, passwordHash: string): Promise<UserDoc> {
    try {
      return await this.deps.users.create(email, passwordHash);
    } catch (error) {
      if (isDuplicateKey(error)) throw conflict('An account with this email was just created; accept again signed in');
      throw error;
    }
  }

  /** Changes a member's role. Nobody acts on a member ranked above them, and the last OWNER stays. */
  async updateRole(caller: Caller, userId: string, role: Role): Promise<MemberView> {
    const { request } = caller;
    const tenantId = tenantIdOf(caller);
    const memberships = this.deps.membershipsOf(tenantId);
    const target = await this.targetMember(caller, memberships, userId);
    this.assertCanGrant(caller, role);
    if (target.role === role) return this.view(target);
    if (target.role === 'OWNER' && !(await this.deps.tenants.releaseOwner(tenantId))) {
      throw conflict('The last OWNER cannot be demoted');
    }
    if (!(await memberships.changeRole(userId, target.role, role))) {
      if (target.role === 'OWNER') await this.deps.tenants.addOwner(tenantId);
      throw conflict('The member changed meanwhile; try again');
    }
    if (role === 'OWNER') await this.deps.tenants.addOwner(tenantId);
    this.deps.guard.forget({ userId, tenantId });
    this.deps.forgetKeysOf(tenantId, userId);
    this.deps.logger.info({ event: 'member.role_changed', tenantId, userId, from: target.role, to: role, actorId: caller.actor.id }, 'member role changed');
    await this.deps.audit.append(auditEvent('member.role_changed', { caller: { tenantId, actor: userActor(caller.actor.id), request }, resource: { id: userId }, details: { from: target.role, to: role } }));
    return this.view({ ...target, role });
  }

  async remove(caller: Caller, userId: string): Promise<boolean> {
    const tenantId = tenantIdOf(caller);
    const target = await this.targetMember(caller, this.deps.membershipsOf(tenantId), userId);
    await this.removeMembership(caller, tenantId, target);
    return true;
  }

  /**
   * A user leaving a tenant because they delete their account (AccountClosureService): the
   * member-removal path with themselves as the actor. CONFLICT when they are its last OWNER.
   * Returns the API keys they had created there, now revoked.
   */
  async leave(caller: Caller, tenantId: string): Promise<number> {
    const target = await this.deps.membershipsOf(tenantId).find(caller.actor.id);
    if (!target) return 0;
    return this.removeMembership(caller, tenantId, target);
  }

  /** Removes a membership (the last OWNER stays), its sessions, invitations and API keys; audited. */
  private async removeMembership(caller: Caller, tenantId: string, target: MembershipDoc): Promise<number> {
    const { request } = caller;
    const { userId } = target;
    const memberships = this.deps.membershipsOf(tenantId);
    if (target.role === 'OWNER' && !(await this.deps.tenants.releaseOwner(tenantId))) {
      throw conflict('The last OWNER cannot be removed');
    }
    if (!(await memberships.remove(userId, target.role))) {
      if (target.role === 'OWNER') await this.deps.tenants.addOwner(tenantId);
      throw conflict('The member changed meanwhile; try again');
    }
    await this.deps.sessions.revokeAllOfUserInTenant(userId, tenantId, 'removed_from_tenant');
    await this.deps.invitationsOf(tenantId).revokeAllBy(userId);
    const keysRevoked = await this.deps.revokeKeysOf(tenantId, userId);
    this.deps.guard.forget({ userId, tenantId });
    this.deps.logger.info({ event: 'member.removed', tenantId, userId, actorId: caller.actor.id }, 'member removed');
    await this.deps.audit.append(auditEvent('member.removed', { caller: { tenantId, actor: userActor(caller.actor.id), request }, resource: { id: userId }, details: { role: target.role, apiKeysRevoked: keysRevoked } }));
    return keysRevoked;
  }

  private async targetMember(caller: Caller, memberships: MembershipRepository, userId: string): Promise<MembershipDoc> {
    const target = await memberships.find(userId);
    if (!target) throw notFound('Member');
    if (!roleAtLeast(caller.role, target.role)) throw forbidden(`You cannot change a member with the ${target.role} role`);
    return target;
  }

  private async view(membership: MembershipDoc): Promise<MemberView> {
    const user = await this.deps.users.findById(membership.userId);
    if (!user) throw notFound('Member');
    return { user, role: membership.role, joinedAt: membership.joinedAt };
  }
}
