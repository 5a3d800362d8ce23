import { Controller, Get, Headers, Query, Req, Res } from '@nestjs/common';
import { ApiHeader, ApiOkResponse, ApiOperation, ApiProduces, ApiQuery, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Ctx, RequestContext } from '../auth/auth.guard';
import { authorizeEverywhere } from '../auth/permissions';
import { Errors } from '../errors/errors';
import { KNOWN_EVENT_TYPES } from './event-types';
import { EventsStreamService, STREAM_HEADERS } from './events-stream.service';

/** At most this many types in `eventTypes`, each at most this long. */
const MAX_TYPES = 50;
const MAX_TYPE_LENGTH = 200;

/** Subscribers outside the service: the log as Server-Sent Events. */
@ApiTags('Events')
@Controller('v2/events')
export class EventsStreamController {
  constructor(private readonly streams: EventsStreamService) {}

  @Get('_stream')
  @ApiOperation({
    operationId: 'StreamEvents',
    summary: 'Stream committed events (Server-Sent Events)',
    description:
      'Replays the events after `Last-Event-ID` (from the first event without it), then sends new events as they are ' +
      'committed. Each event is a frame with `id:` its global position, `event:` its type and `data:` a JSON object ' +
      '(type, aggregateType, aggregateId, resourceOwner, sequence, creationDate, creator, correlationId, payload). ' +
      'Comment lines are sent as heartbeats (EVENTS_STREAM_HEARTBEAT_MS, default 15 s). A client that reconnects ' +
      'with the last id it received gets every later event exactly once. The stream ends when its token expires, ' +
      'with a last `event: token-expired` frame whose `id` to resume from. A caller may hold ' +
      'EVENTS_STREAM_MAX_PER_CALLER streams (default 5), all callers EVENTS_STREAM_MAX (200); one more answers 429 ' +
      'code 8. Needs the IAM_OWNER role.',
  })
  @ApiQuery({
    name: 'eventTypes',
    required: false,
    description: 'Comma-separated event types to send (all when absent)',
    example: 'user.human.mfa.otp.email.added,user.human.mfa.otp.email.removed',
  })
  @ApiHeader({ name: 'Last-Event-ID', required: false, description: 'Global position of the last event received' })
  @ApiProduces('text/event-stream')
  @ApiOkResponse({ description: 'An endless text/event-stream', schema: { type: 'string' } })
  stream(
    @Query('eventTypes') eventTypes: unknown,
    @Headers('last-event-id') lastEventId: unknown,
    @Ctx() { caller }: RequestContext,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ): void {
    const types = parseEventTypes(eventTypes);
    const after = parseLastEventId(lastEventId);
    authorizeEverywhere(caller, 'projection.admin');
    if (request.method === 'HEAD') {
      // A stream writes no body to HEAD, so it would never send its head either: answer the head alone.
      reply.code(200).headers(STREAM_HEADERS).send();
      return;
    }
    this.streams.admit(caller);
    // From here on the response is ours, written as the events come.
    const headers = reply.getHeaders();
    reply.hijack();
    this.streams.open({ id: request.id, url: request.originalUrl, headers }, reply.raw, after, types, caller);
  }
}

function parseEventTypes(value: unknown): ReadonlySet<string> | null {
  if (value === undefined) return null;
  const parts = [value]
    .flat()
    .flatMap((v) => String(v).split(','))
    .map((type) => type.trim());
  if (parts.some((type) => type === '' || type.length > MAX_TYPE_LENGTH) || parts.length > MAX_TYPES) {
    throw Errors.invalidArgument(
      `invalid eventTypes: must be up to ${MAX_TYPES} comma-separated event types of 1 to ${MAX_TYPE_LENGTH} characters`,
    );
  }
  // A misspelt type would otherwise filter out everything, silently.
  const unknown = parts.filter((type) => !KNOWN_EVENT_TYPES.has(type));
  if (unknown.length > 0) {
    throw Errors.invalidArgument(
      `invalid eventTypes: unknown event type ${unknown.join(', ')}; the types are ${[...KNOWN_EVENT_TYPES].join(', ')}`,
    );
  }
  return new Set(parts);
}

function parseLastEventId(value: unknown): number {
  if (value === undefined || value === '') return 0;
  const text = String(value).trim();
  if (!/^\d{1,15}$/.test(text)) {
    throw Errors.invalidArgument('invalid Last-Event-ID: must be the global position (a whole number) of an event received');
  }
  return Number(text);
}
