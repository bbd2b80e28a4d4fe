/** `ts-micro/gateway`: the HTTP API gateway (see docs/gateway.md). */
export { type CorsOptions, createGateway, type Gateway, type GatewayMount, type GatewayOptions, type RateLimitOptions } from "./gateway.js";
export { openApiFor } from "./openapi.js";
export { GATEWAY_ERROR_ID, httpStatusOf } from "./respond.js";
