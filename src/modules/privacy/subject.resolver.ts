import { Kind, type GraphQLResolveInfo, type SelectionNode } from 'graphql';
import { Arg, Ctx, ID, Info, Int, Mutation, Query, Resolver } from 'type-graphql';
import { tenantCallerOf, type Context } from '../../graphql/context.js';
import type { JsonObject } from './attributes.js';
import type { ErasureReasonCode } from './erasure-receipt.js';
import type { SubjectPage, SubjectView } from './subject.service.js';
import type { ErasureOutcome } from './subject-erasure.service.js';
import { READABLE_FIELDS, type AccessLogDoc, type ReadableField } from './subject.document.js';
import {
  CreateDataSubjectInput,
  DataAccessEntryConnection,
  DataSubject,
  DataSubjectConnection,
  DataSubjectFilter,
  DataSubjectUpdate,
  DataAccessEntry,
  ErasureReasonEnum,
  ProcessingRestriction,
  SubjectErasure,
  SubjectExport,
  UpdateDataSubjectInput,
} from './subject.types.js';

/**
 * The personal fields a query selects under `path` (e.g. edges → node), so that only those are
 * decrypted and logged. A fragment makes it conservative: every personal field counts as read.
 */
function selectedFields(info: GraphQLResolveInfo, path: string[]): ReadableField[] {
  let selections: readonly SelectionNode[] = info.fieldNodes.flatMap((node) => node.selectionSet?.selections ?? []);
  for (const name of path) {
    if (selections.some((s) => s.kind !== Kind.FIELD)) return [...READABLE_FIELDS];
    selections = selections.flatMap((s) => (s.kind === Kind.FIELD && s.name.value === name ? (s.selectionSet?.selections ?? []) : []));
  }
  if (selections.some((s) => s.kind !== Kind.FIELD)) return [...READABLE_FIELDS];
  return READABLE_FIELDS.filter((field) => selections.some((s) => s.kind === Kind.FIELD && s.name.value === field));
}

function toSubject(view: SubjectView): DataSubject {
  return Object.assign(new DataSubject(), {
    id: view.id,
    externalId: view.externalId ?? null,
    email: view.email ?? null,
    phone: view.phone ?? null,
    fullName: view.fullName ?? null,
    attributes: view.attributes ?? null,
    identities: view.identities ?? null,
    restricted: view.restrictedSince !== null,
    restrictedSince: view.restrictedSince,
    createdAt: view.createdAt,
    updatedAt: view.updatedAt,
    revision: view.revision,
  });
}

const toErasure = (outcome: ErasureOutcome): SubjectErasure => Object.assign(new SubjectErasure(), outcome);

const toAccessEntry = (entry: AccessLogDoc): DataAccessEntry =>
  Object.assign(new DataAccessEntry(), {
    id: entry._id,
    at: entry.at,
    actorType: entry.actor.type,
    actorId: entry.actor.id,
    action: entry.action,
    fields: entry.fields,
    purpose: entry.purpose,
    ip: entry.ip,
    userAgent: entry.userAgent,
    requestId: entry.requestId,
  });

/** A service page as the connection of `Node`. */
function pageOf<T, TNode>(page: SubjectPage<T>, node: (item: T) => TNode) {
  const edges = page.items.map((item) => ({ cursor: page.cursorOf(item), node: node(item) }));
  return { edges, pageInfo: { hasNextPage: page.hasNextPage, endCursor: edges.at(-1)?.cursor ?? null }, totalCount: page.totalCount };
}

@Resolver()
export class SubjectResolver {
  @Mutation(() => DataSubject, { description: 'Create a data subject; personal fields are sealed under a new key of its own and blind-indexed for lookup.' })
  async createDataSubject(@Arg('input', () => CreateDataSubjectInput, { description: 'The subject\'s personal data.' }) input: CreateDataSubjectInput, @Ctx() ctx: Context) {
    return toSubject(await ctx.services.subjects.create(tenantCallerOf(ctx), input));
  }

  @Mutation(() => DataSubjectUpdate, { description: 'Rectify a data subject (refused while processing is restricted). Audited with the names of the fields changed, never their values.' })
  async updateDataSubject(@Arg('input', () => UpdateDataSubjectInput, { description: 'The subject and the fields to replace.' }) input: UpdateDataSubjectInput, @Ctx() ctx: Context) {
    return Object.assign(new DataSubjectUpdate(), await ctx.services.subjects.update(tenantCallerOf(ctx), input));
  }

