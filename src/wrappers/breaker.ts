/**
 * A client circuit breaker per node and endpoint. It watches the outcome of every attempt and,
 * after `failures` consecutive failures of one endpoint on one node, opens that circuit in the
 * client's selector: the selector then leaves the node out of that endpoint's calls, and after
 * `openFor` admits one trial call at a time (half-open). A trial that succeeds closes the circuit;
 * one that fails opens it again for twice as long (up to `maxOpen`). When every node's circuit is
 * open, calls fail at once with a 503 that says when a trial will be let through.
 *
 * The selector's own ejection covers a node that fails as a whole (refused or dropped
 * connections, silence); the breaker adds what only the answers show: an endpoint that keeps
 * failing on a node that is otherwise up.
 */
import type { CallWrapper } from "../client/client.js";
import { MicroError } from "../errors/errors.js";
import type { CircuitState, Selector } from "../selector/selector.js";
import { ConnectionLostError, NotDeliveredError } from "../transport/transport.js";

export interface BreakerOptions {
  /** Consecutive failures of an endpoint on a node that open its circuit (default 5). */
  failures?: number;
  /** How long a circuit stays open before a trial call, in ms (default 5 s); doubles per failed trial. */
  openFor?: number;
  /** Longest a circuit stays open, in ms (default 60 s). */
  maxOpen?: number;
  /** Which errors are the node's failure (default: see `nodeFailure`). */
  isFailure?: (err: unknown) => boolean;
}

/**
 * The default failure test: the node could not be reached or lost the call, or answered 5xx or
 * 408. A 4xx answer (bad request, not found, 429) is the caller's problem: the node is working.
 */
export function nodeFailure(err: unknown): boolean {
  if (err instanceof NotDeliveredError || err instanceof ConnectionLostError) return true;
  return err instanceof MicroError && (err.code >= 500 || err.code === 408);
}

/** Failures since the last success, and how many times in a row the circuit opened. */
interface Streak {
  failures: number;
  trips: number;
}

export class CircuitBreaker {
  private readonly streaks = new Map<string, Streak>();
  private readonly threshold: number;
  private readonly openFor: number;
  private readonly maxOpen: number;
  private readonly isFailure: (err: unknown) => boolean;
  /** Times a circuit opened since the breaker was created. */
  opened = 0;

  constructor(
    private readonly selector: Selector,
    options: BreakerOptions = {},
  ) {
    this.threshold = Math.max(1, options.failures ?? 5);
    this.openFor = options.openFor ?? 5_000;
    this.maxOpen = options.maxOpen ?? 60_000;
    this.isFailure = options.isFailure ?? nodeFailure;
  }

  /** The call wrapper to give the client (`wrapCall`); it must wrap the client whose selector this is. */
  readonly wrapper: CallWrapper = (next) => (node, request, deadline, signal) =>
    next(node, request, deadline, signal).then(
      (value) => {
        this.succeeded(node.address, request.endpoint);
        return value;
      },
      (err: unknown) => {
        if (signal?.aborted) this.abandoned(node.address, request.endpoint);
        else if (this.isFailure(err)) this.failed(node.address, request.endpoint);
        else this.succeeded(node.address, request.endpoint);
        throw err;
      },
    );

  state(address: string, endpoint: string): CircuitState {
    return this.selector.circuit(address, endpoint);
  }

  private succeeded(address: string, endpoint: string): void {
    if (this.streaks.size === 0) return;
    const key = `${address} ${endpoint}`;
    if (!this.streaks.delete(key)) return;
    this.selector.closeCircuit(address, endpoint);
  }

  /** The caller gave up: the attempt says nothing about the node, but a trial must not stay in flight. */
  private abandoned(address: string, endpoint: string): void {
    if (this.selector.circuit(address, endpoint) === "half-open") this.selector.openCircuit(address, endpoint, 0);
  }

  private failed(address: string, endpoint: string): void {
    const key = `${address} ${endpoint}`;
    let streak = this.streaks.get(key);
    if (!streak) {
      streak = { failures: 0, trips: 0 };
      this.streaks.set(key, streak);
    }
    streak.failures++;
    const state = this.selector.circuit(address, endpoint);
    // Open already: a call sent before it opened came back late; it proves nothing new.
    if (state === "open" || (state === "closed" && streak.failures < this.threshold)) return;
    streak.trips++;
    this.opened++;
    this.selector.openCircuit(address, endpoint, Math.min(this.maxOpen, this.openFor * 2 ** (streak.trips - 1)));
  }
}
