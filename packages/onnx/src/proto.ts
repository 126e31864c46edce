/**
 * The ONNX schema as protobufjs static classes, generated from onnx 1.12's `onnx.proto` (proto/onnx.proto) by
 * protobufjs-cli 2.7.1:
 *   pbjs -t static-module -w es6 --no-verify --no-delimited --no-service -o src/generated/onnx.js proto/onnx.proto
 *   pbts -o src/generated/onnx.d.ts src/generated/onnx.js
 * Committed so neither install nor run needs the generator.
 */
export { onnx } from './generated/onnx.js';
