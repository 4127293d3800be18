/**
 * The one error-code table of Strata. Callers and tests match on `.code`, never on the message.
 * `status` is the HTTP status the service maps the code to.
 */
export const ERROR_CODES = {
  STRATA_INVALID_OPTION: { status: 400, summary: 'an option has a wrong type or is out of range' },
  STRATA_UNKNOWN_METRIC: { status: 400, summary: 'metric is not one of l2, ip, cosine' },
  STRATA_DIMENSION_MISMATCH: { status: 400, summary: 'a vector has the wrong number of components' },
  STRATA_NON_FINITE: { status: 400, summary: 'a vector holds NaN or Infinity' },
  STRATA_INVALID_K: { status: 400, summary: 'k must be a positive integer' },
  STRATA_INVALID_ID: { status: 400, summary: 'an id is not an unsigned 32-bit integer, or ids repeat' },
  STRATA_ID_EXISTS: { status: 409, summary: 'an insert names an id the index already holds (upsert replaces)' },
  STRATA_EMPTY_INPUT: { status: 400, summary: 'no vectors were given' },
  STRATA_INDEX_NOT_FOUND: { status: 404, summary: 'no index at the given directory' },
  STRATA_INDEX_EXISTS: { status: 409, summary: 'an index already exists at the given directory' },
  STRATA_INDEX_NOT_BUILT: { status: 409, summary: 'the index has no data yet: call build() first' },
  STRATA_NOT_CALIBRATED: { status: 409, summary: 'the index has no recall calibration sample to measure: rebuild it (builds calibrate)' },
  STRATA_INDEX_CLOSED: { status: 409, summary: 'the index was closed' },
  STRATA_INDEX_CORRUPT: { status: 500, summary: 'an index file is missing or damaged' },
  STRATA_CORRUPT: { status: 500, summary: 'a stored record fails its checksum (the store and key are named): nothing is answered from it; rebuild from the source data' },
  STRATA_FORMAT_VERSION: { status: 500, summary: 'the on-disk format version is not the one this build reads' },
  STRATA_FILE_FORMAT: { status: 400, summary: 'a vector data file is malformed' },
  STRATA_UNKNOWN_TENANT: { status: 404, summary: 'the tenant named in the request does not exist' },
  STRATA_INVALID_TENANT: { status: 400, summary: 'a tenant name is empty, too long or not a string' },
  STRATA_INVALID_FILTER: { status: 400, summary: 'a filter is malformed or compares an attribute with a value of another type' },
  STRATA_INVALID_ATTRIBUTE: { status: 400, summary: 'an attribute value has an unsupported type or conflicts with the attribute\'s type' },
  STRATA_DATASET_MISSING: { status: 404, summary: 'a dataset or its source files are not present' },
  STRATA_UNSUPPORTED_PLATFORM: { status: 500, summary: 'a native part this call needs is not built or not available on this operating system' },
  STRATA_STORE_UNAVAILABLE: { status: 503, summary: 'no endpoint of the object store answered (each was tried); nothing was acknowledged' },
  STRATA_STORE_CONFLICT: { status: 409, summary: 'another writer claimed the same manifest version or log sequence first (create-if-absent lost): read the newest and retry' },
  STRATA_STORE_ERROR: { status: 502, summary: 'the object store answered a request with an error (credentials, bucket, or the store itself: named in the message)' },
  STRATA_NO_CGROUP: { status: 500, summary: 'a memory cap was asked for but this process cannot create a memory cgroup (root or a delegated cgroup v2 subtree is needed)' },
  // -- RAG layer (src/rag) ----------------------------------------------------------------------------
  STRATA_MODEL_FILE_MISSING: { status: 400, summary: 'a file the model directory\'s config names (ONNX model, tokenizer) is not there' },
  STRATA_MODEL_INVALID: { status: 400, summary: 'a model config or tokenizer file is malformed, or the ONNX model lacks the inputs/outputs an encoder needs' },
  STRATA_MODEL_MISMATCH: { status: 409, summary: 'the model\'s output dimension differs from the configured one, or a corpus was built with another model' },
  STRATA_INVALID_DOCUMENT: { status: 400, summary: 'a document has no text, a bad id or metadata, or a JSONL line does not parse' },
  STRATA_DOCUMENT_NOT_FOUND: { status: 404, summary: 'no document with that id (in the caller\'s tenant)' },
  // -- HTTP service (src/server) --------------------------------------------------------------------
  STRATA_INVALID_REQUEST: { status: 400, summary: 'a request body, parameter or query string does not match the route\'s schema, or is not valid JSON' },
  STRATA_LIMIT_EXCEEDED: { status: 400, summary: 'a request asks for more than a configured limit (batch size, k, dimension)' },
  STRATA_PAYLOAD_TOO_LARGE: { status: 413, summary: 'the request body is larger than the configured body limit' },
  STRATA_UNSUPPORTED_MEDIA_TYPE: { status: 415, summary: 'the request body is not application/json' },
  STRATA_UNAUTHORIZED: { status: 401, summary: 'no API key, or a key the service does not know' },
  STRATA_FORBIDDEN: { status: 403, summary: 'the API key may not do this (admin-only route, or outside the key\'s collection or tenant)' },
  STRATA_COLLECTION_NOT_FOUND: { status: 404, summary: 'no collection of that name' },
  STRATA_COLLECTION_EXISTS: { status: 409, summary: 'a collection of that name already exists' },
  STRATA_POINT_NOT_FOUND: { status: 404, summary: 'no point with that id (in the caller\'s scope)' },
  STRATA_CORPUS_NOT_FOUND: { status: 404, summary: 'no corpus of that name' },
  STRATA_CORPUS_EXISTS: { status: 409, summary: 'a corpus of that name already exists' },
  STRATA_KV_ENTRY_NOT_FOUND: { status: 404, summary: 'no cached chunk KV entry with that key' },
  STRATA_KEY_NOT_FOUND: { status: 404, summary: 'no API key with that id' },
  STRATA_ROUTE_NOT_FOUND: { status: 404, summary: 'no route for this method and path' },
  STRATA_RESULT_NOT_FOUND: { status: 404, summary: 'no benchmark result file of that name under bench/results' },
  STRATA_DISK_FULL: { status: 507, summary: 'the disk holding the data has less free space than the reserve (--min-free-disk): writes are refused until space is freed, reads go on' },
  STRATA_OVERLOADED: { status: 503, summary: 'too many requests in flight: retry after the Retry-After header\'s seconds' },
  STRATA_SHUTTING_DOWN: { status: 503, summary: 'the service is draining before it stops' },
  STRATA_INTERNAL: { status: 500, summary: 'an unexpected failure; the request changed nothing it did not acknowledge' },
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class StrataError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  /** The option, argument or field the error is about, when there is one. */
  readonly field?: string;

  constructor(code: ErrorCode, message: string, field?: string) {
    super(message);
    this.name = 'StrataError';
    this.code = code;
    this.status = ERROR_CODES[code].status;
    if (field !== undefined) this.field = field;
  }
}

/** Build a coded error. The message should name the offending field and the value seen. */
export function createError(code: ErrorCode, message: string, field?: string): StrataError {
  return new StrataError(code, `${code}: ${message}`, field);
}

export function isStrataError(err: unknown): err is StrataError {
  return err instanceof StrataError;
}
