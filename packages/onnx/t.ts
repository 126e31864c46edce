import { onnx } from './packages/onnx/src/proto.ts';
const m = onnx.ModelProto.create({ irVersion: 8, producerName: 'x' });
const b = onnx.ModelProto.encode(m).finish();
console.log(b.length, onnx.ModelProto.decode(b).producerName);
