/**
 * The bitsandbytes base that stands for the studio's quantized W0 (src/kernels/weight-format.ts):
 * - nf4: bitsandbytes' 4-bit NF4 in blocks of 64 with an f32 absmax per block, without double quantization — the
 *   same code book, block size and scale as the studio's nf4, so W0 is held in the same format (a weight can land on
 *   another code only where it sits on a rounding boundary);
 * - q4: 4-bit FP4. The studio's q4 is an integer code ((q − 8)·absmax/7 in groups of 32) that bitsandbytes does not
 *   have; FP4 is its other 4-bit format, the closest in memory and precision, not in values;
 * - q8: LLM.int8 (8-bit rows with outliers kept in 16 bits). The studio's q8 is absmax/127 in groups of 32; the
 *   rounding differs.
 * Compute and storage dtypes are those of the other parameters (float32, as the studio computes).
 */
import type { WeightFormat } from '../kernels/weight-format';

export interface RecipeQuantization {
  /** The studio's W0 format this stands for. */
  studio_weight_format: Exclude<WeightFormat, 'f32'>;
  /** Whether W0 is held in the studio's format ('same') or only in one of the same size and kind ('closest'). */
  match: 'same' | 'closest';
  load_in_4bit: boolean;
  load_in_8bit: boolean;
  bnb_4bit_quant_type: 'nf4' | 'fp4' | null;
  bnb_4bit_use_double_quant: boolean;
  bnb_4bit_compute_dtype: string | null;
  bnb_4bit_quant_storage: string | null;
}

/** The BitsAndBytesConfig fields for a W0 format; null for f32 (a full-precision base). */
export function quantizationOf(format: WeightFormat, dtype: string): RecipeQuantization | null {
  const fourBit = (type: 'nf4' | 'fp4', match: 'same' | 'closest', studio: 'nf4' | 'q4'): RecipeQuantization => ({
    studio_weight_format: studio,
    match,
    load_in_4bit: true,
    load_in_8bit: false,
    bnb_4bit_quant_type: type,
    bnb_4bit_use_double_quant: false,
    bnb_4bit_compute_dtype: dtype,
    bnb_4bit_quant_storage: dtype,
  });
  switch (format) {
    case 'f32':
      return null;
    case 'nf4':
      return fourBit('nf4', 'same', 'nf4');
    case 'q4':
      return fourBit('fp4', 'closest', 'q4');
    case 'q8':
      return {
        studio_weight_format: 'q8',
        match: 'closest',
        load_in_4bit: false,
        load_in_8bit: true,
        bnb_4bit_quant_type: null,
        bnb_4bit_use_double_quant: false,
        bnb_4bit_compute_dtype: null,
        bnb_4bit_quant_storage: null,
      };
  }
}
