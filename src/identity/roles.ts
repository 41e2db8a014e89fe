/** Tenant roles, highest first: OWNER > ADMIN > MANAGER > USER. */
export const ROLES = ['OWNER', 'ADMIN', 'MANAGER', 'USER'] as const;
export type Role = (typeof ROLES)[number];

const RANK: Record<Role, number> = { USER: 1, MANAGER: 2, ADMIN: 3, OWNER: 4 };

export function roleAtLeast(role: Role | null | undefined, minimum: Role): boolean {
  return role != null && RANK[role] >= RANK[minimum];
}

export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (ROLES as readonly string[]).includes(value);
}
