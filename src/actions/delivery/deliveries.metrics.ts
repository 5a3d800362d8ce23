import { Counter, Gauge, Registry } from 'prom-client';
import { Clock } from '../../shared/clock';
import { DeliveryObserver } from './dispatcher';
import { OutboxStore } from './outbox.port';

/** The deliveries on /metrics, labelled by target id (names may change, ids do not). */
export class DeliveriesMetrics implements DeliveryObserver {
  private readonly deliveries: Counter<'target' | 'outcome'>;
  private readonly attempts: Counter<'target' | 'result'>;

  constructor(registry: Registry, outbox: OutboxStore, clock: Clock) {
    this.deliveries = new Counter({
      name: 'mfa_actions_deliveries_total',
      help: 'Deliveries to Actions targets that ended, by target and outcome (delivered, parked)',
      labelNames: ['target', 'outcome'],
      registers: [registry],
    });
    this.attempts = new Counter({
      name: 'mfa_actions_delivery_attempts_total',
      help: 'Requests made to Actions targets, by target and result (success, failure)',
      labelNames: ['target', 'result'],
      registers: [registry],
    });
    new Gauge({
      name: 'mfa_actions_oldest_pending_delivery_age_seconds',
      help: "Age of each target's oldest delivery that is still pending (0: none)",
      labelNames: ['target'],
      registers: [registry],
      async collect() {
        this.reset();
        const now = clock.now().getTime();
        for (const [target, oldest] of await outbox.oldestPending().catch(() => new Map<string, Date>())) {
          this.set({ target }, Math.max(0, (now - oldest.getTime()) / 1000));
        }
      },
    });
  }

  attempt(targetId: string, delivered: boolean): void {
    this.attempts.inc({ target: targetId, result: delivered ? 'success' : 'failure' });
  }

  finished(targetId: string, outcome: 'delivered' | 'parked'): void {
    this.deliveries.inc({ target: targetId, outcome });
  }
}
