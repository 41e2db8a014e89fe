import { Kind, type GraphQLResolveInfo, type SelectionNode } from 'graphql';
import { Arg, Ctx, ID, Info, Int, Mutation, Query, Resolver } from 'type-graphql';
import { tenantCallerOf, type Context } from '../../graphql/context.js';
import type { JsonObject } from './attributes.js';
import type { DsrView } from './dsr.service.js';
import type { ErasureReasonCode } from './erasure-receipt.js';
import {
  CreateDataSubjectRequestInput,
  DataSubjectRequest,
  DataSubjectRequestCompletion,
  DataSubjectRequestConnection,
  DataSubjectRequestExtension,
  DataSubjectRequestFilter,
} from './dsr.types.js';
import { ErasureReasonEnum, SubjectErasure, SubjectExport } from './subject.types.js';

const SEALED_FIELDS = new Set(['notes', 'rejectionReason', 'reason']);

/** Whether the query selects a sealed text (notes, reasons) anywhere; a fragment counts as yes. */
function selectsSealedText(info: GraphQLResolveInfo): boolean {
  const visit = (selections: readonly SelectionNode[]): boolean =>
    selections.some((s) => s.kind !== Kind.FIELD || SEALED_FIELDS.has(s.name.value) || visit(s.selectionSet?.selections ?? []));
  return visit(info.fieldNodes.flatMap((node) => node.selectionSet?.selections ?? []));
}

function toRequest(view: DsrView): DataSubjectRequest {
  return Object.assign(new DataSubjectRequest(), {
    ...view,
    extension: view.extension ? Object.assign(new DataSubjectRequestExtension(), view.extension) : null,
  });
}

@Resolver()
export class DsrResolver {
  @Mutation(() => DataSubjectRequest, { description: 'Record a data-subject request; its deadline is one GDPR month after receipt. Notes are sealed under the subject key.' })
  async createDataSubjectRequest(@Arg('input', () => CreateDataSubjectRequestInput, { description: 'The request as received.' }) input: CreateDataSubjectRequestInput, @Ctx() ctx: Context) {
    return toRequest(await ctx.services.dsr.create(tenantCallerOf(ctx), input));
  }

  @Query(() => DataSubjectRequestConnection.Connection, { description: 'Data-subject requests, earliest deadline first; filter by status, type, overdue or due within n days. Selecting notes or reasons decrypts them and logs the read.' })
  async dataSubjectRequests(
    @Arg('filter', () => DataSubjectRequestFilter, { nullable: true, description: 'Which requests.' }) filter: DataSubjectRequestFilter | null,
    @Arg('first', () => Int, { nullable: true, description: 'Page size (default 50, at most 100).' }) first: number | null,
    @Arg('after', () => String, { nullable: true, description: 'endCursor of the previous page.' }) after: string | null,
    @Ctx() ctx: Context,
    @Info() info: GraphQLResolveInfo,
  ) {
    const page = await ctx.services.dsr.list(tenantCallerOf(ctx), filter ?? {}, first, after, selectsSealedText(info));
    const edges = page.items.map((item) => ({ cursor: page.cursorOf(item), node: toRequest(item) }));
    return DataSubjectRequestConnection.of({ edges, pageInfo: { hasNextPage: page.hasNextPage, endCursor: edges.at(-1)?.cursor ?? null }, totalCount: page.totalCount });
  }

  @Mutation(() => DataSubjectRequest, { description: 'Start work on a request (RECEIVED → IN_PROGRESS); CONFLICT from any other status or when another caller moved it first.' })
  async startDataSubjectRequest(@Arg('id', () => ID, { description: 'The request.' }) id: string, @Ctx() ctx: Context) {
    return toRequest(await ctx.services.dsr.start(tenantCallerOf(ctx), id));
  }

  @Mutation(() => DataSubjectRequest, { description: 'Extend the deadline once (GDPR Art. 12(3)) by 1 or 2 further months, with a reason, before the original deadline.' })
  async extendDataSubjectRequest(
    @Arg('id', () => ID, { description: 'The request.' }) id: string,
    @Arg('reason', () => String, { description: 'Why (≤ 2000 characters; shared with the subject in its export; sealed under the subject key).' }) reason: string,
    @Arg('months', () => Int, { nullable: true, description: 'Further months, 1 or 2 (default 2).' }) months: number | null,
    @Ctx() ctx: Context,
  ) {
    return toRequest(await ctx.services.dsr.extend(tenantCallerOf(ctx), id, reason, months ?? 2));
  }

  @Mutation(() => DataSubjectRequestCompletion, { description: 'Complete a request in progress. ACCESS/PORTABILITY return the export (not stored); ERASURE erases the subject and keeps the signed receipt.' })
  async completeDataSubjectRequest(
    @Arg('id', () => ID, { description: 'The request.' }) id: string,
    @Arg('erasureReason', () => ErasureReasonEnum, { nullable: true, description: 'ERASURE only: the ground recorded in the receipt (default TENANT_DECISION).' }) erasureReason: ErasureReasonCode | null,
    @Ctx() ctx: Context,
  ) {
    const done = await ctx.services.dsr.complete(tenantCallerOf(ctx), id, erasureReason);
    return Object.assign(new DataSubjectRequestCompletion(), {
      request: toRequest(done.request),
      export: done.export
        ? Object.assign(new SubjectExport(), { format: done.export.document.format, version: done.export.document.version, fileName: done.export.fileName, document: done.export.document as unknown as JsonObject })
        : null,
      erasure: done.erasure ? Object.assign(new SubjectErasure(), done.erasure) : null,
    });
  }

  @Mutation(() => DataSubjectRequest, { description: 'Reject a request that is RECEIVED or IN_PROGRESS (Art. 12(5)), with a reason sealed under the subject key.' })
  async rejectDataSubjectRequest(
    @Arg('id', () => ID, { description: 'The request.' }) id: string,
    @Arg('reason', () => String, { description: 'Why (≤ 2000 characters; never logged or audited).' }) reason: string,
    @Ctx() ctx: Context,
  ) {
    return toRequest(await ctx.services.dsr.reject(tenantCallerOf(ctx), id, reason));
  }
}
