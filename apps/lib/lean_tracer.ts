/**
 * The apps' tracer: the OpenTelemetry API's Tracer and Span, recording what
 * the SDK's would (sampler, span limits, W3C ids, span processors), with a
 * span that costs a fraction of the SDK's.
 *
 * Why not the SDK's Tracer (@opentelemetry/sdk-trace 3.x): measured under
 * load (README "Performance"), its spans were the largest allocation of an
 * instrumented request. Every attribute set runs the AnyValue check, which
 * allocates a WeakSet per value for cycle detection (2 KB a request, more
 * than all of Hono's routing); the start attributes are copied twice; each
 * span asks for two clock readings and keeps three HrTime arrays; and each
 * span starts and ends a self-observability metric. That garbage made the
 * young-generation pauses that set the instrumented p99.
 *
 * Here a span keeps its times as epoch milliseconds (HrTime is computed only
 * when a ReadableSpan consumer asks), string, number and boolean attributes
 * are checked and cut in place, and everything else (arrays, maps, bytes,
 * events, links) goes through the SDK's own functions in
 * @opentelemetry/core, so the rules are the SDK's. LeanSpan is also a
 * ReadableSpan: the SDK's span processors and exporters (the in-memory
 * exporter of the tests, the OTLP/JSON exporter) take it as they take theirs,
 * and tests/lean_tracer_test.ts checks through the real collector that both
 * tracers produce the same spans.
 */
import {
  type Attributes,
  type AttributeValue,
  type Context,
  context as apiContext,
  diag,
  type Exception,
  type HrTime,
  INVALID_SPAN_CONTEXT,
  type Link,
  SamplingDecision,
  type Span,
  type SpanAttributes,
  type SpanContext,
  SpanKind,
  type SpanOptions,
  type SpanStatus,
  SpanStatusCode,
  type TimeInput,
  trace,
  TraceFlags,
  type Tracer,
} from "@opentelemetry/api";
import {
  AddAttributeDecision,
  cleanAttributes,
  cleanSimpleAttributes,
  isTimeInput,
  isTimeInputHrTime,
  isTracingSuppressed,
  maybeAddAttribute,
  millisToHrTime,
} from "@opentelemetry/core";
import type { Resource } from "@opentelemetry/resources";
import type {
  ReadableSpan,
  Sampler,
  SpanLimits,
  SpanProcessor,
  TimedEvent,
} from "@opentelemetry/sdk-trace";
import {
  ATTR_EXCEPTION_MESSAGE,
  ATTR_EXCEPTION_STACKTRACE,
  ATTR_EXCEPTION_TYPE,
} from "@opentelemetry/semantic-conventions";

/** What the tracer needs for ids (otel_setup.ts FastIdGenerator). */
export interface IdGenerator {
  generateTraceId(): string;
  generateSpanId(): string;
}

/** Span limits with every field given (otel_setup.ts spanLimitsFromEnv). */
export type FullSpanLimits = Required<
  Pick<
    SpanLimits,
    | "attributeValueLengthLimit"
    | "attributeCountLimit"
    | "eventCountLimit"
    | "linkCountLimit"
    | "attributePerEventCountLimit"
    | "attributePerLinkCountLimit"
  >
>;

export interface LeanTracerConfig {
  resource: Resource;
  sampler: Sampler;
  spanLimits: FullSpanLimits;
  idGenerator: IdGenerator;
  spanProcessors: SpanProcessor[];
}

/** What an app holds of a tracer provider: tracers, a flush and a shutdown. */
export interface TracerProviderLike {
  getTracer(name: string, version?: string): Tracer;
  forceFlush(): Promise<void>;
  shutdown(): Promise<void>;
}

/** The epoch time of performance.now() = 0; a span's times are this plus performance.now(). */
const TIME_ORIGIN = performance.timeOrigin;

/** A TimeInput (epoch or performance ms, Date, HrTime) as epoch milliseconds. */
function timeInputMs(t: TimeInput): number {
  if (typeof t === "number") {
    // As the SDK: a number not later than performance.now() is a performance time.
    return t <= performance.now() ? TIME_ORIGIN + t : t;
  }
  if (t instanceof Date) return t.getTime();
  if (isTimeInputHrTime(t)) return t[0] * 1000 + t[1] / 1e6;
  return TIME_ORIGIN + performance.now();
}

const EXCEPTION_EVENT = "exception";

export class LeanTracerProvider implements TracerProviderLike {
  private readonly tracers = new Map<string, LeanTracer>();
  private readonly processor: SpanProcessor;

  constructor(private readonly config: LeanTracerConfig) {
    const processors = config.spanProcessors;
    this.processor = processors.length === 1 ? processors[0] : new MultiProcessor(processors);
  }

