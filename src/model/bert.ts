// BERT for sequence(-pair) classification (transformers' BertForSequenceClassification), forward and backward
// by hand on the native core:
//
//   x0     = dropout(LayerNorm(word[ids] + position[s] + token_type[tt]))         embeddings
//   x_l+1  = EncoderLayer_l(x_l)  for l < L                                       post-LN transformer layers
//   pooled = tanh(x_L[:, 0] Wp^T + bp)                                            pooler on [CLS]
//   logits = dropout(pooled) Wc^T + bc                                            classifier
//   loss   = mean cross-entropy(logits, labels)
//
// Parameters live in one flat Float32Array and their gradients in another of the same layout (./params.ts).
// Activations are preallocated and reused across steps (./activations.ts); dropout masks are a function of
// (seed, step) and are regenerated in backward, never stored (./dropout.ts). setComputeType('bf16') runs every GEMM
// on bf16 operands with fp32 accumulation; the rest, parameters and gradients included, stays fp32 (./mixed.ts).
import { native } from '../native/index.js';
import type { Batch } from '../data/types.js';
import { Activations, type Bound } from './activations.js';
import { type CheckpointTensors, type HeadOptions, labelledConfig, loadIntoParams, paramsForSaving } from './classifier.js';
import { type BertConfig, type ProblemType, geluKind, problemTypeOf } from './config.js';
import { type DropoutPlan, type RowSlice, dropoutPlan } from './dropout.js';
import { initParams } from './init.js';
import { Bf16Operands, type ComputeType, FP32, type Operands } from './mixed.js';
import { embeddingsBackward, embeddingsForward } from './layers/embeddings.js';
import { type LayerDims, layerBackward, layerForward } from './layers/encoder_layer.js';
import { headBackward, headForward } from './layers/head.js';
import { type ModelViews, ParamLayout, type ParamTensor } from './params.js';
import { saveCheckpoint } from './checkpoint/index.js';

export interface ForwardOptions {
  /** dropout on (training) or off (evaluation) */
  train: boolean;
  /** dropout masks are a function of (seed, step); both required when train is true */
  seed?: number;
  step?: number;
  /** keep the activations backward needs (default: train); grad with train=false = gradients without dropout */
  grad?: boolean;
  /**
   * the batch is rows [start, start + size) of a global batch of `total` rows padded to the same seqLen (a
   * data-parallel rank's shard): dropout masks are then those these rows get in the global batch (default: the
   * batch is the whole batch)
   */
  rows?: RowSlice;
}

interface LastForward {
  bound: Bound;
  plan: DropoutPlan;
  /** the GEMM operands of that forward; backward multiplies with the same (bf16: the same rounded weights) */
  ops: Operands;
  keep: boolean;
  /** loss() ran since this forward and backward has not consumed it yet */
  lossReady: boolean;
}

export class BertClassifier {
  readonly layout: ParamLayout;
  readonly params: Float32Array;
  readonly grads: Float32Array;
  /** every parameter tensor: canonical name, shape, offset into params/grads, size, weight-decay flag */
  readonly tensors: ParamTensor[];
  /** messages for the user from construction (e.g. which heads a checkpoint lacked and were initialised) */
  readonly notices: string[] = [];
  /** tensors fromCheckpoint initialised because the checkpoint lacked them (e.g. a new classifier head) */
  readonly newTensors: string[] = [];
  private readonly P: ModelViews;
  private readonly G: ModelViews;
  private readonly acts: Activations;
  private readonly dims: Omit<LayerDims, 'B' | 'S'>;
  private readonly zerosF: Float32Array;
  private ops: Operands = FP32;
  private last: LastForward | null = null;
  private frozenWeights = false;
  private weightsRounded = false;

  /** A model with all parameters zero; use random() or fromCheckpoint(). */
  constructor(readonly config: BertConfig) {
    this.layout = new ParamLayout(config);
    this.params = new Float32Array(this.layout.size);
    this.grads = new Float32Array(this.layout.size);
    this.tensors = this.layout.tensors;
    this.P = this.layout.views(this.params);
    this.G = this.layout.views(this.grads);
    this.acts = new Activations(config);
    this.dims = {
      H: config.hidden_size, NH: config.num_attention_heads, F: config.intermediate_size,
      eps: config.layer_norm_eps, gelu: geluKind(config.hidden_act),
    };
    this.zerosF = new Float32Array(config.intermediate_size);
  }

