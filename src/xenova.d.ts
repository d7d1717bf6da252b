// Types for the parts of @xenova/transformers 2.17.2 that the studio uses (the tokenizers in src/model-io, the
// text-generation pipeline in src/deploy), imported from its source modules (the package's own .d.ts files
// describe only the package entry).

declare module '@xenova/transformers/src/tokenizers.js' {
  export interface XenovaAddedToken {
    content: string;
    id: number;
    special: boolean;
  }

  export class PreTrainedTokenizer {
    constructor(tokenizerJSON: unknown, tokenizerConfig: unknown);
    model: { tokens_to_ids: Map<string, number>; vocab: (string | undefined)[] };
    added_tokens: XenovaAddedToken[];
    special_tokens: string[];
    all_special_ids: number[];
    chat_template: string | Record<string, string> | null;
    pad_token: string | null;
    pad_token_id: number | undefined;
    getToken(...keys: string[]): string | null;
    encode(text: string, text_pair?: string | null, options?: { add_special_tokens?: boolean }): number[];
    decode(
      token_ids: number[],
      options?: { skip_special_tokens?: boolean; clean_up_tokenization_spaces?: boolean | null },
    ): string;
    apply_chat_template(
      conversation: { role: string; content: string }[],
      options?: { add_generation_prompt?: boolean; tokenize?: boolean; chat_template?: string | null; [key: string]: unknown },
    ): string | number[];
  }

  export class AutoTokenizer {
    static TOKENIZER_CLASS_MAPPING: Record<string, new (tokenizerJSON: unknown, tokenizerConfig: unknown) => PreTrainedTokenizer>;
  }
}

declare module '@xenova/transformers/src/env.js' {
  export const env: {
    allowRemoteModels: boolean;
    allowLocalModels: boolean;
    useBrowserCache: boolean;
    useFSCache: boolean;
    useCustomCache: boolean;
    customCache: { match(key: string): Promise<Response | undefined>; put(key: string, response: Response): Promise<void> } | null;
    [key: string]: unknown;
  };
}

declare module '@xenova/transformers/src/pipelines.js' {
  export interface TextGenerationPipeline {
    (text: string, options?: { max_new_tokens?: number; do_sample?: boolean; return_full_text?: boolean }): Promise<{ generated_text: string }[]>;
    dispose(): Promise<void>;
  }
  export function pipeline(
    task: 'text-generation',
    model: string,
    options?: { quantized?: boolean; local_files_only?: boolean },
  ): Promise<TextGenerationPipeline>;
}
