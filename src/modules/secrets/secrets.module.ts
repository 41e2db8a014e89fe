import type { CofferModule } from '../module.js';
import { SECRETS_COLLECTION } from './secret.document.js';
import { SecretResolver } from './secret.resolver.js';
import { secretSealedData } from './secret.sealed-data.js';

/** The secret vault: envelope-encrypted, versioned secrets. */
export const secretsModule: CofferModule = {
  name: 'secrets',
  resolvers: [SecretResolver],
  collections: [
    {
      name: SECRETS_COLLECTION,
      indexes: [
        { key: { tenantId: 1, name: 1 }, name: 'tenant_name_unique', unique: true },
        { key: { tenantId: 1, rotationDueAt: 1 }, name: 'tenant_rotation_due' },
        { key: { tenantId: 1, deletedAt: 1 }, name: 'tenant_deleted' },
        { key: { tenantId: 1, _id: 1 }, name: 'tenant_id' },
        // The metrics gauges count secrets due for rotation or expired across tenants (observability/).
        { key: { deletedAt: 1, rotationDueAt: 1 }, name: 'deleted_rotation_due' },
        { key: { deletedAt: 1, expiresAt: 1 }, name: 'deleted_expires' },
        // The webhook scan's range over expiry dates (webhooks/webhook-scan.repository.ts).
        { key: { tenantId: 1, expiresAt: 1 }, name: 'tenant_expires' },
      ],
      tenantData: 'RECORDS',
    },
  ],
  // Secrets stay the first kind: re-encryption progress saved before kinds existed resumes in them.
  sealedData: [secretSealedData],
};
