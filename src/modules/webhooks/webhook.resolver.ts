import { Arg, Ctx, ID, Int, Mutation, Query, Resolver } from 'type-graphql';
import { callerOf, type Context } from '../../graphql/context.js';
import {
  CreateWebhookInput,
  toDelivery,
  toWebhook,
  WebhookConnection,
  WebhookDelivery,
  WebhookDeliveryConnection,
  WebhookEndpoint,
  WebhookWithSecret,
} from './webhook.types.js';

@Resolver()
export class WebhookResolver {
  @Mutation(() => WebhookWithSecret, { description: 'Register a webhook. Its signing secret is returned here only, once.' })
  async createWebhook(@Arg('input', () => CreateWebhookInput, { description: 'URL, event types, description.' }) input: CreateWebhookInput, @Ctx() ctx: Context) {
    const { webhook, signingSecret } = await ctx.services.webhooks.create(callerOf(ctx), input);
    return Object.assign(new WebhookWithSecret(), { webhook: toWebhook(webhook), signingSecret });
  }

  @Query(() => WebhookConnection.Connection, { description: 'The tenant\'s webhooks, oldest first.' })
  async webhooks(
    @Arg('first', () => Int, { nullable: true, description: 'Page size (1–100, default 50).' }) first: number | null,
    @Arg('after', () => String, { nullable: true, description: 'endCursor of the previous page.' }) after: string | null,
    @Ctx() ctx: Context,
  ) {
    const page = await ctx.services.webhooks.list(callerOf(ctx), first, after);
    return WebhookConnection.of({ ...page, edges: page.edges.map((edge) => ({ cursor: edge.cursor, node: toWebhook(edge.node) })) });
  }

  @Mutation(() => WebhookEndpoint, { description: 'Stop deliveries to a webhook (queued ones are cancelled when due).' })
  async disableWebhook(@Arg('id', () => ID, { description: 'The webhook id.' }) id: string, @Ctx() ctx: Context) {
    return toWebhook(await ctx.services.webhooks.setEnabled(callerOf(ctx), id, false));
  }

  @Mutation(() => WebhookEndpoint, { description: 'Resume deliveries to a disabled webhook (for events from now on).' })
  async enableWebhook(@Arg('id', () => ID, { description: 'The webhook id.' }) id: string, @Ctx() ctx: Context) {
    return toWebhook(await ctx.services.webhooks.setEnabled(callerOf(ctx), id, true));
  }

  @Mutation(() => Boolean, { description: 'Delete a webhook and its delivery log.' })
  async deleteWebhook(@Arg('id', () => ID, { description: 'The webhook id.' }) id: string, @Ctx() ctx: Context) {
    return ctx.services.webhooks.delete(callerOf(ctx), id);
  }

  @Mutation(() => WebhookWithSecret, {
    description: 'Replace a webhook\'s signing secret; the new one is returned here only, once. During the grace period (WEBHOOK_SECRET_GRACE_HOURS) deliveries carry signatures under both.',
  })
  async rotateWebhookSecret(@Arg('id', () => ID, { description: 'The webhook id.' }) id: string, @Ctx() ctx: Context) {
    const { webhook, signingSecret } = await ctx.services.webhooks.rotateSecret(callerOf(ctx), id);
    return Object.assign(new WebhookWithSecret(), { webhook: toWebhook(webhook), signingSecret });
  }

  @Mutation(() => WebhookDelivery, {
    description: 'Send a given-up (FAILED) delivery again: back to PENDING with its attempts reset, due now, with the same webhook-id and a fresh signature. CONFLICT (extensions.reason NOT_FAILED, WEBHOOK_DISABLED or EXPIRED) otherwise.',
  })
  async retryWebhookDelivery(@Arg('id', () => ID, { description: 'The delivery id (msg_..., the webhook-id header).' }) id: string, @Ctx() ctx: Context) {
    return toDelivery(await ctx.services.webhooks.retryDelivery(callerOf(ctx), id));
  }

  @Query(() => WebhookDeliveryConnection.Connection, { description: 'A webhook\'s delivery log, newest first: status, attempts, HTTP status, timing, next retry (never the payload).' })
  async webhookDeliveries(
    @Arg('webhookId', () => ID, { description: 'The webhook id.' }) webhookId: string,
    @Arg('first', () => Int, { nullable: true, description: 'Page size (1–100, default 50).' }) first: number | null,
    @Arg('after', () => String, { nullable: true, description: 'endCursor of the previous page.' }) after: string | null,
    @Ctx() ctx: Context,
  ) {
    const page = await ctx.services.webhooks.deliveries(callerOf(ctx), webhookId, first, after);
    return WebhookDeliveryConnection.of({ ...page, edges: page.edges.map((edge) => ({ cursor: edge.cursor, node: toDelivery(edge.node) })) });
  }
}
