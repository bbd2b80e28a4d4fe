/**
 * One MCP session: an SDK `Server` answering `tools/list` and `tools/call` from the catalogue for
 * one connection (the stdio pipe, or one Streamable HTTP session). Who the caller is comes with
 * each request: on HTTP from its bearer token (put on the request's auth info), on stdio from
 * the gateway's configured identity.
 */

import type { AuthInfo } from "@modelcontextprotocol/sdk/server/auth/types.js";
import type { Server } from "@modelcontextprotocol/sdk/server/index.js";
import type { TraceHeaders } from "../metadata/headers.js";
import type { AccessPolicy, Caller } from "./access.js";
import type { Catalogue } from "./catalogue.js";
import { type Invoker, ProtocolError } from "./invoke.js";
import type { Sdk } from "./sdk.js";

export interface SessionDeps {
  sdk: Sdk;
  catalogue: Catalogue;
  invoker: Invoker;
  access: AccessPolicy;
  /** The server's name and version in `initialize`. */
  info: { name: string; version: string };
  transport: string;
  /** The caller of a request without auth info (stdio). */
  defaultCaller: () => Promise<Caller>;
}

/**
 * Auth info carrying the identified caller (HTTP), as the SDK passes it to handlers; and the
 * request's trace headers, which ride along because auth info is the one thing the SDK hands
 * from an HTTP request to the handlers of the messages it carried.
 */
export function authInfoFor(caller: Caller, trace?: TraceHeaders): AuthInfo {
  return { token: caller.token ?? "", clientId: caller.account?.id ?? "", scopes: caller.account?.scopes ?? [], extra: { caller, trace } };
}

function callerOf(authInfo: AuthInfo | undefined): Caller | undefined {
  return authInfo?.extra?.caller as Caller | undefined;
}

function traceOf(authInfo: AuthInfo | undefined): TraceHeaders | undefined {
  return authInfo?.extra?.trace as TraceHeaders | undefined;
}

/** A Server for one session; the catalogue's changes reach its client as `notifications/tools/list_changed`. */
export function createSession(deps: SessionDeps): Server {
  const { sdk, catalogue, invoker, access } = deps;
  const { ListToolsRequestSchema, CallToolRequestSchema, McpError } = sdk.types;
  const server = new sdk.server.Server(deps.info, { capabilities: { tools: { listChanged: true } } });
  const caller = async (authInfo: AuthInfo | undefined): Promise<Caller> => callerOf(authInfo) ?? (await deps.defaultCaller());

  server.setRequestHandler(ListToolsRequestSchema, async (_request, extra) => {
    const tools = await access.visible(catalogue.list(), await caller(extra.authInfo));
    return { tools: tools.map(({ name, description, inputSchema }) => ({ name, description, inputSchema })) };
  });

  server.setRequestHandler(CallToolRequestSchema, async (request, extra) => {
    const progressToken = request.params._meta?.progressToken;
    try {
      return await invoker.call(request.params.name, request.params.arguments, await caller(extra.authInfo), {
        transport: deps.transport,
        signal: extra.signal,
        trace: traceOf(extra.authInfo),
        progress:
          progressToken === undefined
            ? undefined
            : (n, message) =>
                extra.sendNotification({ method: "notifications/progress", params: { progressToken, progress: n, message: JSON.stringify(message) } }),
      });
    } catch (err) {
      if (err instanceof ProtocolError) throw new McpError(err.code, err.message);
      throw err;
    }
  });

  const unsubscribe = catalogue.onChange(() => {
    // Only a connected, initialized client is told; one that is gone is not an error here.
    server.sendToolListChanged().catch(() => {});
  });
  const onclose = server.onclose;
  server.onclose = () => {
    unsubscribe();
    onclose?.();
  };
  return server;
}
