import { InvalidRequestError, XRPCError } from '@atproto/xrpc-server'

interface IssueLike {
  path?: readonly PropertyKey[]
  key?: PropertyKey
  message?: string
}

/**
 * Parameter errors name the parameter: the lexicon validator's own message ("integer too small")
 * does not, so rebuild it from the issue paths.
 */
export function parseError(err: unknown): XRPCError {
  const xrpc = XRPCError.fromError(err)
  const issues = (xrpc.cause as { issues?: IssueLike[] } | undefined)?.issues
  if (xrpc instanceof InvalidRequestError && Array.isArray(issues) && issues.length > 0) {
    const parts = issues.map((i) => {
      const name = String(i.key ?? i.path?.[0] ?? '')
      return name ? `parameter "${name}": ${i.message}` : String(i.message)
    })
    return new InvalidRequestError(`Invalid ${parts.join('; ')}`, undefined, { cause: err })
  }
  return xrpc
}

export function invalidParam(name: string, message: string): InvalidRequestError {
  return new InvalidRequestError(`Invalid parameter "${name}": ${message}`)
}

export function invalidCursor(): InvalidRequestError {
  return new InvalidRequestError('Malformed cursor: pass back the cursor of a previous page unchanged', 'InvalidCursor')
}
