import { describe, expect, it } from "@effect/vitest"
import * as Redacted from "effect/Redacted"
import * as Chat from "../../../src/core/Chat.js"
import * as Anthropic from "../../../src/core/internal/anthropic.js"
import * as Bedrock from "../../../src/core/internal/bedrock.js"
import * as OpenAI from "../../../src/core/internal/openai.js"
import * as Wire from "../../../src/core/internal/wire.js"
import * as FaultServer from "../../../src/core/testing/FaultServer.js"
import { framings, sse } from "../../support/wire.js"

// A transcript read by an adapter's turn in pieces of `size` bytes, with `eol` line ends, as each line's
// httpModel reads a body: every chunk up to where the stream stops, and the failure it ends with.
const turned = (adapter: Wire.Adapter, transcript: string | Uint8Array, eol: string, size: number) => {
  const bytes = typeof transcript === "string" ? new TextEncoder().encode(transcript.replaceAll("\n", eol)) : transcript
  const turn = Wire.turn(adapter, {
    requestId: undefined,
    rateLimit: undefined,
    contentTimeoutMillis: 60_000,
    describeContentTimeout: "1m",
    now: () => 0
  })
  const chunks: Array<Chat.StreamChunk> = []
  const step = size === Infinity ? bytes.length : size
  reading: for (let i = 0; i < bytes.length; i += step) {
    for (const item of turn.read(bytes.subarray(i, i + step))) {
      if (turn.isChunk(item)) chunks.push(item)
      if (turn.isLast(item)) break reading
    }
  }
  return { chunks, failure: turn.end() }
}

describe("Anthropic's published stream, the whole wire", () => {
  const signature = "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds"
  const transcript = sse([
    ["message_start", {
      type: "message_start",
      message: {
        id: "msg_01",
        type: "message",
        role: "assistant",
        content: [],
        model: "claude-sonnet-4-5",
        stop_reason: null,
        stop_sequence: null,
        usage: { input_tokens: 472, cache_creation_input_tokens: 100, cache_read_input_tokens: 2000, output_tokens: 2 }
      }
    }],
    ["content_block_start", {
      type: "content_block_start",
      index: 0,
      content_block: { type: "thinking", thinking: "" }
    }],
    ["content_block_delta", {
      type: "content_block_delta",
      index: 0,
      delta: { type: "thinking_delta", thinking: "Weather, then time." }
    }],
    ["content_block_delta", { type: "content_block_delta", index: 0, delta: { type: "signature_delta", signature } }],
    ["content_block_stop", { type: "content_block_stop", index: 0 }],
    ["content_block_start", {
      type: "content_block_start",
      index: 1,
      content_block: { type: "redacted_thinking", data: "EmwKAhgBEgy3va3pzix" }
    }],
    ["content_block_stop", { type: "content_block_stop", index: 1 }],
    ["ping", { type: "ping" }],
    ["content_block_start", { type: "content_block_start", index: 2, content_block: { type: "text", text: "" } }],
    ["content_block_delta", {
      type: "content_block_delta",
      index: 2,
      delta: { type: "text_delta", text: "Checking San Francisco:" }
    }],
    ["content_block_stop", { type: "content_block_stop", index: 2 }],
    ["content_block_start", {
      type: "content_block_start",
      index: 3,
      content_block: { type: "tool_use", id: "toolu_01", name: "get_weather", input: {} }
    }],
    ["content_block_delta", {
      type: "content_block_delta",
      index: 3,
      delta: { type: "input_json_delta", partial_json: "" }
    }],
    ["content_block_delta", {
      type: "content_block_delta",
      index: 3,
      delta: { type: "input_json_delta", partial_json: "{\"location\":" }
    }],
    ["content_block_delta", {
      type: "content_block_delta",
      index: 3,
      delta: { type: "input_json_delta", partial_json: " \"San Francisco, CA\"}" }
    }],
    ["content_block_stop", { type: "content_block_stop", index: 3 }],
    ["content_block_start", {
      type: "content_block_start",
      index: 4,
      content_block: { type: "tool_use", id: "toolu_02", name: "get_time", input: {} }
    }],
    ["content_block_delta", {
      type: "content_block_delta",
      index: 4,
      delta: { type: "input_json_delta", partial_json: "{\"tz\": \"America/Los_Angeles\"}" }
    }],
    ["content_block_stop", { type: "content_block_stop", index: 4 }],
    ["message_delta", {
      type: "message_delta",
      delta: { stop_reason: "tool_use", stop_sequence: null },
      usage: { output_tokens: 89 }
    }],
    ["message_stop", { type: "message_stop" }]
  ])
  const C = Chat.StreamChunk
  const expected = [
    C.ThinkingDelta({ thinking: "Weather, then time." }),
    C.ThinkingSignature({ signature }),
    C.RedactedThinking({ data: "EmwKAhgBEgy3va3pzix" }),
    C.TextDelta({ text: "Checking San Francisco:" }),
    C.ToolCallStart({ id: "toolu_01", name: "get_weather" }),
    C.ToolCallDelta({ id: "toolu_01", argumentsDelta: "{\"location\":" }),
    C.ToolCallDelta({ id: "toolu_01", argumentsDelta: " \"San Francisco, CA\"}" }),
    C.ToolCallEnd({ id: "toolu_01", name: "get_weather", arguments: { location: "San Francisco, CA" } }),
    C.ToolCallStart({ id: "toolu_02", name: "get_time" }),
    C.ToolCallDelta({ id: "toolu_02", argumentsDelta: "{\"tz\": \"America/Los_Angeles\"}" }),
    C.ToolCallEnd({ id: "toolu_02", name: "get_time", arguments: { tz: "America/Los_Angeles" } }),
    C.TurnFinished({
      reason: "tool_use",
      stopReason: "tool_use",
      usage: { inputTokens: 472, outputTokens: 89, cacheReadTokens: 2000, cacheWriteTokens: 100 }
    })
  ]
  const adapter = Anthropic.adapter({ apiKey: Redacted.make("sk-test"), model: "m", baseUrl: "http://127.0.0.1:1" })

  it.each(framings)(
    "thinking, a signature, redacted thinking, two tool calls and cache usage (%s)",
    (_, eol, size) =>
      expect(turned(adapter, transcript, eol, size)).toStrictEqual({ chunks: expected, failure: undefined })
  )

  it("a tool call whose arguments are not JSON is a StreamError naming the call, after the chunks before it", () => {
    const broken = transcript.replace("\\\"San Francisco, CA\\\"}", "\\\"San Fr")
    const { chunks, failure } = turned(adapter, broken, "\n", Infinity)
    expect(chunks).toStrictEqual([
      ...expected.slice(0, 6),
      C.ToolCallDelta({ id: "toolu_01", argumentsDelta: " \"San Fr" })
    ])
    expect(failure?._tag).toBe("StreamError")
    expect(failure?.message).toContain("the arguments of tool call toolu_01 (get_weather) are not JSON")
  })
})

