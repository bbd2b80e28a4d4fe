import { createService } from "ts-micro";
import { Helloworld } from "./handler.js";

// service.store is MICRO_STORE's store: by default files in the user's data directory, so notes
// survive a restart; MICRO_STORE=redis|postgres|nats (and MICRO_STORE_ADDRESS) need no code change.
const service = createService({ name: "helloworld", version: "0.1.0" });
service.handle(new Helloworld(service.store));
await service.run(); // until Ctrl-C or SIGTERM: then it deregisters and drains the calls in flight
