import { GraphQLError } from 'graphql';
import { MongoClient, MongoNetworkError, MongoServerError, MongoServerSelectionError } from 'mongodb';
import { describe, expect, it } from 'vitest';
import { isDatabaseUnavailable } from '../../src/db/mongo-errors.js';
import { maskError } from '../../src/graphql/errors.js';

describe('database unavailable → SERVICE_UNAVAILABLE', () => {
  it('recognises the driver errors of an unreachable database, also wrapped, and nothing else', () => {
    const network = new MongoNetworkError('connection 3 to 127.0.0.1:27017 closed');
    expect(isDatabaseUnavailable(network)).toBe(true);
    expect(isDatabaseUnavailable(new GraphQLError('wrapped', { originalError: network }))).toBe(true);
    expect(isDatabaseUnavailable(new Error('outer', { cause: network }))).toBe(true);
    expect(isDatabaseUnavailable(new MongoServerError({ message: 'E11000 duplicate key', code: 11000 }))).toBe(false);
    expect(isDatabaseUnavailable(new Error('a bug'))).toBe(false);
    expect(isDatabaseUnavailable(null)).toBe(false);
  });

  it('a real server-selection timeout (nothing listening) is masked as SERVICE_UNAVAILABLE, still reported for the logs', async () => {
    const client = new MongoClient('mongodb://127.0.0.1:9/', { serverSelectionTimeoutMS: 200, connectTimeoutMS: 200 });
    const error = await client.db('x').command({ ping: 1 }).catch((e: unknown) => e);
    await client.close();
    expect(error).toBeInstanceOf(MongoServerSelectionError);
    const reported: unknown[] = [];
    const shown = maskError({ message: String((error as Error).message), path: ['secret'], extensions: { code: 'INTERNAL_SERVER_ERROR' } }, error, (e) => reported.push(e));
    expect(shown.extensions).toEqual({ code: 'SERVICE_UNAVAILABLE' });
    expect(shown.message).not.toContain('127.0.0.1');
    expect(shown.path).toEqual(['secret']);
    expect(reported).toEqual([error]);
    // Anything else stays a bare internal error.
    const other = maskError({ message: 'boom', extensions: {} }, new Error('boom'), () => {});
    expect(other.extensions).toEqual({ code: 'INTERNAL_SERVER_ERROR' });
  });
});
