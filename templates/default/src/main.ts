import { createService } from "ts-micro";
import { Helloworld } from "./handler.js";

const service = createService({ name: "helloworld", version: "0.1.0" });
service.handle(new Helloworld());
await service.run(); // until Ctrl-C or SIGTERM: then it deregisters and drains the calls in flight
