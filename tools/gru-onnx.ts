/**
 * The repository's `pnpm gru-onnx …` (and `pnpm demo`, `pnpm bench`): the CLI from its sources, run where the
 * user typed the command. pnpm runs root scripts in the repository root and records the caller's directory in
 * INIT_CWD; relative paths then mean what the user meant, as they do with the installed `gru-onnx` bin.
 * Only this script moves: a user's own npm script that runs the installed bin keeps npm's (package-root) cwd.
 */
const from = process.env.INIT_CWD;
if (from) process.chdir(from);
await import('../packages/cli/src/bin.ts');
