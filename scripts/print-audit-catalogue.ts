/** Prints the audit catalogue as the README's Markdown table (paste it under "The audit log"). */
import { catalogueTable } from '../src/modules/audit/audit-catalogue-table.js';

process.stdout.write(`${catalogueTable()}\n`);
