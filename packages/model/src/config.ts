/** Sizes of the seed's `MyModel(input_size, hidden_size, output_size)`. */
export interface ModelConfig {
  inputSize: number;
  hiddenSize: number;
  outputSize: number;
}

/** The seed article's hyperparameters (`input_size = 8`, `hidden_size = 16`, `output_size = 4`). */
export const SEED_CONFIG: Readonly<ModelConfig> = Object.freeze({ inputSize: 8, hiddenSize: 16, outputSize: 4 });

/** The seed's training recipe; every field is a `train` option. */
export interface TrainConfig {
  samples: number;
  seqLen: number;
  epochs: number;
  lr: number;
  /** 0 means full batch, as the seed does. */
  batchSize: number;
  seed: number;
}

export const SEED_TRAIN: Readonly<TrainConfig> = Object.freeze({
  samples: 1000,
  seqLen: 10,
  epochs: 20,
  lr: 1e-3,
  batchSize: 0,
  seed: 0,
});
