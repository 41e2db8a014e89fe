import { ROLES } from '../identity/roles.js';
import { domainEnum } from './enums.js';

export const RoleEnum = domainEnum(ROLES, {
  name: 'Role',
  description: 'A member\'s role in a tenant, highest first: OWNER > ADMIN > MANAGER > USER.',
  valuesConfig: {
    OWNER: { description: 'Everything, including granting OWNER. A tenant always keeps at least one.' },
    ADMIN: { description: 'Manages members (up to ADMIN), keys and destructive operations.' },
    MANAGER: { description: 'Creates and changes tenant data.' },
    USER: { description: 'Reads tenant data.' },
  },
});
