import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { printCommittedSchema } from '../src/graphql/schema.js';

/** Regenerates schema/schema.graphql from the code (npm run schema). */
const target = fileURLToPath(new URL('../schema/schema.graphql', import.meta.url));
writeFileSync(target, await printCommittedSchema());
console.log(`wrote ${target}`);
