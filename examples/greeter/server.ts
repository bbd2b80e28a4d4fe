/**
 * The greeter service. Run it with `npm start`, then from another terminal:
 *   npx micro call greeter Greeter.Hello '{"name":"Ada"}'
 * Its greeting word comes from config (see config.ts): `GREETER_GREETING=Hi npm start`.
 */
import { createService } from "ts-micro";
import { loadGreeterConfig } from "./config.js";
import { Greeter, greeterEndpoints } from "./greeter.js";

const config = await loadGreeterConfig();
const service = createService({ name: "greeter", version: "1.0.0", config });
service.handle(new Greeter(() => config.string("greeting", "Hello")), { endpoints: greeterEndpoints });
config.watch("greeting", (greeting) => service.log.info("greeting changed", { greeting }));
await service.run();
await config.close();
