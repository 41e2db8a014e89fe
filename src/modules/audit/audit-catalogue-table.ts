/**
 * The catalogue as a Markdown table, for README "The audit log"
 * (test/audit-catalogue.test.ts fails when the README's copy is stale).
 */
import { AUDIT_ACTIONS, AUDIT_CATALOGUE, actionEnumName, type CatalogueEntry } from './audit-catalogue.js';
import type { Field } from './audit-fields.js';

function fieldType(field: Field): string {
  const base = field.kind === 'enum' ? field.values!.map((value) => `\`${value}\``).join(' \\| ') : field.kind;
  return field.list ? `list of ${base}` : base;
}

function detailsCell(entry: CatalogueEntry): string {
  const fields = Object.entries(entry.details).map(([key, field]) => `\`${key}${field.optional ? '?' : ''}\`: ${fieldType(field)}`);
  return fields.length ? fields.join('; ') : '—';
}

/** One row per action: stored action, GraphQL enum value, resource type(s), details fields with their kinds. */
export function catalogueTable(): string {
  const rows = AUDIT_ACTIONS.map((action) => {
    const entry: CatalogueEntry = AUDIT_CATALOGUE[action];
    const resources = entry.resources.map((type) => `\`${type}\``).join(', ');
    return `| \`${action}\` | \`${actionEnumName(action)}\` | ${resources} | ${detailsCell(entry)} |`;
  });
  return ['| Action (stored) | `AuditAction` | Resource | Details |', '| --- | --- | --- | --- |', ...rows].join('\n');
}
