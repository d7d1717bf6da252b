/**
 * `import.meta.env.TEST_BUILD`: true in the test build only, `vite build --mode e2e` (written to dist-e2e/, what
 * `npm run test:e2e` serves); vite.config.ts defines it from the mode. Only that build has the end-to-end tests'
 * hooks: `window.__peftStudio` and `window.__peftSelfTest` (src/ui/test-hooks.ts) and the worker's
 * `{ kind: 'tiny' }` model spec (src/worker/model-spec.ts, which imports tests/fixtures/tiny-models.ts).
 *
 * Vite writes the value into the code as a literal before bundling, so in any other build every
 * `if (import.meta.env.TEST_BUILD)` branch is dead: the bundler drops it, with the modules only it imports.
 * The flag must be read at each use site; a constant exported from a module would not remove a dynamic import.
 * scripts/check-bundle.mjs checks that the production dist/ holds none of it.
 */
interface ImportMetaEnv {
  readonly TEST_BUILD: boolean;
}
