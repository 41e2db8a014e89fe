import fc from 'fast-check';
import {
  isEnumType,
  isInputObjectType,
  isListType,
  isNonNullType,
  isScalarType,
  type GraphQLInputType,
} from 'graphql';

/**
 * Hostile values for one GraphQL input type, as fast-check arbitraries. Most values have
 * the right JSON type with hostile content (so they reach the resolvers' own validation);
 * some have the wrong type (so they exercise coercion and its error masking).
 */

/** A JSON object with an own property of any name (`__proto__` included, which a literal cannot make). */
export function ownProps(entries: [string, unknown][]): Record<string, unknown> {
  return Object.fromEntries(entries);
}

const LONG = 'x'.repeat(10_000);

/** Strings chosen by hand for what they do to parsers, databases, terminals and logs. */
export const HOSTILE_STRINGS: readonly string[] = [
  '',
  ' ',
  '\u0000',
  'nul\u0000byte',
  '$gt',
  '$where',
  '$expr',
  '$ne',
  '{"$gt": ""}',
  '{"$where": "sleep(5000) || true"}',
  '{"$expr": {"$eq": [1, 1]}}',
  "'; return true; var fuzz='",
  'this.password.match(/.*/)',
  '__proto__',
  'constructor',
  'prototype',
  '__proto__.polluted',
  'constructor.prototype.polluted',
  '\u202Eevil-rtl-override.exe',
  'rtl-\u2067isolate\u2069-mark\u200F',
  'zero\u200Bwidth\u200C\u200D\uFEFFjoiners',
  'lone-high-\uD800-surrogate',
  'lone-low-\uDFFF-surrogate',
  '\uDBFF',
  'combining\u0301\u0301\u0301\u0301\u0301\u0301\u0301\u0301',
  '../../../../etc/passwd',
  '%00%2e%2e%2f',
  '<script>alert("fuzz-xss")</script>',
  '${process.exit(1)}',
  '{{constructor.constructor("return process")()}}',
  'Robert"); DROP TABLE students;--',
  'line\r\nInjected-Header: fuzz',
  LONG,
  'é'.repeat(5_000),
  '🦄'.repeat(2_500),
  `prod/${'a'.repeat(300)}`,
  'prod//double-slash',
  '/leading-slash',
  'trailing/',
  '.',
  '..',
  '*',
  'OWNER',
  'NaN',
  'Infinity',
  '-1',
  '1e309',
  'null',
  'undefined',
  'true',
  '000000000000000000000000',
  'ffffffffffffffffffffffff',
  '00000000-0000-0000-0000-000000000000',
  'cof_',
  'cof_fuzz_not_a_key',
  'KEY=value\nOTHER=$gt\n\u0000=bad\n=novalue\nexport X="unterminated',
  'fuzz@example.com',
  'fuzz+$gt@example.com',
  '"quoted"@example.com',
  `${'a'.repeat(300)}@example.com`,
  'ünïcödé@exämple.com',
];

/** Values of the wrong JSON type, or shaped like MongoDB query operators and prototype keys. */
export const WRONG_TYPED: readonly unknown[] = [
  null,
  true,
  false,
  0,
  -1,
  1.5,
  1e308,
  -1e308,
  [],
  ['a', 'b'],
  {},
  { $gt: '' },
  { $ne: null },
  { $where: 'sleep(5000) || true' },
  { $expr: { $eq: [1, 1] } },
  { $regex: '.*' },
  ownProps([['__proto__', { polluted: true }]]),
  { constructor: { prototype: { polluted: true } } },
  [{ $gt: '' }],
];

export const HOSTILE_NUMBERS: readonly number[] = [
  0,
  -1,
  -0.5,
  0.5,
  1.000001,
  -2147483648,
  2147483647,
  2147483648,
  -2147483649,
  Number.MAX_SAFE_INTEGER,
  -Number.MAX_SAFE_INTEGER,
  1e21,
  1e308,
  -1e308,
  5e-324,
];

export const HOSTILE_DATES: readonly unknown[] = [
  '0000-00-00T00:00:00Z',
  '0000-01-01T00:00:00Z',
  '+275760-09-13T00:00:00.001Z',
  '-271821-04-20T00:00:00Z',
  '9999-12-31T23:59:60Z',
  '2024-02-30T00:00:00Z',
  '2024-13-01T00:00:00Z',
  '1970-01-01',
  '1969-12-31T23:59:59.999Z',
  '2000-01-01T25:61:61Z',
  '2030-01-01T00:00:00+99:99',
  'yesterday',
  '',
  8.64e15 + 1,
  -8.64e15 - 1,
  -1,
  1e21,
  { $date: '2030-01-01T00:00:00Z' },
];

/** JSON objects for JSONObject-like scalars: operator keys, prototype keys, depth and breadth. */
export function hostileObjects(): readonly unknown[] {
  let deep: Record<string, unknown> = { leaf: true };
  for (let i = 0; i < 1_000; i++) deep = { d: deep };
  const wide = Object.fromEntries(Array.from({ length: 5_000 }, (_, i) => [`k${i}`, i]));
  return [
    { $where: 'sleep(5000) || true' },
    { $gt: '' },
    { nested: { $expr: { $gt: ['$a', '$b'] } } },
    { 'dotted.key': 1 },
    { $set: { tenantId: 'other' } },
    ownProps([['__proto__', { polluted: true }]]),
    { constructor: { prototype: { polluted: true } } },
    { tenantId: '000000000000000000000000' },
    { _id: { $gt: '' } },
    deep,
    wide,
    { long: LONG },
    { '\u202Ertl': '\u200B' },
  ];
}

