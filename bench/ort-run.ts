// Running a bertfit ONNX export in onnxruntime-node (a dev dependency: the benches and tests that check exports).
import ort from 'onnxruntime-node';
import { onnxFeeds } from '../src/export/feeds.js';
import type { Encoding } from '../src/tokenizer/pair.js';

/** onnxFeeds(encs) as onnxruntime tensors, by input name. */
export function ortInputs(encs: readonly Encoding[]): Record<keyof ReturnType<typeof onnxFeeds>, ort.Tensor> {
  const f = onnxFeeds(encs);
  const t = (x: typeof f.input_ids): ort.Tensor => new ort.Tensor('int64', x.data, x.dims);
  return { input_ids: t(f.input_ids), attention_mask: t(f.attention_mask), token_type_ids: t(f.token_type_ids) };
}

/**
 * Logits of one padded batch, as transformers.js feeds it (attention_mask 0 on padding).
 *
 * Args: session: an InferenceSession on model.onnx or model_quantized.onnx; encs: B encodings.
 * Returns: logits [B, C] row-major, and their dims.
 */
export async function ortLogits(session: ort.InferenceSession, encs: readonly Encoding[]): Promise<{ data: Float32Array; dims: readonly number[] }> {
  const out = await session.run(ortInputs(encs));
  return { data: out.logits!.data as Float32Array, dims: out.logits!.dims };
}
