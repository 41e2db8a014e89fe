/**
 * GraphQL enums are derived from the domain's const arrays (declared once, beside their
 * union type): `enumOf(ROLES)` is `{ OWNER: 'OWNER', … }`, ready for registerEnumType.
 */
export function enumOf<const T extends string>(values: readonly T[]): { [K in T]: K } {
  return Object.fromEntries(values.map((value) => [value, value])) as { [K in T]: K };
}
