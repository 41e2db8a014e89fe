import { GraphQLError, type ASTVisitor, type GraphQLFormattedError, type ValidationContext } from 'graphql';
import { getMetadataStorage } from 'type-graphql';

interface ValidationIssue {
  property: string;
  constraints?: Record<string, string>;
  children?: ValidationIssue[];
}

function flatten(issues: ValidationIssue[], prefix: string): { field: string; message: string }[] {
  return issues.flatMap((issue) => {
    const segment = /^\d+$/.test(issue.property) ? `[${issue.property}]` : issue.property;
    const field = !prefix ? segment : segment.startsWith('[') ? `${prefix}${segment}` : `${prefix}.${segment}`;
    const own = Object.values(issue.constraints ?? {}).map((message) => ({ field, message }));
    return [...own, ...flatten(issue.children ?? [], field)];
  });
}

/** The properties type-graphql knows on an input class, inherited ones included. */
function inputFields(type: Function): Set<string> {
  const storage = getMetadataStorage();
  const names = new Set<string>();
  for (let t: unknown = type; typeof t === 'function' && t !== Function.prototype; t = Object.getPrototypeOf(t)) {
    for (const field of storage.fields) if (field.target === t) names.add(field.name);
  }
  return names;
}

/**
 * The argument whose value failed validation. type-graphql's error does not say, so
 * it is looked up from the resolvers behind the failing field (the last name in
 * `path`): an input-object argument whose class declares every property that failed.
 * `path` holds response keys, so an alias may hide the field; then, or if more than
 * one argument fits, the answer is unknown (null) rather than a guess.
 */
function failedArgument(path: GraphQLFormattedError['path'], properties: string[]): string | null {
  const fieldName = [...(path ?? [])].reverse().find((key): key is string => typeof key === 'string');
  if (!fieldName || !properties.length) return null;
  const storage = getMetadataStorage();
  const handlers = [...storage.queries, ...storage.mutations, ...storage.subscriptions, ...storage.fieldResolvers].filter(
    (handler) => handler.schemaName === fieldName,
  );
  const names = new Set<string>();
  for (const handler of handlers) {
    for (const param of storage.params) {
      if (param.kind !== 'arg' || param.target !== handler.target || param.methodName !== handler.methodName) continue;
      const type: unknown = param.getType();
      if (typeof type !== 'function' || !storage.inputTypes.some((input) => input.target === type)) continue;
      const fields = inputFields(type);
      if (properties.every((property) => fields.has(property))) names.add(param.typeOptions.array ? `${param.name}[]` : param.name);
    }
  }
  return names.size === 1 ? [...names][0]! : null;
}

/**
 * type-graphql reports class-validator failures as "Argument Validation Error";
 * rewrite them so the message and extensions name each offending field: as
 * `<argument>.<property path>` when the argument is known (`items[]` for an item of a
 * list argument, whose index is not reported), else just the property path.
 */
export function formatValidationError(formatted: GraphQLFormattedError): GraphQLFormattedError | null {
  const issues = formatted.extensions?.validationErrors as ValidationIssue[] | undefined;
  if (!Array.isArray(issues)) return null;
  const argument = failedArgument(formatted.path, [...new Set(issues.map((issue) => issue.property))]);
  const fields = flatten(issues, '').map(({ field, message }) => ({
    field: argument ? `${argument}${field.startsWith('[') ? '' : '.'}${field}` : field,
    message,
  }));
  return {
    message: fields.map((f) => `${f.field}: ${f.message}`).join('; ') || 'Invalid input',
    locations: formatted.locations,
    path: formatted.path,
    extensions: {
      code: 'BAD_USER_INPUT',
      field: fields[0]?.field,
      fields,
    },
  };
}

/**
 * Refuses an operation whose root type the schema does not have (Coffer has no
 * subscriptions). graphql-js 16 leaves that to execution, which throws an error without
 * a code, so a client's `subscription { … }` would be answered INTERNAL_SERVER_ERROR.
 */
export function knownOperationTypes(context: ValidationContext): ASTVisitor {
  const schema = context.getSchema();
  return {
    OperationDefinition(node) {
      const root = node.operation === 'query' ? schema.getQueryType() : node.operation === 'mutation' ? schema.getMutationType() : schema.getSubscriptionType();
      if (!root) context.reportError(new GraphQLError(`This API has no ${node.operation} operations.`, { nodes: node }));
    },
  };
}
