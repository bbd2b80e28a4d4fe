/**
 * NestJS microservice on the TCP transport with one message handler, `echo`, listening on
 * BENCH_ADDRESS. Prints "READY <address>".
 *
 * Decorators are applied as plain functions, so the root tsconfig needs neither
 * experimentalDecorators nor emitDecoratorMetadata (nothing here is injected, so Nest needs no
 * design-time type metadata).
 */
import "reflect-metadata";
import { Controller, Module } from "@nestjs/common";
import { NestFactory } from "@nestjs/core";
import { MessagePattern, type MicroserviceOptions, Transport } from "@nestjs/microservices";

class EchoController {
  echo(data: unknown): unknown {
    return data;
  }
}
MessagePattern("echo")(EchoController.prototype, "echo", Object.getOwnPropertyDescriptor(EchoController.prototype, "echo")!);
Controller()(EchoController);

class AppModule {}
Module({ controllers: [EchoController] })(AppModule);

const address = process.env.BENCH_ADDRESS ?? "127.0.0.1:3000";
const [host, port] = address.split(":");
const app = await NestFactory.createMicroservice<MicroserviceOptions>(AppModule, {
  transport: Transport.TCP,
  options: { host, port: Number(port) },
  logger: false,
});
await app.listen();
process.stdout.write(`READY ${address}\n`);
process.on("SIGTERM", () => void app.close().then(() => process.exit(0)));