  /** Bytes of activation memory allocated so far (bf16: with the weight copy and operand scratch). */
  get activationBytes(): number {
    return this.acts.bytes + (this.ops instanceof Bf16Operands ? this.ops.bytes : 0);
  }

  /** BERT initialisation: matrices ~ N(0, initializer_range), biases 0, LayerNorm 1 / 0. */
  static random(config: BertConfig, seed: number): BertClassifier {
    const m = new BertClassifier(config);
    initParams(m.layout.tensors, m.params, config.initializer_range, seed);
    return m;
  }

  /**
   * The model of a loaded checkpoint. Pooler/classifier tensors the checkpoint lacks are initialised from opts.seed
   * (listed in .notices). numLabels / id2label set the classes; they must agree with an existing classifier.
   */
  static fromCheckpoint(ck: CheckpointTensors, opts: HeadOptions): BertClassifier {
    const m = new BertClassifier(labelledConfig(ck, opts));
    const { fresh, notices } = loadIntoParams(m.layout, m.params, ck, opts.seed);
    m.newTensors.push(...fresh);
    m.notices.push(...notices);
    return m;
  }

  /** View of parameter `name` (canonical transformers name) inside params. */
  tensor(name: string): Float32Array {
    return this.layout.view(this.params, name);
  }

  /** View of the gradient of parameter `name` inside grads. */
  grad(name: string): Float32Array {
    return this.layout.view(this.grads, name);
  }

  /** The GEMM compute type (setComputeType). */
  get computeType(): ComputeType {
    return this.ops.type;
  }

  /**
   * GEMM compute type: 'fp32', or 'bf16' (GEMM inputs rounded to bf16, fp32 accumulation; parameters, gradients,
   * optimizer state and every non-GEMM op stay fp32). Takes effect at the next forward.
   */
  setComputeType(t: ComputeType): void {
    if (t === 'fp32') {
      this.ops = FP32;
    } else if (t === 'bf16') {
      if (!(this.ops instanceof Bf16Operands)) {
        this.ops = new Bf16Operands(this.params, this.tensors);
        this.weightsRounded = false;
      }
    } else {
      throw new RangeError(`setComputeType: compute type must be 'fp32' or 'bf16', got ${JSON.stringify(t)}`);
    }
  }

  /**
   * Promises that params will not change any more (an inference-only model): bf16 forward passes then round the
   * weights once instead of at every pass. Changing params afterwards gives stale bf16 weights.
   */
  freezeWeights(): void {
    this.frozenWeights = true;
  }

  zeroGrad(): void {
    this.grads.fill(0);
  }

  /**
   * Runs the network on a padded batch.
   *
   * Args:
   *   batch: ids [B, S], token types [B, S], validLength [B] (1..S; later positions are padding and masked)
   *   opts: train (dropout) with seed/step; grad keeps what backward() needs
   * Returns:
   *   logits [B, C], a view valid until the next forward.
   */
  forward(batch: Batch, opts: ForwardOptions): Float32Array {
    return runSteps(this.forwardSteps(batch, opts));
  }

