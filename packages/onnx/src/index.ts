export * from './proto.ts';
