import { describePytorchImports } from './imports-pytorch.ts';

describePytorchImports(['l1-bi-tf', 'l2-bi-bf', 'l3-bi-tf']);
