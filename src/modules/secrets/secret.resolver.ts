import type { GraphQLResolveInfo, SelectionSetNode } from 'graphql';
import { Arg, Ctx, FieldResolver, Info, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import { tenantCallerOf, type Context } from '../../graphql/context.js';
import { encodeCursor } from './secret-query.service.js';
import {
  CreateSecretInput,
  RotationStatus,
  Secret,
  SecretConnection,
  SecretFilter,
  SecretVersion,
  SetSecretInput,
  SetSecretResult,
  UpdateSecretInput,
  toRotation,
  toSecret,
  toVersions,
} from './secret.types.js';
import type { SecretDoc } from './secret.document.js';
import type { SetSecretOutcome } from './secret.service.js';

/** Whether the field's selection asks for `field` (directly, or in a fragment; fragments are followed by name). */
function selects(info: GraphQLResolveInfo, field: string): boolean {
  const seen = new Set<string>();
  const walk = (set: SelectionSetNode | undefined): boolean =>
    !!set &&
    set.selections.some((s) => {
      if (s.kind === 'Field') return s.name.value === field;
      if (s.kind === 'InlineFragment') return walk(s.selectionSet);
      if (seen.has(s.name.value)) return false;
      seen.add(s.name.value);
      return walk(info.fragments[s.name.value]?.selectionSet);
    });
  return info.fieldNodes.some((node) => walk(node.selectionSet));
}

function secretOf(ctx: Context, doc: SecretDoc): Secret {
  return toSecret(doc, (deletedAt) => ctx.services.secretLifecycle.purgeAfter(deletedAt));
}

function resultOf(ctx: Context, outcome: SetSecretOutcome): SetSecretResult {
  return Object.assign(new SetSecretResult(), {
    name: outcome.name,
    line: outcome.line ?? null,
    ok: !outcome.error,
    created: outcome.created,
    secret: outcome.secret ? secretOf(ctx, outcome.secret) : null,
    errorCode: outcome.error?.code ?? null,
    errorMessage: outcome.error?.message ?? null,
  });
}

@Resolver(() => Secret)
export class SecretResolver {
  @Query(() => Secret, { nullable: true, description: 'A secret by name; null when it does not exist (or is another tenant\'s, or outside an API key\'s prefixes).' })
  async secret(@Arg('name', () => String, { description: 'The secret\'s name.' }) name: string, @Ctx() ctx: Context, @Info() info: GraphQLResolveInfo) {
    const doc = await ctx.services.secretQueries.get(tenantCallerOf(ctx), name, selects(info, 'value'));
    return doc ? secretOf(ctx, doc) : null;
  }

  @Query(() => SecretConnection.Connection, { description: 'Secrets in name order, filtered, with cursor pagination. Never decrypts anything.' })
  async secrets(
    @Arg('filter', () => SecretFilter, { nullable: true, description: 'Prefix, tags and status.' }) filter: SecretFilter | null,
    @Arg('first', () => Int, { nullable: true, description: 'Page size (default 50, at most 200).' }) first: number | null,
    @Arg('after', () => String, { nullable: true, description: 'endCursor of the previous page.' }) after: string | null,
    @Ctx() ctx: Context,
  ) {
    const page = await ctx.services.secretQueries.list(tenantCallerOf(ctx), filter ?? {}, first, after);
    const edges = page.docs.map((doc) => ({ cursor: encodeCursor(doc.name), node: secretOf(ctx, doc) }));
    return SecretConnection.of({
      edges,
      pageInfo: { hasNextPage: page.hasNextPage, endCursor: edges.at(-1)?.cursor ?? null },
      totalCount: page.totalCount,
    });
  }

  @Query(() => [Secret], { description: 'Live secrets whose rotation is due now or within the given number of days, soonest first.' })
  async secretsDueForRotation(
    @Arg('withinDays', () => Int, { nullable: true, description: 'Look this many days ahead (default 0: due now).' }) withinDays: number | null,
    @Ctx() ctx: Context,
  ) {
    return (await ctx.services.secretQueries.dueForRotation(tenantCallerOf(ctx), withinDays)).map((d) => secretOf(ctx, d));
  }

  @FieldResolver(() => String, {
    nullable: true,
    description: 'The plaintext value of the current or given version. The only way to a value; every read is written to the audit log.',
  })
  async value(@Root() secret: Secret, @Arg('version', () => Int, { nullable: true, description: 'A kept version (default: current).' }) version: number | null, @Ctx() ctx: Context) {
    return ctx.services.secretQueries.reveal(tenantCallerOf(ctx), secret.doc, version, ctx.revealBatch);
  }

  @FieldResolver(() => [SecretVersion], { description: 'Kept versions, newest first (metadata only).' })
  versions(@Root() secret: Secret) {
    return toVersions(secret.doc);
  }

  @FieldResolver(() => RotationStatus, { description: 'Rotation schedule and status.' })
  rotation(@Root() secret: Secret) {
    return toRotation(secret.doc);
  }

  @Mutation(() => Secret, { description: 'Create a secret (version 1).' })
  async createSecret(@Arg('input', () => CreateSecretInput, { description: 'Name, value and options.' }) input: CreateSecretInput, @Ctx() ctx: Context) {
    return secretOf(ctx, await ctx.services.secretWrites.create(tenantCallerOf(ctx), input));
  }

  @Mutation(() => Secret, { description: 'Change a secret. A new value makes a new version; expectedRevision (any change) or expectedVersion (a value-only write) gives check-and-set (CONFLICT on mismatch). Lowering maxVersions below the versions kept needs ADMIN.' })
  async updateSecret(@Arg('input', () => UpdateSecretInput, { description: 'What to change.' }) input: UpdateSecretInput, @Ctx() ctx: Context) {
    return secretOf(ctx, await ctx.services.secretWrites.update(tenantCallerOf(ctx), input));
  }

  @Mutation(() => Secret, { description: 'Soft-delete a secret: restorable during the recovery window (30 days by default), purged after.' })
  async deleteSecret(@Arg('name', () => String, { description: 'The secret.' }) name: string, @Ctx() ctx: Context) {
    return secretOf(ctx, await ctx.services.secretLifecycle.softDelete(tenantCallerOf(ctx), name));
  }

  @Mutation(() => Secret, { description: 'Undo a soft delete within the recovery window.' })
  async restoreSecret(@Arg('name', () => String, { description: 'The secret.' }) name: string, @Ctx() ctx: Context) {
    return secretOf(ctx, await ctx.services.secretLifecycle.restore(tenantCallerOf(ctx), name));
  }

  @Mutation(() => Secret, { description: 'Irreversibly destroy the ciphertext of some versions; their metadata remains.' })
  async destroySecretVersions(
    @Arg('name', () => String, { description: 'The secret.' }) name: string,
    @Arg('versions', () => [Int], { description: 'Version numbers to destroy.' }) versions: number[],
    @Ctx() ctx: Context,
  ) {
    return secretOf(ctx, await ctx.services.secretLifecycle.destroyVersions(tenantCallerOf(ctx), name, versions));
  }

  @Mutation(() => Boolean, { description: 'Permanently remove a soft-deleted secret and all its versions.' })
  async purgeSecret(@Arg('name', () => String, { description: 'The secret (must be deleted first).' }) name: string, @Ctx() ctx: Context) {
    return ctx.services.secretLifecycle.purge(tenantCallerOf(ctx), name);
  }

  @Mutation(() => [SetSecretResult], { description: 'Bulk upsert (≤ 100 items): each item is created or gets a new version; a result per item.' })
  async setSecrets(@Arg('items', () => [SetSecretInput], { description: 'Names, values and optional expected versions.' }) items: SetSecretInput[], @Ctx() ctx: Context) {
    return (await ctx.services.secretWrites.setMany(tenantCallerOf(ctx), items)).map((o) => resultOf(ctx, o));
  }

  @Mutation(() => [SetSecretResult], { description: 'Upsert every KEY=value of .env content as a secret named <prefix><KEY>; a result per variable, and one per line that is not an assignment (BAD_USER_INPUT, by line number, never its content).' })
  async importSecrets(
    @Arg('dotenv', () => String, { description: 'Content of a .env file.' }) dotenv: string,
    @Arg('prefix', () => String, { nullable: true, description: 'Name prefix, e.g. prod/api/.' }) prefix: string | null,
    @Ctx() ctx: Context,
  ) {
    return (await ctx.services.secretWrites.importDotenv(tenantCallerOf(ctx), dotenv, prefix)).map((o) => resultOf(ctx, o));
  }
}
