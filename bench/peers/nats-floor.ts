/** The subject the NATS floor's server (servers/nats.ts) answers on and its client requests. */
export const NATS_FLOOR_SUBJECT = "bench.natsjs.echo";
