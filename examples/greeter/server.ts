/**
 * The greeter service. Run it with `npm start`, then from another terminal:
 *   npx micro call greeter Greeter.Hello '{"name":"Ada"}'
 */
import { createService } from "ts-micro";
import { Greeter, greeterEndpoints } from "./greeter.js";

const service = createService({ name: "greeter", version: "1.0.0" });
service.handle(new Greeter(), { endpoints: greeterEndpoints });
await service.run();
