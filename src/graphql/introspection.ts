import type { ApolloServerPlugin } from '@apollo/server';
import { GraphQLError, Kind, visit, type DocumentNode } from 'graphql';
import { ErrorCode } from '../errors.js';
import { roleAtLeast } from '../identity/roles.js';
import type { Context } from './context.js';

export const TWO_FACTOR_INTROSPECTION = 'Your role in this tenant requires a second factor before reading the schema: enrol with enrollTotp and confirmTotp, or log in again with your code';

export const INTROSPECTION_REFUSED = 'Introspection is allowed only to platform administrators and to OWNER or ADMIN tokens and API keys';

/** Whether the document asks for the schema: a `__schema` or `__type` field anywhere (any alias, operation or fragment). */
export function asksForSchema(document: DocumentNode): boolean {
  let found = false;
  visit(document, {
    [Kind.FIELD](node) {
      if (node.name.value === '__schema' || node.name.value === '__type') {
        found = true;
        return false;
      }
      return undefined;
    },
  });
  return found;
}

/** Who may read the schema: platform administrators, and users or API keys whose tenant role is ADMIN or OWNER. */
export function mayIntrospect(context: Pick<Context, 'viewer' | 'apiKey'>): boolean {
  const { viewer, apiKey } = context;
  if (viewer) return viewer.platformAdmin || roleAtLeast(viewer.role, 'ADMIN');
  if (apiKey) return roleAtLeast(apiKey.role, 'ADMIN');
  return false;
}

/**
 * Introspection by role. Apollo's `introspection` switch is all or nothing, so it stays on and
 * this plugin decides once the operation is parsed and validated, knowing the caller: a document
 * naming `__schema` or `__type` (aliased, in a fragment, anywhere) from anyone else is refused
 * (from a member the tenant's second-factor policy still blocks: TWO_FACTOR_REQUIRED, HTTP 403)
 * before execution with FORBIDDEN (HTTP 403) and no data. `open` (development with Sandbox)
 * lets everyone through.
 */
export function introspectionPlugin(open: boolean): ApolloServerPlugin<Context> {
  return {
    async requestDidStart() {
      if (open) return {};
      return {
        async didResolveOperation({ document, contextValue }) {
          if (!asksForSchema(document)) return;
          // The tenant's second-factor policy covers the schema too: no permission rule sees `__schema`.
          if (contextValue.viewer?.twoFactorRequired) {
            throw new GraphQLError(TWO_FACTOR_INTROSPECTION, { extensions: { code: ErrorCode.TWO_FACTOR_REQUIRED, http: { status: 403 } } });
          }
          if (mayIntrospect(contextValue)) return;
          throw new GraphQLError(INTROSPECTION_REFUSED, { extensions: { code: ErrorCode.FORBIDDEN, http: { status: 403 } } });
        },
      };
    },
  };
}
