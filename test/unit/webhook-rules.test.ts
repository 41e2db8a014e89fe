import { describe, expect, it } from 'vitest';
import { backoffMs } from '../../src/modules/webhooks/webhook-delivery.job.js';
import { deliveryId, eventId, outboxEvent } from '../../src/modules/webhooks/webhook-events.js';

describe('webhook backoff', () => {
  it('doubles from the base, is capped, and jitters between half and all of the wait', () => {
    expect(backoffMs(1, 1000, 60_000, () => 1)).toBe(1000);
    expect(backoffMs(1, 1000, 60_000, () => 0)).toBe(500);
    expect(backoffMs(2, 1000, 60_000, () => 1)).toBe(2000);
    expect(backoffMs(5, 1000, 60_000, () => 1)).toBe(16_000);
    expect(backoffMs(10, 1000, 60_000, () => 1)).toBe(60_000);
    expect(backoffMs(200, 1000, 60_000, () => 0)).toBe(30_000);
    for (let i = 0; i < 100; i += 1) {
      const wait = backoffMs(3, 1000, 60_000);
      expect(wait).toBeGreaterThanOrEqual(2000);
      expect(wait).toBeLessThanOrEqual(4000);
    }
  });
});

describe('webhook ids', () => {
  it('event ids are deterministic per (tenant, type, resource, period) and differ when any part does', () => {
    const id = eventId('t1', 'SECRET_EXPIRING', 's1', '2026-01-01T00:00:00.000Z');
    expect(id).toMatch(/^whevt_[0-9a-f]{32}$/);
    expect(eventId('t1', 'SECRET_EXPIRING', 's1', '2026-01-01T00:00:00.000Z')).toBe(id);
    for (const other of [
      eventId('t2', 'SECRET_EXPIRING', 's1', '2026-01-01T00:00:00.000Z'),
      eventId('t1', 'SECRET_EXPIRED', 's1', '2026-01-01T00:00:00.000Z'),
      eventId('t1', 'SECRET_EXPIRING', 's2', '2026-01-01T00:00:00.000Z'),
      eventId('t1', 'SECRET_EXPIRING', 's1', '2026-02-01T00:00:00.000Z'),
      eventId('t1', 'SECRET_EXPIRING', 's1\u00002026-01-01T00:00:00.000Z'),
    ]) expect(other).not.toBe(id);
    expect(deliveryId(id, 'wh_a')).toBe(deliveryId(id, 'wh_a'));
    expect(deliveryId(id, 'wh_a')).not.toBe(deliveryId(id, 'wh_b'));
  });

  it('the payload is { type, timestamp, data } with the event id in data', () => {
    const event = outboxEvent('whevt_x', 't1', 'DSR_OVERDUE', new Date('2026-03-01T00:00:00Z'), { requestId: 'r1', requestType: 'ACCESS', dueAt: '2026-02-01T00:00:00.000Z' });
    expect(JSON.parse(event.payload)).toEqual({ type: 'dsr.overdue', timestamp: '2026-03-01T00:00:00.000Z', data: { eventId: 'whevt_x', requestId: 'r1', requestType: 'ACCESS', dueAt: '2026-02-01T00:00:00.000Z' } });
  });
});
