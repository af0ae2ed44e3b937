// The one error kind for unreadable, malformed or mismatched checkpoints; messages name the file and the tensor.

export class CheckpointError extends Error {
  override name = 'CheckpointError';
}
