// The yardstick of `npm run bench`: the smallest NestJS app on Fastify, one route answering a small
// JSON, run as its own process like the service. The service's rate is reported relative to this
// one, measured in the same run on the same machine, so the ratio survives a noisy or slow host.
import 'reflect-metadata';
import { Controller, Get, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';

@Controller('bench')
class PingController {
  @Get('ping')
  ping(): { status: string } {
    return { status: 'ok' };
  }
}

@Module({ controllers: [PingController] })
class BareModule {}

async function main(): Promise<void> {
  const app = await NestFactory.create<NestFastifyApplication>(BareModule, new FastifyAdapter(), {
    logger: ['fatal', 'error', 'warn'],
  });
  await app.listen({ port: Number(process.env.PORT ?? 0), host: process.env.HOST ?? '127.0.0.1' });
  console.log(`bare endpoint listening on ${await app.getUrl()}`);
  process.once('SIGTERM', () => void app.close().then(() => process.exit(0)));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
