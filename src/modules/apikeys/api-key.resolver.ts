import { Arg, Ctx, ID, Mutation, Query, Resolver } from 'type-graphql';
import { callerOf, type Context } from '../../graphql/context.js';
import { ApiKey, CreateApiKeyInput, CreatedApiKey, toApiKey } from './api-key.types.js';

@Resolver()
export class ApiKeyResolver {
  @Mutation(() => CreatedApiKey, { description: 'Create an API key. Two keys may be live at once, so a service can switch keys without downtime.' })
  async createApiKey(@Arg('input', () => CreateApiKeyInput, { description: 'Name, role, prefixes, expiry.' }) input: CreateApiKeyInput, @Ctx() ctx: Context) {
    const { doc, apiKey } = await ctx.services.apiKeys.create(callerOf(ctx), input);
    return Object.assign(new CreatedApiKey(), { apiKey, key: toApiKey(doc) });
  }

  @Query(() => [ApiKey], { description: 'Live (unrevoked) API keys of the current tenant, newest first.' })
  async apiKeys(@Ctx() ctx: Context) {
    return (await ctx.services.apiKeys.list(callerOf(ctx))).map(toApiKey);
  }

  @Mutation(() => Boolean, { description: 'Revoke an API key; it stops working within seconds.' })
  async revokeApiKey(@Arg('id', () => ID, { description: 'The key id.' }) id: string, @Ctx() ctx: Context) {
    return ctx.services.apiKeys.revoke(callerOf(ctx), id);
  }
}