describe("OpenAI's published stream, the whole wire", () => {
  const base = { id: "chatcmpl-1", object: "chat.completion.chunk", created: 1, model: "gpt-4o" }
  const delta = (d: unknown, finish: string | null = null) => ({
    ...base,
    choices: [{ index: 0, delta: d, finish_reason: finish }],
    usage: null
  })
  const transcript = sse([
    [
      undefined,
      delta({
        role: "assistant",
        content: null,
        tool_calls: [{ index: 0, id: "call_abc", type: "function", function: { name: "get_weather", arguments: "" } }]
      })
    ],
    [undefined, delta({ tool_calls: [{ index: 0, function: { arguments: "{\"location\":" } }] })],
    [
      undefined,
      delta({
        tool_calls: [{ index: 1, id: "call_def", type: "function", function: { name: "get_time", arguments: "" } }]
      })
    ],
    [undefined, delta({ tool_calls: [{ index: 0, function: { arguments: " \"Paris\"}" } }] })],
    [undefined, delta({ tool_calls: [{ index: 1, function: { arguments: "{\"tz\": \"Europe/Paris\"}" } }] })],
    [undefined, delta({}, "tool_calls")],
    [undefined, {
      ...base,
      choices: [],
      usage: {
        prompt_tokens: 82,
        completion_tokens: 36,
        total_tokens: 118,
        prompt_tokens_details: { cached_tokens: 64, audio_tokens: 0 },
        completion_tokens_details: { reasoning_tokens: 12, audio_tokens: 0 }
      }
    }],
    [undefined, "[DONE]"]
  ])
  const C = Chat.StreamChunk
  const expected = [
    C.ToolCallStart({ id: "call_abc", name: "get_weather" }),
    C.ToolCallDelta({ id: "call_abc", argumentsDelta: "{\"location\":" }),
    C.ToolCallStart({ id: "call_def", name: "get_time" }),
    C.ToolCallDelta({ id: "call_abc", argumentsDelta: " \"Paris\"}" }),
    C.ToolCallDelta({ id: "call_def", argumentsDelta: "{\"tz\": \"Europe/Paris\"}" }),
    C.ToolCallEnd({ id: "call_abc", name: "get_weather", arguments: { location: "Paris" } }),
    C.ToolCallEnd({ id: "call_def", name: "get_time", arguments: { tz: "Europe/Paris" } }),
    C.TurnFinished({
      reason: "tool_use",
      stopReason: "tool_calls",
      usage: { inputTokens: 82, outputTokens: 36, cacheReadTokens: 64, reasoningTokens: 12 }
    })
  ]
  const adapter = OpenAI.adapter({ apiKey: Redacted.make("sk-test"), model: "m", baseUrl: "http://127.0.0.1:1/v1" })

  it.each(framings)(
    "two parallel tool calls and the usage chunk with cached and reasoning tokens (%s)",
    (_, eol, size) =>
      expect(turned(adapter, transcript, eol, size)).toStrictEqual({ chunks: expected, failure: undefined })
  )
})

