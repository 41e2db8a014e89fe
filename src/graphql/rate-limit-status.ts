import type { ApolloServerPlugin } from '@apollo/server';
import { ErrorCode } from '../errors.js';

/**
 * A GraphQL answer that carries a RATE_LIMITED error (an attempt budget refused inside a
 * resolver: login, signUp, refresh, ...) goes out as HTTP 429 with `Retry-After`, like a
 * request refused by the per-address budget before GraphQL: clients and proxies see one
 * signal whichever budget ran out. Retry-After is the longest `extensions.retryAfter`.
 */
export function rateLimitStatusPlugin<TContext extends object>(): ApolloServerPlugin<TContext> {
  return {
    async requestDidStart() {
      return {
        async willSendResponse({ response }) {
          if (response.body.kind !== 'single') return;
          const limited = (response.body.singleResult.errors ?? []).filter((e) => e.extensions?.code === ErrorCode.RATE_LIMITED);
          if (!limited.length) return;
          const retryAfter = Math.max(1, ...limited.map((e) => Number(e.extensions?.retryAfter) || 1));
          response.http.status = 429;
          response.http.headers.set('retry-after', String(retryAfter));
        },
      };
    },
  };
}