export function hostileString(): fc.Arbitrary<string> {
  return fc.oneof(
    { arbitrary: fc.constantFrom(...HOSTILE_STRINGS), weight: 6 },
    { arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 40 }), weight: 2 },
    { arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }), weight: 1 },
    {
      // Something valid-looking around one hostile character.
      arbitrary: fc
        .tuple(fc.constantFrom('prod/api/', 'KEY_', 'name', 'fuzz@example.com'), fc.constantFrom('\u202E', '\u200B', '\uD800', '\u0000', '$', '.', '/'))
        .map(([base, bad]) => `${base}${bad}${base}`),
      weight: 1,
    },
  );
}

function wrongTyped(): fc.Arbitrary<unknown> {
  return fc.constantFrom(...WRONG_TYPED);
}

function scalarValue(name: string): fc.Arbitrary<unknown> {
  switch (name) {
    case 'String':
    case 'ID':
      return fc.oneof({ arbitrary: hostileString(), weight: 5 }, { arbitrary: wrongTyped(), weight: 1 });
    case 'Int':
    case 'Float':
      return fc.oneof(
        { arbitrary: fc.constantFrom(...HOSTILE_NUMBERS), weight: 4 },
        { arbitrary: fc.integer(), weight: 1 },
        { arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }), weight: 1 },
        { arbitrary: fc.constantFrom<unknown>('1', '0x10', '', '1e3', { $gt: 0 }, [1], true), weight: 1 },
      );
    case 'Boolean':
      return fc.constantFrom<unknown>(true, false, 'true', 0, 1, { $ne: false }, []);
    default:
      if (/date|time/i.test(name)) return fc.oneof({ arbitrary: fc.constantFrom(...HOSTILE_DATES), weight: 4 }, { arbitrary: wrongTyped(), weight: 1 });
      if (/json|object/i.test(name)) return fc.oneof({ arbitrary: fc.constantFrom(...hostileObjects()), weight: 4 }, { arbitrary: wrongTyped(), weight: 1 });
      // An unknown custom scalar (added later): anything.
      return fc.oneof(hostileString(), wrongTyped(), fc.constantFrom(...HOSTILE_NUMBERS));
  }
}

const EXTRA_KEYS: readonly string[] = ['__proto__', 'constructor', '$where', '$gt', 'tenantId', '_id', 'fuzzUnknownField'];

/** An arbitrary hostile value for `type` (a variable's value, as JSON). */
export function valueFor(type: GraphQLInputType, depth = 0): fc.Arbitrary<unknown> {
  if (isNonNullType(type)) {
    return fc.oneof({ arbitrary: valueFor(type.ofType, depth), weight: 12 }, { arbitrary: fc.constant(null), weight: 1 });
  }
  if (isListType(type)) {
    const item = valueFor(type.ofType, depth + 1);
    return fc.oneof(
      { arbitrary: fc.array(item, { maxLength: depth > 1 ? 1 : 3 }), weight: 6 },
      { arbitrary: item, weight: 1 }, // a single value where a list is expected
      { arbitrary: fc.constant(Array.from({ length: 1_000 }, () => 'x')), weight: 1 },
    );
  }
  if (isInputObjectType(type)) {
    if (depth > 3) return fc.constant({});
    const fields = Object.values(type.getFields());
    const model: Record<string, fc.Arbitrary<unknown>> = {};
    for (const field of fields) model[field.name] = valueFor(field.type, depth + 1);
    const required = fields.filter((f) => isNonNullType(f.type)).map((f) => f.name);
    const base = fc.record(model, { requiredKeys: required });
    return fc.oneof(
      { arbitrary: base, weight: 8 },
      {
        arbitrary: fc
          .tuple(base, fc.constantFrom(...EXTRA_KEYS), fc.constantFrom<unknown>({ polluted: true }, { $gt: '' }, 'fuzz'))
          .map(([object, key, value]) => ownProps([...Object.entries(object), [key, value]])),
        weight: 2,
      },
      { arbitrary: wrongTyped(), weight: 1 },
    );
  }
  if (isEnumType(type)) {
    const names = type.getValues().map((v) => v.name);
    return fc.oneof(
      { arbitrary: fc.constantFrom(...names), weight: 3 },
      { arbitrary: fc.constantFrom<unknown>('owner', 'PLATFORM_ADMIN', '__proto__', '$gt', '', { $in: names }, 1), weight: 1 },
    );
  }
  if (isScalarType(type)) return scalarValue(type.name);
  return fc.oneof(hostileString(), wrongTyped());
}

/** Every string inside a value (keys excluded), to check none is echoed by an error. */
export function stringsIn(value: unknown, into: string[] = [], depth = 0): string[] {
  if (depth > 50) return into;
  if (typeof value === 'string') into.push(value);
  else if (Array.isArray(value)) for (const item of value) stringsIn(item, into, depth + 1);
  else if (value && typeof value === 'object') for (const item of Object.values(value)) stringsIn(item, into, depth + 1);
  return into;
}