  @Query(() => DataSubject, { description: 'A data subject. Only the personal fields selected are decrypted; the read is logged with its purpose. FORBIDDEN (reason RESTRICTED) while restricted, unless purpose is legal_claims.' })
  async dataSubject(
    @Arg('id', () => ID, { description: 'The subject.' }) id: string,
    @Arg('purpose', () => String, { description: 'Why the data is read: a short code such as support, billing or legal_claims (logged).' }) purpose: string,
    @Ctx() ctx: Context,
    @Info() info: GraphQLResolveInfo,
  ) {
    return toSubject(await ctx.services.subjects.read(tenantCallerOf(ctx), id, purpose, selectedFields(info, [])));
  }

  @Query(() => DataSubjectConnection.Connection, { description: 'Data subjects in id order, optionally found by exact email, phone, external id or identity (blind-index lookups). Reads are logged with their purpose.' })
  async dataSubjects(
    @Arg('purpose', () => String, { description: 'Why the data is read (logged).' }) purpose: string,
    @Arg('filter', () => DataSubjectFilter, { nullable: true, description: 'At most one exact-match criterion.' }) filter: DataSubjectFilter | null,
    @Arg('first', () => Int, { nullable: true, description: 'Page size (default 50, at most 100).' }) first: number | null,
    @Arg('after', () => String, { nullable: true, description: 'endCursor of the previous page.' }) after: string | null,
    @Ctx() ctx: Context,
    @Info() info: GraphQLResolveInfo,
  ) {
    const page = await ctx.services.subjects.list(tenantCallerOf(ctx), filter ?? {}, first, after, purpose, selectedFields(info, ['edges', 'node']));
    return DataSubjectConnection.of(pageOf(page, toSubject));
  }

  @Query(() => DataAccessEntryConnection.Connection, { description: 'Who read the subject\'s personal data, when, which fields and for what purpose; newest first.' })
  async dataAccessLog(
    @Arg('subjectId', () => ID, { description: 'The subject.' }) subjectId: string,
    @Arg('first', () => Int, { nullable: true, description: 'Page size (default 50, at most 200).' }) first: number | null,
    @Arg('after', () => String, { nullable: true, description: 'endCursor of the previous page.' }) after: string | null,
    @Ctx() ctx: Context,
  ) {
    const page = await ctx.services.subjects.accessLog(tenantCallerOf(ctx), subjectId, first, after);
    return DataAccessEntryConnection.of(pageOf(page, toAccessEntry));
  }

  @Mutation(() => ProcessingRestriction, { description: 'Restrict processing (GDPR Art. 18): ordinary reads and updates are refused until lifted; export and erasure still work.' })
  async restrictProcessing(
    @Arg('subjectId', () => ID, { description: 'The subject.' }) subjectId: string,
    @Arg('reason', () => String, { description: 'Why (≤ 500 characters; sealed under the subject key, never in the audit log).' }) reason: string,
    @Ctx() ctx: Context,
  ) {
    return Object.assign(new ProcessingRestriction(), await ctx.services.subjects.restrict(tenantCallerOf(ctx), subjectId, reason));
  }

  @Mutation(() => ProcessingRestriction, { description: 'Lift a restriction of processing.' })
  async liftRestriction(@Arg('subjectId', () => ID, { description: 'The subject.' }) subjectId: string, @Ctx() ctx: Context) {
    return Object.assign(new ProcessingRestriction(), await ctx.services.subjects.lift(tenantCallerOf(ctx), subjectId));
  }

  @Mutation(() => SubjectExport, { description: 'Export everything held about a subject (GDPR Art. 15, 20) as the versioned JSON document; logged and audited.' })
  async exportSubjectData(@Arg('subjectId', () => ID, { description: 'The subject.' }) subjectId: string, @Ctx() ctx: Context) {
    const { document, fileName } = await ctx.services.subjects.export(tenantCallerOf(ctx), subjectId);
    return Object.assign(new SubjectExport(), { format: document.format, version: document.version, fileName, document: document as unknown as JsonObject });
  }

  @Mutation(() => SubjectErasure, { description: 'Erase a subject by crypto-shredding: its key is destroyed first, then blind-index entries and records; a tombstone and a signed receipt remain. Idempotent and resumable.' })
  async eraseSubject(
    @Arg('subjectId', () => ID, { description: 'The subject.' }) subjectId: string,
    @Arg('reason', () => ErasureReasonEnum, { description: 'The ground for erasure (recorded in the receipt).' }) reason: ErasureReasonCode,
    @Ctx() ctx: Context,
  ) {
    return toErasure(await ctx.services.subjectErasure.erase(tenantCallerOf(ctx), subjectId, reason));
  }

  @Query(() => SubjectErasure, { description: 'The erasure of a subject and its signed receipt (finishing an interrupted erasure first).' })
  async erasureReceipt(@Arg('subjectId', () => ID, { description: 'The erased subject (tombstone id).' }) subjectId: string, @Ctx() ctx: Context) {
    return toErasure(await ctx.services.subjectErasure.receipt(tenantCallerOf(ctx), subjectId));
  }
}