  getTracer(name: string, version?: string): Tracer {
    const key = `${name}@${version ?? ""}`;
    let tracer = this.tracers.get(key);
    if (!tracer) {
      // The same scope object the SDK builds (schemaUrl included), shared by the tracer's spans.
      tracer = new LeanTracer({ name, version, schemaUrl: undefined }, this.config, this.processor);
      this.tracers.set(key, tracer);
    }
    return tracer;
  }

  forceFlush(): Promise<void> {
    return this.processor.forceFlush();
  }

  shutdown(): Promise<void> {
    return this.processor.shutdown();
  }
}

/** Several processors as one, each called in order. */
class MultiProcessor implements SpanProcessor {
  constructor(private readonly processors: SpanProcessor[]) {}
  onStart(span: Parameters<SpanProcessor["onStart"]>[0], ctx: Context): void {
    for (const p of this.processors) p.onStart(span, ctx);
  }
  onEnd(span: ReadableSpan): void {
    for (const p of this.processors) p.onEnd(span);
  }
  async forceFlush(): Promise<void> {
    await Promise.all(this.processors.map((p) => p.forceFlush()));
  }
  async shutdown(): Promise<void> {
    await Promise.all(this.processors.map((p) => p.shutdown()));
  }
}

class LeanTracer implements Tracer {
  constructor(
    readonly scope: ReadableSpan["instrumentationScope"],
    private readonly config: LeanTracerConfig,
    private readonly processor: SpanProcessor,
  ) {}

  startSpan(name: string, options: SpanOptions = {}, ctx: Context = apiContext.active()): Span {
    if (options.root) ctx = trace.deleteSpan(ctx);
    if (isTracingSuppressed(ctx)) return trace.wrapSpanContext(INVALID_SPAN_CONTEXT);
    const parent = trace.getSpan(ctx)?.spanContext();
    const validParent = parent && trace.isSpanContextValid(parent) ? parent : undefined;
    const { idGenerator, sampler } = this.config;
    const traceId = validParent ? validParent.traceId : idGenerator.generateTraceId();
    const spanId = idGenerator.generateSpanId();
    const kind = options.kind ?? SpanKind.INTERNAL;
    const links = options.links;
    const result = sampler.shouldSample(
      ctx,
      traceId,
      name,
      kind,
      options.attributes ?? NO_ATTRIBUTES,
      links ?? NO_LINKS,
    );
    const spanContext: SpanContext = {
      traceId,
      spanId,
      traceFlags: result.decision === SamplingDecision.RECORD_AND_SAMPLED
        ? TraceFlags.SAMPLED
        : TraceFlags.NONE,
      traceState: result.traceState ?? validParent?.traceState,
    };
    if (result.decision === SamplingDecision.NOT_RECORD) return trace.wrapSpanContext(spanContext);
    const span = new LeanSpan(
      this,
      spanContext,
      validParent,
      name,
      kind,
      options.startTime === undefined
        ? TIME_ORIGIN + performance.now()
        : timeInputMs(options.startTime),
    );
    if (options.attributes) span.setAttributes(options.attributes);
    if (result.attributes) span.setAttributes(result.attributes);
    if (links) span.addLinks(links);
    this.processor.onStart(span as unknown as Parameters<SpanProcessor["onStart"]>[0], ctx);
    return span;
  }

  startActiveSpan<F extends (span: Span) => unknown>(name: string, fn: F): ReturnType<F>;
  startActiveSpan<F extends (span: Span) => unknown>(
    name: string,
    options: SpanOptions,
    fn: F,
  ): ReturnType<F>;
  startActiveSpan<F extends (span: Span) => unknown>(
    name: string,
    options: SpanOptions,
    ctx: Context,
    fn: F,
  ): ReturnType<F>;
  startActiveSpan<F extends (span: Span) => unknown>(
    name: string,
    a2: SpanOptions | F,
    a3?: Context | F,
    a4?: F,
  ): ReturnType<F> {
    let options: SpanOptions | undefined;
    let ctx: Context | undefined;
    let fn: F;
    if (typeof a2 === "function") fn = a2;
    else if (typeof a3 === "function") {
      options = a2;
      fn = a3;
    } else {
      options = a2;
      ctx = a3;
      fn = a4!;
    }
    const parent = ctx ?? apiContext.active();
    const span = this.startSpan(name, options, parent);
    return apiContext.with(
      trace.setSpan(parent, span),
      fn as (span: Span) => ReturnType<F>,
      undefined,
      span,
    );
  }

  /** Called by a span once, when it ends. */
  ended(span: LeanSpan): void {
    this.processor.onEnd(span);
  }

  get resource(): Resource {
    return this.config.resource;
  }

  get limits(): FullSpanLimits {
    return this.config.spanLimits;
  }
}

