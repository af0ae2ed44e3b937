// `bertfit export`: a fine-tuned classifier as ONNX in Optimum's / transformers.js's directory layout (onnx/model.onnx,
// optionally onnx/model_quantized.onnx, config.json and the tokenizer files). Flags -> exportModel() (src/api/export.ts).
import path from 'node:path';
import { Option, type Command } from 'commander';
import { QUANTIZE_MODES, exportModel, type QuantizeMode } from '../../api/export.js';
import { DEFAULT_OPSET, MAX_OPSET, MIN_OPSET } from '../../export/bert-graph.js';
import { numberFlag } from '../data-options.js';

interface ExportFlags {
  model: string;
  out: string;
  quantize: QuantizeMode;
  opset: string;
  maxLen?: string;
}

export function register(program: Command): void {
  program
    .command('export')
    .description('export a fine-tuned classifier to ONNX in the layout of Optimum and transformers.js: onnx/model.onnx ' +
      '(inputs input_ids, attention_mask, token_type_ids; output logits), config.json, vocab.txt and tokenizer.json')
    .requiredOption('--model <spec>', 'fine-tuned checkpoint directory (or any --model spec finetune takes)')
    .requiredOption('--out <dir>', 'directory to write (created; an existing one keeps its other files)')
    .addOption(new Option('--quantize <mode>', 'int8: also write onnx/model_quantized.onnx (dynamic int8 encoder linears)')
      .choices([...QUANTIZE_MODES]).default('none'))
    .option('--opset <n>', `ONNX opset version, ${MIN_OPSET} to ${MAX_OPSET}`, String(DEFAULT_OPSET))
    .option('--max-len <n>', "the tokenizer's model_max_length (default: the model's max_position_embeddings)")
    .action(async (f: ExportFlags) => {
      const r = await exportModel({
        model: f.model, out: f.out, quantize: f.quantize, opset: numberFlag('opset', f.opset), maxLen: numberFlag('max-len', f.maxLen),
      });
      for (const n of r.notices) console.error(`note: ${n}`);
      for (const file of r.files) console.log(path.join(r.dir, file));
      if (r.quantized.length) console.error(`int8: ${r.quantized.length} linear layers quantized (pooler and classifier stay float32)`);
    });
}
