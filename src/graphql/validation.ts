import type { GraphQLFormattedError } from 'graphql';

interface ValidationIssue {
  property: string;
  constraints?: Record<string, string>;
  children?: ValidationIssue[];
}

function flatten(issues: ValidationIssue[], prefix: string): { field: string; message: string }[] {
  return issues.flatMap((issue) => {
    const field = prefix ? `${prefix}.${issue.property}` : issue.property;
    const own = Object.values(issue.constraints ?? {}).map((message) => ({ field, message }));
    return [...own, ...flatten(issue.children ?? [], field)];
  });
}

/**
 * type-graphql reports class-validator failures as "Argument Validation Error";
 * rewrite them so the message and extensions name each offending field.
 */
export function formatValidationError(formatted: GraphQLFormattedError): GraphQLFormattedError | null {
  const issues = formatted.extensions?.validationErrors as ValidationIssue[] | undefined;
  if (!Array.isArray(issues)) return null;
  const argument = String(formatted.path?.length ? '' : '');
  const fields = flatten(issues, argument);
  const inputPrefix = (name: string) => (name.includes('.') ? name : `input.${name}`);
  return {
    message: fields.map((f) => `${inputPrefix(f.field)}: ${f.message}`).join('; ') || 'Invalid input',
    locations: formatted.locations,
    path: formatted.path,
    extensions: {
      code: 'BAD_USER_INPUT',
      field: fields[0] ? inputPrefix(fields[0].field) : undefined,
      fields: fields.map((f) => ({ field: inputPrefix(f.field), message: f.message })),
    },
  };
}