const NO_ATTRIBUTES: Attributes = Object.freeze({}) as Attributes;
const NO_LINKS: Link[] = Object.freeze([]) as unknown as Link[];
const NO_EVENTS: TimedEvent[] = Object.freeze([]) as unknown as TimedEvent[];
const UNSET_STATUS: SpanStatus = Object.freeze({ code: SpanStatusCode.UNSET });

/**
 * An event's attributes when every value is a string, number or boolean (the
 * common case: checked and cut here, as the SDK's cleanSimpleAttributes
 * would); undefined when any value needs the SDK's own rules.
 */
function primitiveAttributes(
  attrs: SpanAttributes | undefined,
  limits: { attributeCountLimit: number; attributeValueLengthLimit: number },
): { attributes: Attributes; droppedAttributesCount: number } | undefined {
  const out: Attributes = {};
  let count = 0, dropped = 0;
  const lengthLimit = limits.attributeValueLengthLimit;
  for (const key in attrs) {
    if (!Object.hasOwn(attrs, key)) continue;
    const v = attrs[key];
    if (v === undefined) continue;
    const t = typeof v;
    if ((t !== "string" && t !== "number" && t !== "boolean") || key.length === 0) return undefined;
    if (count >= limits.attributeCountLimit) {
      dropped++;
      continue;
    }
    out[key] = t === "string" && (v as string).length > lengthLimit && lengthLimit > 0
      ? (v as string).substring(0, lengthLimit)
      : v;
    count++;
  }
  return { attributes: out, droppedAttributesCount: dropped };
}

/** A span event that keeps its time in epoch milliseconds (HrTime when asked, as TimedEvent). */
class LeanEvent implements TimedEvent {
  constructor(
    readonly name: string,
    readonly timeMs: number,
    readonly attributes?: Attributes,
    readonly droppedAttributesCount?: number,
  ) {}
  get time(): HrTime {
    return millisToHrTime(this.timeMs);
  }
}

/** A recording span; also a ReadableSpan for the SDK's processors and exporters. */
export class LeanSpan implements Span, ReadableSpan {
  readonly attributes: Attributes = {};
  // Shared empty values until the first event, link or status (most spans have none).
  links: Link[] = NO_LINKS;
  events: TimedEvent[] = NO_EVENTS;
  status: SpanStatus = UNSET_STATUS;
  /** Epoch milliseconds; endMs is NaN until the span ends. */
  endMs = NaN;
  private attributeCount = 0;
  private droppedAttributes = 0;
  private droppedEvents = 0;
  private droppedLinks = 0;

  constructor(
    private readonly tracer: LeanTracer,
    private readonly context: SpanContext,
    readonly parentSpanContext: SpanContext | undefined,
    public name: string,
    readonly kind: SpanKind,
    readonly startMs: number,
  ) {}

  spanContext(): SpanContext {
    return this.context;
  }

  setAttribute(key: string, value: AttributeValue): this {
    if (this.isEnded()) return this;
    const t = typeof value;
    if ((t === "string" || t === "number" || t === "boolean") && key.length > 0) {
      // The common case, checked here: a primitive value under a non-empty key.
      const attrs = this.attributes;
      if (!Object.hasOwn(attrs, key)) {
        if (this.attributeCount >= this.tracer.limits.attributeCountLimit) {
          this.droppedAttributes++;
          return this;
        }
        this.attributeCount++;
      }
      const limit = this.tracer.limits.attributeValueLengthLimit;
      attrs[key] = t === "string" && (value as string).length > limit && limit > 0
        ? (value as string).substring(0, limit)
        : value;
      return this;
    }
    // Anything else by the SDK's own rules (arrays, maps, bytes, invalid values).
    const decision = maybeAddAttribute({
      key,
      value,
      attributes: this.attributes,
      limits: this.tracer.limits,
      currentAttributesCount: this.attributeCount,
    });
    if (decision === AddAttributeDecision.DROP_LIMIT_REACHED) this.droppedAttributes++;
    else if (decision === AddAttributeDecision.ADD_NEW) this.attributeCount++;
    return this;
  }

  setAttributes(attributes: SpanAttributes): this {
    for (const key in attributes) {
      if (Object.hasOwn(attributes, key)) {
        const value = attributes[key];
        if (value !== undefined) this.setAttribute(key, value);
      }
    }
    return this;
  }

