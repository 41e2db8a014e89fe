import type { ApolloServerPlugin, GraphQLRequestContext } from '@apollo/server';
import { Kind, type FragmentDefinitionNode, type GraphQLSchema, type OperationDefinitionNode, type SelectionSetNode } from 'graphql';
import type { CofferMetrics, OperationOutcome, OperationTypeLabel } from '../observability/metrics.js';

/**
 * GraphQL metrics (README "Monitoring"): operation and root-resolver durations and errors by code.
 * The operation NAME is the client's free text and is never used; an operation is labelled by
 * its type and its root field, checked against the schema (a finite set): `_multiple` when it
 * selects several, `_introspection` for introspection only, `_invalid` when it never resolved.
 */
export function metricsPlugin<C extends object>(metrics: CofferMetrics): ApolloServerPlugin<C> {
  return {
    async requestDidStart() {
      const started = process.hrtime.bigint();
      let operationType: OperationTypeLabel = 'unknown';
      let rootField = '_invalid';
      let resolved = false;
      return {
        async didResolveOperation(ctx) {
          if (!ctx.operation) return;
          resolved = true;
          operationType = ctx.operation.operation;
          rootField = rootFieldLabel(ctx.schema, ctx.operation, ctx.document.definitions.filter((d): d is FragmentDefinitionNode => d.kind === Kind.FRAGMENT_DEFINITION));
        },
        async executionDidStart() {
          return {
            willResolveField({ info }) {
              if (info.path.prev !== undefined) return undefined; // root fields only
              const fieldStarted = process.hrtime.bigint();
              const rootType = info.parentType === info.schema.getMutationType() ? 'mutation' : info.parentType === info.schema.getQueryType() ? 'query' : null;
              if (rootType === null) return undefined;
              const field = info.parentType.getFields()[info.fieldName] ? info.fieldName : '_invalid';
              return (error) => metrics.resolver(rootType, field, error ? 'error' : 'success', seconds(fieldStarted));
            },
          };
        },
        async willSendResponse(ctx: GraphQLRequestContext<C>) {
          const body = ctx.response.body;
          const errors = body?.kind === 'single' ? (body.singleResult.errors ?? []) : [];
          for (const error of errors) {
            const code = String(error.extensions?.code ?? 'OTHER');
            metrics.graphqlError(code);
            if (code === 'RATE_LIMITED') metrics.rateLimitRejection('auth');
          }
          const outcome: OperationOutcome = !resolved ? 'invalid' : errors.length > 0 ? 'error' : 'success';
          metrics.operation(operationType, resolved ? rootField : '_invalid', outcome, seconds(started));
        },
      };
    },
  };
}

function seconds(started: bigint): number {
  return Number(process.hrtime.bigint() - started) / 1e9;
}

/** The root field of a validated operation, as a label from a finite set (the schema's root fields plus three fixed values). */
export function rootFieldLabel(schema: GraphQLSchema, operation: OperationDefinitionNode, fragments: readonly FragmentDefinitionNode[]): string {
  const root = operation.operation === 'mutation' ? schema.getMutationType() : operation.operation === 'query' ? schema.getQueryType() : schema.getSubscriptionType();
  if (!root) return '_invalid';
  const names = new Set<string>();
  const visit = (set: SelectionSetNode, depth: number): void => {
    if (depth > 5) return;
    for (const selection of set.selections) {
      if (selection.kind === Kind.FIELD) names.add(selection.name.value);
      else if (selection.kind === Kind.INLINE_FRAGMENT) visit(selection.selectionSet, depth + 1);
      else {
        const fragment = fragments.find((f) => f.name.value === selection.name.value);
        if (fragment) visit(fragment.selectionSet, depth + 1);
      }
    }
  };
  visit(operation.selectionSet, 0);
  const fields = [...names].filter((name) => !name.startsWith('__'));
  if (fields.length === 0) return names.size > 0 ? '_introspection' : '_invalid';
  if (fields.length > 1) return '_multiple';
  return root.getFields()[fields[0]!] ? fields[0]! : '_invalid';
}
