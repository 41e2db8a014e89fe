import type {
  ConnectionCheckedInEvent,
  ConnectionCheckedOutEvent,
  ConnectionCheckOutFailedEvent,
  ConnectionClosedEvent,
  ConnectionCreatedEvent,
  MongoClient,
} from 'mongodb';
import type { CofferMetrics } from './metrics.js';

/**
 * Follows the driver's connection-pool (CMAP) events, which every MongoClient emits: connections
 * in use and available, checkout waits and failures. Server addresses are only keys here, never
 * labels. Connections opened before this started are learnt at their next check-in or checkout.
 * Returns a function that stops listening.
 */
export function followPool(client: MongoClient, metrics: CofferMetrics): () => void {
  const open = new Set<string>();
  const inUse = new Set<string>();
  const key = (event: { address: string; connectionId: number | '<monitor>' }) => `${event.address}#${String(event.connectionId)}`;
  const publish = () => metrics.poolConnectionsChanged(inUse.size, Math.max(0, open.size - inUse.size));

  const created = (event: ConnectionCreatedEvent) => {
    open.add(key(event));
    publish();
  };
  const closed = (event: ConnectionClosedEvent) => {
    open.delete(key(event));
    inUse.delete(key(event));
    publish();
  };
  const checkedOut = (event: ConnectionCheckedOutEvent) => {
    open.add(key(event));
    inUse.add(key(event));
    metrics.poolCheckedOut(event.durationMS / 1000);
    publish();
  };
  const checkedIn = (event: ConnectionCheckedInEvent) => {
    open.add(key(event));
    inUse.delete(key(event));
    publish();
  };
  const failed = (event: ConnectionCheckOutFailedEvent) => metrics.poolCheckoutFailed(String(event.reason), event.durationMS / 1000);

  client.on('connectionCreated', created);
  client.on('connectionClosed', closed);
  client.on('connectionCheckedOut', checkedOut);
  client.on('connectionCheckedIn', checkedIn);
  client.on('connectionCheckOutFailed', failed);
  return () => {
    client.off('connectionCreated', created);
    client.off('connectionClosed', closed);
    client.off('connectionCheckedOut', checkedOut);
    client.off('connectionCheckedIn', checkedIn);
    client.off('connectionCheckOutFailed', failed);
  };
}