  addEvent(
    name: string,
    attributesOrTime?: SpanAttributes | TimeInput,
    time?: TimeInput,
  ): this {
    if (this.isEnded()) return this;
    const { eventCountLimit, attributePerEventCountLimit, attributeValueLengthLimit } =
      this.tracer.limits;
    if (eventCountLimit === 0) {
      this.droppedEvents++;
      return this;
    }
    if (this.events === NO_EVENTS) this.events = [];
    if (this.events.length >= eventCountLimit) {
      // As the SDK: the oldest event gives way.
      this.events.shift();
      this.droppedEvents++;
    }
    let attributes: SpanAttributes | undefined;
    if (isTimeInput(attributesOrTime)) {
      if (!isTimeInput(time)) time = attributesOrTime;
    } else attributes = attributesOrTime;
    const timeMs = time === undefined ? TIME_ORIGIN + performance.now() : timeInputMs(time);
    const limits = { attributeCountLimit: attributePerEventCountLimit, attributeValueLengthLimit };
    // No attributes: none at all on the event, as the SDK records it.
    const cleaned = attributes === undefined
      ? {}
      : primitiveAttributes(attributes, limits) ?? cleanSimpleAttributes(attributes, limits);
    this.events.push(
      new LeanEvent(name, timeMs, cleaned.attributes, cleaned.droppedAttributesCount),
    );
    return this;
  }

  addLink(link: Link): this {
    if (this.isEnded()) return this;
    const { linkCountLimit, attributePerLinkCountLimit, attributeValueLengthLimit } =
      this.tracer.limits;
    if (linkCountLimit === 0) {
      this.droppedLinks++;
      return this;
    }
    if (this.links === NO_LINKS) this.links = [];
    if (this.links.length >= linkCountLimit) {
      this.links.shift();
      this.droppedLinks++;
    }
    this.links.push({
      context: link.context,
      ...cleanAttributes(link.attributes, {
        attributeCountLimit: attributePerLinkCountLimit,
        attributeValueLengthLimit,
      }),
    });
    return this;
  }

  addLinks(links: Link[]): this {
    for (const link of links) this.addLink(link);
    return this;
  }

  setStatus(status: SpanStatus): this {
    if (this.isEnded()) return this;
    // As the SDK: UNSET changes nothing, OK is final, only ERROR carries a message.
    if (status.code === SpanStatusCode.UNSET || this.status.code === SpanStatusCode.OK) return this;
    this.status = status.code === SpanStatusCode.ERROR && typeof status.message === "string"
      ? { code: status.code, message: status.message }
      : { code: status.code };
    return this;
  }

  updateName(name: string): this {
    if (!this.isEnded()) this.name = name;
    return this;
  }

  end(endTime?: TimeInput): void {
    if (this.isEnded()) return;
    let end = endTime === undefined ? TIME_ORIGIN + performance.now() : timeInputMs(endTime);
    if (end < this.startMs) {
      diag.warn(
        "Inconsistent start and end time, startTime > endTime. Setting span duration to 0ms.",
      );
      end = this.startMs;
    }
    this.endMs = end;
    this.tracer.ended(this);
  }

  isRecording(): boolean {
    return !(this.endMs >= 0);
  }

  recordException(exception: Exception, time?: TimeInput): void {
    const attributes: Attributes = {};
    if (typeof exception === "string") attributes[ATTR_EXCEPTION_MESSAGE] = exception;
    else if (exception) {
      if (exception.code) attributes[ATTR_EXCEPTION_TYPE] = exception.code.toString();
      else if (exception.name) attributes[ATTR_EXCEPTION_TYPE] = exception.name;
      if (exception.message) attributes[ATTR_EXCEPTION_MESSAGE] = exception.message;
      if (exception.stack) attributes[ATTR_EXCEPTION_STACKTRACE] = exception.stack;
    }
    if (attributes[ATTR_EXCEPTION_TYPE] || attributes[ATTR_EXCEPTION_MESSAGE]) {
      this.addEvent(EXCEPTION_EVENT, attributes, time);
    } else diag.warn(`Failed to record an exception ${exception}`);
  }

  /** True once ended; a change after that is refused with a warning, as the SDK does. */
  private isEnded(): boolean {
    if (!(this.endMs >= 0)) return false;
    diag.warn(
      `Cannot execute the operation on ended Span {traceId: ${this.context.traceId}, spanId: ${this.context.spanId}}`,
    );
    return true;
  }

  // ReadableSpan, computed when a consumer asks.
  get startTime(): HrTime {
    return millisToHrTime(this.startMs);
  }
  get endTime(): HrTime {
    return this.endMs >= 0 ? millisToHrTime(this.endMs) : [0, 0];
  }
  get duration(): HrTime {
    return this.endMs >= 0 ? millisToHrTime(this.endMs - this.startMs) : [-1, -1];
  }
  get ended(): boolean {
    return this.endMs >= 0;
  }
  get resource(): Resource {
    return this.tracer.resource;
  }
  get instrumentationScope(): ReadableSpan["instrumentationScope"] {
    return this.tracer.scope;
  }
  get droppedAttributesCount(): number {
    return this.droppedAttributes;
  }
  get droppedEventsCount(): number {
    return this.droppedEvents;
  }
  get droppedLinksCount(): number {
    return this.droppedLinks;
  }
}
