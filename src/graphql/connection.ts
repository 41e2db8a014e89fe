import { Field, Int, ObjectType } from 'type-graphql';
import { PageInfo } from './pagination.js';

/** The descriptions a connection shows in the schema (each type documents its own). */
export interface ConnectionDescriptions {
  edge: string;
  cursor: string;
  node: string;
  connection: string;
  edges: string;
  pageInfo: string;
  totalCount: string;
}

/**
 * A page as services return it: nodes with their cursors, whether more follow, and the
 * total, given as a number or as a function counting it. A function runs only when the
 * query selects `totalCount` (at most once): a count is a scan of every match on some
 * engines (FerretDB v1 scans the collection), too dear to pay for a field nobody asked for.
 */
export interface Page<T> {
  edges: { cursor: string; node: T }[];
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
  totalCount: number | (() => Promise<number>);
}

/**
 * The Relay connection of a node type: `<name>Edge { cursor node }` and
 * `<name>Connection { edges pageInfo totalCount }`, plus `of(page)` building one.
 */
export function connectionOf<TNode extends object>(name: string, Node: new () => TNode, text: ConnectionDescriptions) {
  @ObjectType(`${name}Edge`, { description: text.edge })
  class Edge {
    @Field(() => String, { description: text.cursor })
    cursor!: string;

    @Field(() => Node, { description: text.node })
    node!: TNode;
  }

  @ObjectType(`${name}Connection`, { description: text.connection })
  class Connection {
    @Field(() => [Edge], { description: text.edges })
    edges!: Edge[];

    @Field(() => PageInfo, { description: text.pageInfo })
    pageInfo!: PageInfo;

    @Field(() => Int, { description: text.totalCount })
    totalCount!: number;
  }

  const of = (page: Page<TNode>): Connection => {
    const connection = Object.assign(new Connection(), {
      edges: page.edges.map((edge) => Object.assign(new Edge(), edge)),
      pageInfo: Object.assign(new PageInfo(), page.pageInfo),
    });
    const total = page.totalCount;
    if (typeof total === 'number') return Object.assign(connection, { totalCount: total });
    let counted: Promise<number> | undefined;
    // GraphQL awaits a promise-valued field; the getter runs only when totalCount is selected.
    Object.defineProperty(connection, 'totalCount', { enumerable: true, get: () => (counted ??= total()) });
    return connection;
  };
  return { Edge, Connection, of };
}