describe("Bedrock's AWS event stream, framed", () => {
  const adapter = Bedrock.adapter({
    region: "us-east-1",
    model: "m",
    credentials: { accessKeyId: Redacted.make("AKID"), secretAccessKey: Redacted.make("secret") },
    baseUrl: "http://127.0.0.1:1"
  })
  const joined = (parts: ReadonlyArray<Uint8Array>) => {
    const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
    let offset = 0
    for (const part of parts) {
      all.set(part, offset)
      offset += part.length
    }
    return all
  }
  const frames = () =>
    joined(
      FaultServer.bedrockEvents(["split ", "across ", "reads"]).map((item) =>
        item._tag === "Bytes" ? item.bytes : new Uint8Array(0)
      )
    )
  const texts = (chunks: ReadonlyArray<Chat.StreamChunk>) =>
    chunks.flatMap((chunk) => chunk._tag === "TextDelta" ? [chunk.text] : [])

  it.each([1, 3, 7, 64, Infinity])("frames split across reads of %s bytes give the same chunks", (size) => {
    const { chunks, failure } = turned(adapter, frames(), "", size)
    expect(texts(chunks)).toEqual(["split ", "across ", "reads"])
    expect(chunks.at(-1)?._tag).toBe("TurnFinished")
    expect(failure).toBeUndefined()
  })

  it("a frame with a bad CRC is a StreamError", () => {
    const corrupt = frames()
    corrupt[40] = corrupt[40]! ^ 0xff
    const { failure } = turned(adapter, corrupt, "", Infinity)
    expect(failure?._tag).toBe("StreamError")
    expect(failure?.message).toMatch(/^bedrock: a malformed event-stream message \(.*checksum/i)
  })

  it.each([1, 7, 64, Infinity])(
    "the frames before a corrupt one are delivered, then the StreamError (reads of %s bytes)",
    (size) => {
      const good = [
        FaultServer.bedrockEvent("messageStart", { role: "assistant" }),
        FaultServer.bedrockEvent("contentBlockDelta", { contentBlockIndex: 0, delta: { text: "one " } }),
        FaultServer.bedrockEvent("contentBlockDelta", { contentBlockIndex: 0, delta: { text: "two " } })
      ]
      const bad = FaultServer.bedrockEvent("contentBlockDelta", { contentBlockIndex: 0, delta: { text: "three" } })
      bad[bad.length - 2] = bad[bad.length - 2]! ^ 0xff
      const { chunks, failure } = turned(adapter, joined([...good, bad]), "", size)
      expect(texts(chunks)).toEqual(["one ", "two "])
      expect(failure?.message).toMatch(/^bedrock: a malformed event-stream message \(.*checksum/i)
    }
  )

  it("a frame that declares 100 MB is refused at its prelude, before anything is buffered", () => {
    const huge = new Uint8Array(12)
    new DataView(huge.buffer).setUint32(0, 100 * 1024 * 1024, false)
    expect(turned(adapter, huge, "", Infinity).failure?.message).toBe(
      "bedrock: a malformed event-stream message (a message of 104857600 bytes is over 4194304)"
    )
  })
})