  /**
   * forward() one layer at a time: the generator yields after the embeddings and after each encoder layer and
   * returns the logits. A caller that must stay responsive (the trainer, which stops on Ctrl-C within a step) runs
   * it in slices; abandoning it part-way leaves the parameters untouched.
   */
  *forwardSteps(batch: Batch, opts: ForwardOptions): Generator<void, Float32Array> {
    const { size: B, seqLen: S } = batch;
    this.checkBatch(batch);
    let seed = 0;
    let step = 0;
    if (opts.train) {
      if (opts.seed === undefined || opts.step === undefined) {
        throw new TypeError('forward: train mode needs seed and step (they determine the dropout masks)');
      }
      seed = opts.seed;
      step = opts.step;
    }
    const keep = opts.grad ?? opts.train;
    const ops = this.ops;
    // The optimizer may have changed params since the last forward: round the weights once for this pass (once
    // for good when the weights are frozen: an inference-only model whose params never change).
    if (ops instanceof Bf16Operands && !(this.frozenWeights && this.weightsRounded)) {
      ops.weights.refresh();
      this.weightsRounded = true;
    }
    const a = this.acts.bind(B, S, keep ? ops.type : 'none');
    const plan = dropoutPlan(this.config, B, S, opts.train, seed, step, opts.rows);
    const d: LayerDims = { ...this.dims, B, S };
    const N = B * S;
    a.emb.ids.set(batch.inputIds.subarray(0, N));
    a.emb.typeIds.set(batch.tokenTypeIds.subarray(0, N));

    embeddingsForward(a.emb, this.P, N, d.H, d.eps, plan.emb);
    yield;
    for (let l = 0; l < a.layers.length; l++) {
      layerForward(a.layers[l], this.P.layers[l], a.scratch, batch.validLength, d, plan.layers[l], ops);
      yield;
    }
    const hidden = a.layers[a.layers.length - 1].out;
    headForward(a.head, this.P, hidden, B, S, d.H, this.config.num_labels, plan.cls, ops);
    this.last = { bound: a, plan, ops, keep, lossReady: false };
    return a.head.logits;
  }

  /** Which loss trains the head: the config's problem_type (transformers' rule when it has none). */
  get problemType(): ProblemType {
    return problemTypeOf(this.config);
  }

  /**
   * The loss of the last forward's logits, by problem type (as transformers' BertForSequenceClassification):
   *   single_label_classification: mean softmax cross-entropy over the batch;
   *   regression: mean squared error over all [B, C] outputs (MSELoss);
   *   multi_label_classification: mean binary cross-entropy with logits over all [B, C] (BCEWithLogitsLoss).
   * Keeps what backward needs.
   *
   * Args:
   *   labels: [B] class indices in [0, C) (single-label)
   *   targets: [B, C] values (regression) or 0/1 (multi-label); required for those problem types
   */
  loss(labels: Int32Array, targets?: Float32Array): number {
    const last = this.requireForward('loss');
    const { B } = last.bound;
    const C = this.config.num_labels;
    const h = last.bound.head;
    const problem = this.problemType;
    let value: number;
    if (problem === 'single_label_classification') {
      if (labels.length < B) throw new RangeError(`loss: labels has ${labels.length} entries, the batch has ${B} rows`);
      for (let i = 0; i < B; i++) {
        if (!(labels[i] >= 0 && labels[i] < C)) throw new RangeError(`loss: labels[${i}] = ${labels[i]} is not a class in [0, ${C})`);
      }
      h.labels.set(labels.subarray(0, B));
      value = native.crossEntropyForward(h.logits, h.labels, h.probs, B, C);
    } else {
      if (!targets || targets.length < B * C) {
        throw new RangeError(`loss: a ${problem} model needs targets [${B}, ${C}], got ${targets ? targets.length : 'none'}`);
      }
      // d loss / d logits (unscaled) goes to h.probs, which backward scales into dlogits
      value = problem === 'regression' ? mseLoss(h.logits, targets, h.probs, B * C) : bceWithLogitsLoss(h.logits, targets, h.probs, B * C);
    }
    last.lossReady = true;
    return value;
  }

  /** Accumulates d(scale * loss)/d(params) into grads (call zeroGrad() between optimizer steps). */
  backward(scale = 1): void {
    runSteps(this.backwardSteps(scale));
  }

