/** Prints the README "Scaling" index list and shard keys, generated from the modules' declarations. */
import { indexTable, shardTable } from '../src/modules/index-catalogue.js';

process.stdout.write(`${indexTable()}\n\n${shardTable()}\n`);
