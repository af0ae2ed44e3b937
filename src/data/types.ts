// Shapes of data as it flows from files to the model.

/** One row of a dataset as read from a file (before tokenization). */
export interface Example {
  textA: string;
  /** absent for single-sentence tasks */
  textB?: string;
  /** label string as written in the file (a number for regression); absent for unlabeled (prediction) files */
  label?: string;
  /** multi-label data: every label of the example (a JSON array, or a column split by labelSep) */
  labels?: string[];
  /** the row's id where the file has one (GLUE's `index` column of test files), for submission files */
  id?: string;
  /** 1-based line number in the source file, for error messages */
  line: number;
  /** the file the example was read from, for error messages */
  source?: string;
}

/** An example after tokenization and pair encoding (no padding). */
export interface EncodedExample {
  inputIds: Int32Array;
  tokenTypeIds: Int32Array;
  /** index into the label list, or -1 when unlabeled (and for regression / multi-label examples) */
  label: number;
  /** regression: [value]; multi-label: multi-hot [num_labels]; absent for single-label or unlabeled examples */
  target?: Float32Array;
  /** position of the example in its dataset (input order) */
  index: number;
}

/** A padded batch, row-major [size, seqLen]. Padding positions hold the [PAD] id and token type 0. */
export interface Batch {
  size: number;
  seqLen: number;
  inputIds: Int32Array;
  tokenTypeIds: Int32Array;
  /** number of real tokens per row [size] */
  validLength: Int32Array;
  /** label index per row [size] (-1 when unlabeled) */
  labels: Int32Array;
  /** regression / multi-label targets [size, T] (T = 1 or num_labels), when the examples have them */
  targets?: Float32Array;
  /** dataset index of each row [size] */
  indices: Int32Array;
}
