// doppler.d.ts -- TypeScript declarations of DOPPLER's JavaScript API (provider.js).
// Guide and example: docs/browser.md.

/** Error of every provider call; `code` names the kind of failure. */
export class DopplerError extends Error {
  readonly code:
    | 'webgpu-unavailable' // no WebGPU adapter in this browser
    | 'quota-exceeded'     // not enough storage (OPFS) for the model
    | 'hash-mismatch'      // a downloaded shard's SHA-256 differs from the manifest (the message names it)
    | 'network'            // the download failed; loading again resumes where it stopped
    | 'http'               // the server answered an error status
    | 'bad-manifest'       // manifest.json is not a usable RDRR manifest
    | 'busy'               // a load or generation is already running, or the model is open in another tab
    | 'aborted'            // the download was aborted
    | 'unknown-model'      // neither a catalog id nor a URL
    | 'no-model'           // generation without a loaded model
    | 'bad-request'        // invalid input or option
    | string;
}

export interface Capabilities {
  adapter: string;
  vendor: string;
  architecture: string;
  backend: string;
  features: string[];
  limits: Record<string, number>;
  [key: string]: unknown;
}

/** `doppler run`'s defaults: what absent options mean. */
export interface GenerationDefaults extends Required<Omit<GenerationConfig, 'stop'>> {
  stop: string[];
}

export interface LoadProgress {
  /** 'download': bytes stored in OPFS (resumed ones included); 'upload': bytes on the GPU. */
  phase: 'download' | 'upload';
  loaded: number;
  total: number;
  /** Bytes that came over the network during this load. */
  fetched: number;
  /** Network rate of this load in MB/s (fetched / elapsed). */
  mbps: number;
}

export interface LoadOptions {
  onProgress?: (p: LoadProgress) => void;
  /** Hash every stored shard again before using a copy from OPFS (default false: sizes only). */
  verify?: boolean;
}

export interface ModelInfo {
  /** The catalog id, or the URL given. */
  id: string;
  url: string;
  arch: string;
  vocab: number;
  n_params: number;
  ctx: number;
  has_chat_template: boolean;
  /** True when shards were downloaded during this load, false when it came from OPFS alone. */
  fromNetwork: boolean;
  /** Bytes downloaded during this load. */
  fetched: number;
  load_ms: number;
  [key: string]: unknown;
}

export interface GenerationConfig {
  /** Tokens to generate at most (default 128; 0 = until end-of-sequence or a full context). */
  max_tokens?: number;
  /** 0 = greedy (default 0.7). */
  temperature?: number;
  top_k?: number;
  top_p?: number;
  min_p?: number;
  repeat_penalty?: number;
  repeat_last_n?: number;
  seed?: number;
  /** Stop before any of these strings (not emitted). */
  stop?: string | string[];
}

export interface GenerationStats {
  n_prompt: number;
  n_generated: number;
  prefill_ms: number;
  decode_ms: number;
  ttft_ms: number;
  /** 'max_tokens' | 'eos' | 'stop' | 'context_full' | 'abort' */
  stop_reason: string;
  [key: string]: unknown;
}

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant' | string;
  content: string;
}

/** A prompt string (fed as `doppler run -p` feeds it) or chat messages (the model's chat
 *  template; without one, the contents joined by "\n"). */
export type GenerationInput = string | ChatMessage[];

/** Text pieces as they are generated; leaving the loop early aborts the generation. */
export interface TextStream extends AsyncIterableIterator<string> {
  /** Resolves when generation has ended. */
  readonly stats: Promise<GenerationStats>;
}

export interface CatalogEntry {
  id: string;
  name?: string;
  /** Absolute base URL of the RDRR model directory. */
  url: string;
  description?: string;
}

export interface StoredModel {
  url: string;
  dir: string;
  bytes: number;
  complete: boolean;
}

export interface ChatCompletionRequest extends Omit<GenerationConfig, 'max_tokens'> {
  messages: ChatMessage[];
  model?: string;
  stream?: boolean;
  max_tokens?: number;
  max_completion_tokens?: number;
}

export interface ChatCompletion {
  id: string;
  object: 'chat.completion';
  created: number;
  model: string | null;
  choices: { index: 0; message: { role: 'assistant'; content: string }; finish_reason: 'stop' | 'length'; logprobs: null }[];
  usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
}

export interface ChatCompletionChunk {
  id: string;
  object: 'chat.completion.chunk';
  created: number;
  model: string | null;
  choices: { index: 0; delta: { role?: 'assistant'; content?: string }; finish_reason: 'stop' | 'length' | null; logprobs: null }[];
}

export interface ChatCompletionStream extends AsyncIterable<ChatCompletionChunk> {
  controller: { abort(): void };
}

export interface InitOptions {
  /** The module worker (default: worker.js beside provider.js). */
  workerUrl?: string | URL;
  /** The engine's WebAssembly (default: doppler.wasm beside worker.js). */
  wasmUrl?: string | URL;
  /** The model catalog (default: models.json beside provider.js). */
  catalogUrl?: string | URL;
}

export class DopplerProvider {
  /** Start the worker and the engine; rejects with code 'webgpu-unavailable' without WebGPU. */
  static init(options?: InitOptions): Promise<DopplerProvider>;
  /** `doppler run`'s defaults for absent generation options. */
  readonly defaults: GenerationDefaults;
  /** The loaded model, or null. */
  readonly model: ModelInfo | null;
  getCapabilities(): Capabilities;
  catalog(): Promise<{ default: string; models: CatalogEntry[] }>;
  /** A catalog id (default: the catalog's default) or a model URL. Downloads into OPFS the
   *  first time (Range requests, SHA-256 per shard, resumable), from OPFS afterwards. */
  loadModel(idOrUrl?: string, options?: LoadOptions): Promise<ModelInfo>;
  unloadModel(): Promise<void>;
  storedModels(): Promise<StoredModel[]>;
  deleteModel(idOrUrl: string): Promise<boolean>;
  stream(input: GenerationInput, config?: GenerationConfig): TextStream;
  generate(input: GenerationInput, config?: GenerationConfig, onPiece?: (text: string) => void):
    Promise<{ text: string; stats: GenerationStats }>;
  /** Stop the generation or download in flight (its promise then resolves or rejects early). */
  abort(): void;
  /** Stop the worker; the provider cannot be used afterwards. */
  terminate(): void;
  readonly chat: {
    completions: {
      create(req: ChatCompletionRequest & { stream: true }): Promise<ChatCompletionStream>;
      create(req: ChatCompletionRequest & { stream?: false }): Promise<ChatCompletion>;
      create(req: ChatCompletionRequest): Promise<ChatCompletion | ChatCompletionStream>;
    };
  };
}
