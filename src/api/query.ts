import { l } from '@atproto/lex'
import type { LexMethodHandler, LexMethodParams, Server } from '@atproto/xrpc-server'

type JsonBody<Q extends l.Query> = l.InferMethodOutputBody<Q>

// Sent through express's res.send, which adds Content-Length, the ETag and 304 answers as res.json did.
const JSON_UTF8 = 'application/json; charset=utf-8'

/**
 * Registers a query whose answer is plain JSON, with two savings on the hot path (measured in
 * BENCHMARKS.md, "XRPC per-request cost"):
 * - @atproto/lex-schema's parse mode validates each absent optional parameter against its inner
 *   schema, and builds and drops a LexValidationError for it; the parameters are parsed with
 *   stack traces off, which were most of that cost (errors that reach the client keep their
 *   message and issues, and a 400 needs no stack).
 * - the answer is serialized once by JSON.stringify instead of lexToJson's copy and then res.json
 *   (the answers hold no bytes or CIDs, so the JSON is the same).
 */
export function addQuery<Q extends l.Query>(
  server: Server,
  ns: l.Main<Q>,
  answer: (params: LexMethodParams<Q>) => JsonBody<Q>,
): void {
  const schema = l.getMain(ns)
  const original = schema.parameters
  const parameters = Object.create(original) as typeof original
  parameters.fromURLSearchParams = (input, options) => withoutStackTraces(() => original.fromURLSearchParams(input, options))
  const quiet = Object.create(schema, { parameters: { value: parameters } }) as Q
  // The handler's declared output names the lexicon's encoding; the charset variant takes
  // xrpc-server's plain send path, so the compiler is told the handler's type once, here.
  const handler: LexMethodHandler<l.Query> = async ({ params }) => ({
    encoding: JSON_UTF8,
    body: Buffer.from(JSON.stringify(answer(params as LexMethodParams<Q>))),
  })
  server.add(quiet, handler as never)
}

function withoutStackTraces<T>(run: () => T): T {
  const limit = Error.stackTraceLimit
  Error.stackTraceLimit = 0
  try {
    return run()
  } finally {
    Error.stackTraceLimit = limit
  }
}
