import { registerEnumType } from 'type-graphql';
/**
 * GraphQL enums are derived from the domain's const arrays (declared once, beside their
 * union type): `enumOf(ROLES)` is `{ OWNER: 'OWNER', … }`, ready for registerEnumType.
 */
export function enumOf<const T extends string>(values: readonly T[]): { [K in T]: K } {
  return Object.fromEntries(values.map((value) => [value, value])) as { [K in T]: K };
}

/**
 * A GraphQL enum for a domain const array, registered with a description for the enum and
 * for every value (the compiler asks for each one): `export const RoleEnum = domainEnum(ROLES, {...})`.
 */
export function domainEnum<const T extends string>(
  values: readonly T[],
  config: { name: string; description: string; valuesConfig: { [K in T]: { description: string } } },
): { [K in T]: K } {
  const graphqlEnum = enumOf(values);
  registerEnumType(graphqlEnum, config);
  return graphqlEnum;
}

/** `{ A: 'text' }` as the `valuesConfig` of domainEnum: `{ A: { description: 'text' } }`. */
export function describeEach<const T extends string>(descriptions: { [K in T]: string }): { [K in T]: { description: string } } {
  return Object.fromEntries(Object.entries<string>(descriptions).map(([value, description]) => [value, { description }])) as { [K in T]: { description: string } };
}
