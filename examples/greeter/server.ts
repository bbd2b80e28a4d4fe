/**
 * The greeter service. Run it with `npm start` (over gRPC: `MICRO_SERVER=grpc npm start`), then from another terminal:
 *   npx micro call greeter Greeter.Hello '{"name":"Ada"}'
 * Its greeting word comes from config (see config.ts): `GREETER_GREETING=Hi npm start`.
 */
import fs from "node:fs";
import { fileURLToPath } from "node:url";
import { createService } from "ts-micro";
import { loadGreeterConfig } from "./config.js";
import { Greeter, greeterEndpoints } from "./greeter.js";

const config = await loadGreeterConfig();
// With MICRO_SERVER=grpc the same handler is served over gRPC, its messages from greeter.proto.
const service = createService({ name: "greeter", version: "1.0.0", config, grpc: { proto: protoFile() } });
service.handle(new Greeter(() => config.string("greeting", "Hello")), { endpoints: greeterEndpoints });
config.watch("greeting", (greeting) => service.log.info("greeting changed", { greeting }));
await service.run();
await config.close();

/** greeter.proto: beside this file when run from source, in the source folder when run from dist/. */
function protoFile(): string {
  const beside = fileURLToPath(new URL("greeter.proto", import.meta.url));
  return fs.existsSync(beside) ? beside : fileURLToPath(new URL("../../../examples/greeter/greeter.proto", import.meta.url));
}