  /**
   * backward() one layer at a time (see forwardSteps). Abandoning it part-way leaves the gradients partial: zero them
   * (zeroGrad) before the next accumulation.
   */
  *backwardSteps(scale = 1): Generator<void, void> {
    const last = this.requireForward('backward');
    if (!last.keep) throw new Error('backward: the last forward kept no activations (use train: true or grad: true)');
    if (!last.lossReady) throw new Error('backward: call loss(labels) after forward (once per backward)');
    last.lossReady = false;
    const { bound: a, plan, ops } = last;
    const { B, S } = a;
    const C = this.config.num_labels;
    const d: LayerDims = { ...this.dims, B, S };
    const sc = a.scratch;
    const L = a.layers.length;
    if (this.problemType === 'single_label_classification') {
      native.crossEntropyBackward(a.head.probs, a.head.labels, sc.dlogits, B, C, scale);
    } else {
      for (let i = 0; i < B * C; i++) sc.dlogits[i] = scale * a.head.probs[i]!;
    }
    // d hidden (zero but for the [CLS] rows) -> sc.g, which then flows down the layers
    headBackward(sc.g, sc.dlogits, sc.dpool, a.head, this.P, this.G, a.layers[L - 1].out, B, S, d.H, C, plan.cls, ops);
    yield;
    for (let l = L - 1; l >= 0; l--) {
      layerBackward(a.layers[l], this.P.layers[l], this.G.layers[l], sc, this.zerosF, d, plan.layers[l], ops);
      yield;
    }
    embeddingsBackward(sc.g, sc.t1, a.emb, this.P, this.G, B * S, d.H, plan.emb);
  }

  /** Writes the model as a transformers-compatible checkpoint directory (config, weights, vocab). */
  save(dir: string, vocabText: string, doLowerCase: boolean, extraFiles?: Record<string, Buffer | string>): void {
    saveCheckpoint(dir, { config: this.config, tensors: paramsForSaving(this.layout, this.params), vocabText, doLowerCase, extraFiles });
  }

  private requireForward(what: string): LastForward {
    if (!this.last) throw new Error(`${what}: no forward pass yet`);
    return this.last;
  }

  private checkBatch(batch: Batch): void {
    const { size: B, seqLen: S } = batch;
    if (!(Number.isInteger(B) && B >= 1)) throw new RangeError(`forward: batch.size must be a positive integer, got ${B}`);
    if (!(Number.isInteger(S) && S >= 1)) throw new RangeError(`forward: batch.seqLen must be a positive integer, got ${S}`);
    const P = this.config.max_position_embeddings;
    if (S > P) throw new RangeError(`forward: batch.seqLen ${S} exceeds the model's max_position_embeddings ${P}`);
    const N = B * S;
    if (batch.inputIds.length < N) throw new RangeError(`forward: batch.inputIds has ${batch.inputIds.length} entries, needs ${N}`);
    if (batch.tokenTypeIds.length < N) throw new RangeError(`forward: batch.tokenTypeIds has ${batch.tokenTypeIds.length} entries, needs ${N}`);
    if (batch.validLength.length < B) throw new RangeError(`forward: batch.validLength has ${batch.validLength.length} entries, needs ${B}`);
    for (let b = 0; b < B; b++) {
      const v = batch.validLength[b];
      if (!(v >= 1 && v <= S)) throw new RangeError(`forward: batch.validLength[${b}] = ${v} is outside [1, ${S}]`);
    }
  }
}

/** Runs a step generator of BertClassifier to its end, synchronously; returns what it returns. */
function runSteps<T>(g: Generator<void, T>): T {
  for (;;) {
    const r = g.next();
    if (r.done) return r.value;
  }
}

/**
 * Mean squared error over n outputs, in float64; writes d loss / d x = 2 (x - y) / n into dx.
 *
 * Args: x: [n] predictions;  y: [n] targets;  dx: [n] out
 */
export function mseLoss(x: Float32Array, y: Float32Array, dx: Float32Array, n: number): number {
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const d = x[i]! - y[i]!;
    sum += d * d;
    dx[i] = (2 * d) / n;
  }
  return sum / n;
}

/**
 * Mean binary cross-entropy of sigmoid(x) against y over n outputs, the stable form of BCEWithLogitsLoss
 * (max(x, 0) - x y + log(1 + exp(-|x|))); writes d loss / d x = (sigmoid(x) - y) / n into dx.
 *
 * Args: x: [n] logits;  y: [n] targets in [0, 1];  dx: [n] out
 */
export function bceWithLogitsLoss(x: Float32Array, y: Float32Array, dx: Float32Array, n: number): number {
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const xi = x[i]!, yi = y[i]!;
    sum += Math.max(xi, 0) - xi * yi + Math.log1p(Math.exp(-Math.abs(xi)));
    dx[i] = (1 / (1 + Math.exp(-xi)) - yi) / n;
  }
  return sum / n;
}
