import { describePytorchImports } from './imports-pytorch.ts';

// Split from the bidirectional ones so each file stays well under a minute on a loaded 2-core machine.
describePytorchImports(['l1-uni-bf', 'l2-uni-tf']);
